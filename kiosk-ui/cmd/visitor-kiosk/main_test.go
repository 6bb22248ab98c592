package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/printq"
	"github.com/theonestack/visitor/internal/testenv"
	"github.com/theonestack/visitor/kiosk-ui/screens"
	"github.com/theonestack/visitor/pairing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // names the variable
		check   func(config) bool
	}{
		{"defaults", nil, nil, "", func(c config) bool {
			return c.Engine.DataDir == edge.DefaultDataDir && c.Idle == 60*time.Second && !c.Fullscreen
		}},
		{"systemd unit", []string{"--fullscreen", "--data", "/var/lib/visitor-kiosk"}, nil, "", func(c config) bool {
			return c.Fullscreen && c.Engine.DataDir == "/var/lib/visitor-kiosk"
		}},
		{"environment", nil, map[string]string{"VISITOR_EDGE_DATA": "/d", "VISITOR_CLOUD_URL": "https://c.example", "VISITOR_KIOSK_IDLE": "90s"}, "", func(c config) bool {
			return c.Engine.DataDir == "/d" && c.Engine.CloudURL == "https://c.example" && c.Idle == 90*time.Second
		}},
		{"flag wins", []string{"--idle", "30s"}, map[string]string{"VISITOR_KIOSK_IDLE": "90s"}, "", func(c config) bool { return c.Idle == 30*time.Second }},
		{"bad cloud", nil, map[string]string{"VISITOR_CLOUD_URL": "ftp://x"}, "VISITOR_CLOUD_URL", nil},
		{"bad idle", []string{"--idle", "1s"}, nil, "VISITOR_KIOSK_IDLE", nil},
		{"bad PIN", nil, map[string]string{"VISITOR_KIOSK_PIN": "12ab"}, "VISITOR_KIOSK_PIN", nil},
		{"empty data", []string{"--data", ""}, nil, "VISITOR_EDGE_DATA", nil},
		{"stray argument", []string{"now"}, nil, "unexpected argument", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseConfig(tt.args, env(tt.env), &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || edge.ExitCode(err) != 2 {
					t.Fatalf("err %v (exit %d); want one naming %s, exit 2", err, edge.ExitCode(err), tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("config %+v, err %v", c, err)
			}
		})
	}
}

func TestPIN(t *testing.T) {
	h := hashPIN("2468")
	if !checkPIN(h, "2468") || checkPIN(h, "2469") || checkPIN(nil, "") || checkPIN(hashPIN(""), "") {
		t.Fatal("PIN check is wrong")
	}
}

// screenshotDir is where display tests write their screenshots.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("VISITOR_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "visitor-screens")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAppStartsOnDisplay builds the real visitor-kiosk binary, starts it on
// the X display and has it write a screenshot of its first screen.
func TestAppStartsOnDisplay(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		testenv.Need(t, "a display", "run under xvfb-run")
	}
	bin := filepath.Join(t.TempDir(), "visitor-kiosk")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// A paired kiosk opens on the welcome screen.
	data := t.TempDir()
	e, err := edge.Open(context.Background(), edge.Config{DataDir: data, CloudURL: "http://127.0.0.1:1", LocalAPIAddr: "127.0.0.1:0"}, edge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, err := pairing.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{5}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Provision(context.Background(), "dev_x", "org_x", "loc_x", priv); err != nil {
		t.Fatal(err)
	}
	e.Close()
	shot := filepath.Join(screenshotDir(t), "welcome.png")
	_ = os.Remove(shot)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--data", data, "--cloud", "http://127.0.0.1:1", "--screenshot", shot)
	cmd.Env = append(os.Environ(), "VISITOR_KIOSK_PIN=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("visitor-kiosk: %v\n%s", err, out)
	}
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// Not blank: a rendered screen has light background and dark text.
	bounds := img.Bounds()
	light, dark := 0, 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 4 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 4 {
			r, g, bb, _ := img.At(x, y).RGBA()
			switch l := (r + g + bb) / 3; {
			case l > 0xd000:
				light++
			case l < 0xa000: // text, buttons
				dark++
			}
		}
	}
	if bounds.Dx() < 400 || light == 0 || dark == 0 {
		t.Errorf("screenshot %v has %d light and %d dark samples; want a rendered screen", bounds, light, dark)
	}
	t.Logf("screenshot of the first screen: %s", shot)
}

// BenchmarkKioskCheckinToBadge measures tap Confirm → visit committed →
// badge rendered and queued, through the real screens, adapter and engine
// (SQLite with synchronous=FULL), and reports the p50 and the p99.
func BenchmarkKioskCheckinToBadge(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	e, err := edge.Open(ctx, edge.Config{DataDir: dir, CloudURL: "http://127.0.0.1:1", LocalAPIAddr: "127.0.0.1:0"},
		edge.Options{PrintBadges: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	_, priv, err := pairing.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{3}, 32)))
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Provision(ctx, "dev_bench", "org_bench", "loc_bench", priv); err != nil {
		b.Fatal(err)
	}
	test.NewTempApp(b)
	win := test.NewTempWindow(b, nil)
	ad := newAdapter(e, nil)
	k := screens.New(win, ad, screens.Options{AfterFunc: func(time.Duration, func()) func() bool { return func() bool { return true } }})
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		k.Home(ctx)
		test.Tap(k.Welcome.CheckIn)
		k.CheckIn.Name.SetText("Grace Hopper")
		k.CheckIn.Company.SetText("Navy")
		b.StartTimer()
		start := time.Now()
		test.Tap(k.CheckIn.Confirm)
		lat = append(lat, time.Since(start))
		if k.Current() != screens.ScreenConfirm {
			b.Fatalf("check-in %d did not reach the confirmation: %q", i, k.CheckIn.Error.Text)
		}
	}
	b.StopTimer()
	var queued int
	if err := e.Store().Read().QueryRow(`SELECT count(*) FROM print_jobs WHERE status = ?`, printq.StateQueued).Scan(&queued); err != nil {
		b.Fatal(err)
	}
	if queued != len(lat) {
		b.Fatalf("%d badges queued for %d check-ins", queued, len(lat))
	}
	slices.Sort(lat)
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
}
