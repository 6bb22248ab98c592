package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe for the demo's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// buildBinaries builds the headless system (no Fyne kiosk) into a temp dir.
func buildBinaries(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the demo's binaries: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "build", "-o", dir+string(filepath.Separator),
		"./cloud/cmd/visitor-cloud", "./cloud/cmd/visitor-devhub", "./edge/cmd/visitor-edge")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// running is one background run of the demo.
type running struct {
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer
	errs   *syncBuffer
	state  state
}

// startDemo runs the demo in the background and waits until it is ready
// (its demo.json exists) or fails.
func startDemo(t *testing.T, args []string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}, errs: &syncBuffer{}}
	go func() { r.done <- run(ctx, args, os.Getenv, r.out, r.errs) }()
	t.Cleanup(func() { r.stop(t) })
	dataDir := args[1]
	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("the demo ended before it was ready: %v\nstderr:\n%s", err, r.errs.String())
		case <-deadline:
			t.Fatalf("the demo was not ready within 90 s\nstderr:\n%s", r.errs.String())
		case <-tick.C:
		}
		b, err := os.ReadFile(filepath.Join(dataDir, stateFile))
		if err != nil {
			continue
		}
		if err := json.Unmarshal(b, &r.state); err != nil {
			t.Fatalf("demo.json: %v", err)
		}
		return r
	}
}

// stop cancels the run (Ctrl-C) and checks that it ends cleanly with every
// child gone.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("the demo ended with %v\nstderr:\n%s", err, r.errs.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("the demo did not stop within 45 s\nstderr:\n%s", r.errs.String())
	}
	if strings.Contains(r.errs.String(), "killed") {
		t.Errorf("a child needed SIGKILL:\n%s", r.errs.String())
	}
	for name, pid := range r.state.PIDs {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after the demo stopped: %v", name, pid, err)
		}
	}
}

func TestDemoHeadless(t *testing.T) {
	bin := buildBinaries(t)
	data := filepath.Join(t.TempDir(), "demo")
	hubAddr, cloudAddr, kioskAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	args := []string{"--data", data, "--bin", bin, "--kiosk", "headless", "--public-host", "127.0.0.1",
		"--hub-addr", hubAddr, "--cloud-addr", cloudAddr, "--kiosk-addr", kioskAddr, "--stop-timeout", "15s", "--pair-manually=false"}
	ctx := context.Background()
	plain := &http.Client{Timeout: 10 * time.Second}

	first := startDemo(t, args)
	st := first.state
	if st.Kiosk != kioskHeadless || !st.Paired || st.KioskAPI != "http://"+kioskAddr || st.Tenant != demoTenant {
		t.Fatalf("state = %+v, want a paired headless kiosk at %s in %s", st, kioskAddr, demoTenant)
	}
	for _, want := range []string{"http://127.0.0.1:" + port(cloudAddr) + "/", "u_admin", "u_reception", "ACMEGST2", "Ctrl-C"} {
		if !strings.Contains(first.out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, first.out.String())
		}
	}

	// Sign in through the development Hub as u_admin, like a browser.
	api := &apiClient{base: strings.TrimSuffix(st.ConsoleURL, "/"), hc: newSessionClient()}
	if err := signIn(ctx, api.hc, api.base, demoAdmin); err != nil {
		t.Fatal(err)
	}
	var me struct {
		User   struct{ ID string }
		Tenant struct{ ID string }
	}
	if err := api.call(ctx, http.MethodGet, "/api/v1/me", nil, &me); err != nil {
		t.Fatal(err)
	}
	if me.User.ID != demoAdmin || me.Tenant.ID != demoTenant {
		t.Fatalf("me = %+v, want %s in %s", me, demoAdmin, demoTenant)
	}
	before := countSeed(t, api)
	want := seedCounts{locations: 2, hosts: 12, preregs: 4, displays: 1}
	if before != want {
		t.Fatalf("after the first run the tenant has %+v, want %+v", before, want)
	}

	// Check a visitor in at the kiosk's local API; the cloud sees it.
	var hosts struct{ Hosts []apiHost }
	if err := call(ctx, plain, http.MethodGet, st.KioskAPI+"/v1/hosts?q=ada", nil, &hosts); err != nil || len(hosts.Hosts) == 0 {
		t.Fatalf("kiosk hosts: %v %+v", err, hosts)
	}
	var visit struct {
		VisitID     string `json:"visit_id"`
		BadgeNumber string `json:"badge_number"`
	}
	checkin := map[string]string{"name": "Grace Hopper", "email": "grace@example.com", "company": "Navy", "host_id": hosts.Hosts[0].ID}
	if err := call(ctx, plain, http.MethodPost, st.KioskAPI+"/v1/checkins", checkin, &visit); err != nil {
		t.Fatal(err)
	}
	if visit.VisitID == "" || visit.BadgeNumber == "" {
		t.Fatalf("check-in = %+v, want a visit id and a seeded badge", visit)
	}
	waitOnSite(t, api, visit.VisitID)
	first.stop(t)
	if _, err := os.Stat(filepath.Join(data, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("demo.json outlived the demo: %v", err)
	}
	for _, a := range []string{hubAddr, cloudAddr, kioskAddr} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the demo stopped", a)
		}
	}

	// A second run on the same data reuses everything: same kiosk, no new
	// seed data, the visit still on site.
	second := startDemo(t, args)
	if second.state.PIDs["visitor-edge"] == 0 || !second.state.Paired || second.state.LocationID != st.LocationID {
		t.Fatalf("second state = %+v, want the same paired kiosk at %s", second.state, st.LocationID)
	}
	if !strings.Contains(second.errs.String(), "kiosk already paired") {
		t.Errorf("the second run paired the kiosk again:\n%s", second.errs.String())
	}
	api = &apiClient{base: api.base, hc: newSessionClient()}
	if err := signIn(ctx, api.hc, api.base, demoAdmin); err != nil {
		t.Fatal(err)
	}
	if after := countSeed(t, api); after != before {
		t.Errorf("after the second run the tenant has %+v, want %+v (no duplicates)", after, before)
	}
	for _, kind := range []string{"2 locations (0 new)", "12 hosts (0 new)", "4 pre-registrations (0 new)", "12 badges (0 new)"} {
		if !strings.Contains(second.out.String(), kind) {
			t.Errorf("second banner lacks %q", kind)
		}
	}
	waitOnSite(t, api, visit.VisitID)
	second.stop(t)
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

type seedCounts struct{ locations, hosts, preregs, displays int }

func countSeed(t *testing.T, api *apiClient) seedCounts {
	t.Helper()
	ctx := context.Background()
	locs, err := listAll[apiLocation](ctx, api, "/api/v1/locations", "locations")
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := listAll[apiHost](ctx, api, "/api/v1/hosts", "hosts")
	if err != nil {
		t.Fatal(err)
	}
	preregs, err := listAll[apiPrereg](ctx, api, "/api/v1/preregistrations", "preregistrations")
	if err != nil {
		t.Fatal(err)
	}
	displays, err := listAll[json.RawMessage](ctx, api, "/api/v1/displays", "displays")
	if err != nil {
		t.Fatal(err)
	}
	return seedCounts{len(locs), len(hosts), len(preregs), len(displays)}
}

// waitOnSite polls the cloud's on-site list until the visit is on it.
func waitOnSite(t *testing.T, api *apiClient, visitID string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var page struct {
			Visits []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
				Source string `json:"source"`
			} `json:"visits"`
		}
		if err := api.call(context.Background(), http.MethodGet, "/api/v1/visits?status=on_site", nil, &page); err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Visits {
			if v.ID == visitID {
				if v.Status != "checked_in" || v.Source != "kiosk" {
					t.Fatalf("visit %s in the cloud: status %q source %q, want checked_in from the kiosk", visitID, v.Status, v.Source)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("visit %s is not on site in the cloud within 15 s: %+v", visitID, page.Visits)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDemoPairManually(t *testing.T) {
	bin := buildBinaries(t)
	data := filepath.Join(t.TempDir(), "demo")
	kioskAddr := freeAddr(t)
	r := startDemo(t, []string{"--data", data, "--bin", bin, "--kiosk", "headless", "--public-host", "127.0.0.1",
		"--hub-addr", freeAddr(t), "--cloud-addr", freeAddr(t), "--kiosk-addr", kioskAddr, "--pair-manually"})
	if r.state.Paired {
		t.Errorf("state says paired with --pair-manually: %+v", r.state)
	}
	var st kioskStatus
	if err := call(context.Background(), &http.Client{Timeout: 5 * time.Second}, http.MethodGet, "http://"+kioskAddr+"/v1/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Paired {
		t.Error("the kiosk is paired although --pair-manually was given")
	}
	out := r.out.String()
	for _, want := range []string{"NOT paired", "/pair", "█"} { // the code, where to approve it, the QR code
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	r.stop(t)
}
