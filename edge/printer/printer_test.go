package printer_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/printer"
	"github.com/theonestack/visitor/edge/printer/printertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func renderBadge(t *testing.T, size badge.Size) (image.Image, []byte) {
	t.Helper()
	code, err := badge.CheckoutQRPayload("01920c8e-7b3a-7cc2-9a41-5f0e8d2b6c1a", "A-017")
	if err != nil {
		t.Fatal(err)
	}
	d := badge.Data{
		VisitorName: "Maria Gonzalez", Company: "Northwind Traders", HostName: "Jonas Becker",
		LocationName: "Berlin HQ", Date: time.Date(2026, 3, 3, 8, 41, 0, 0, time.UTC),
		BadgeNumber: "A-017", VisitorType: "guest", CheckoutCode: code,
	}
	img, err := badge.RenderImage(d, badge.DefaultTemplate(), size)
	if err != nil {
		t.Fatal(err)
	}
	png, err := badge.EncodePNG(img)
	if err != nil {
		t.Fatal(err)
	}
	return img, png
}

// fastNet keeps failing tests quick.
func fastNet() printer.NetOptions {
	return printer.NetOptions{DialTimeout: time.Second, IOTimeout: 2 * time.Second}
}

func wantKind(t *testing.T, err error, kind printer.Kind, retryable bool) {
	t.Helper()
	var e *printer.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *printer.Error of kind %s", err, err, kind)
	}
	if e.Kind != kind || e.Retryable != retryable {
		t.Fatalf("err = %v (kind %s, retryable %v), want kind %s retryable %v", err, e.Kind, e.Retryable, kind, retryable)
	}
}

func TestPackBits(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{7}, []byte{0x00, 7}},
		{[]byte{1, 2, 3}, []byte{0x02, 1, 2, 3}},
		{[]byte{0, 0, 0, 0}, []byte{0xFD, 0}},
		{[]byte{1, 2, 2, 2, 3}, []byte{0x00, 1, 0xFE, 2, 0x00, 3}},
		{bytes.Repeat([]byte{0}, 90), []byte{0xA7, 0}},           // one run of 90: 1−90 = −89 = A7h
		{bytes.Repeat([]byte{5}, 130), []byte{0x81, 5, 0xFF, 5}}, // 128 then 2
	}
	for _, tc := range cases {
		if got := printer.PackBits(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("PackBits(% X) = % X, want % X", tc.in, got, tc.want)
		}
	}
	// Apple's example from TN1023.
	packed := []byte{0xFE, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7, 0xAA}
	want := []byte{0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0x22, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}
	if got, err := printer.UnpackBits(packed, 100); err != nil || !bytes.Equal(got, want) {
		t.Errorf("UnpackBits(Apple example) = % X, %v", got, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		n := rng.IntN(400)
		src := make([]byte, n)
		for j := range src {
			if rng.IntN(3) == 0 {
				src[j] = byte(rng.IntN(4))
			} else if j > 0 {
				src[j] = src[j-1]
			}
		}
		p := printer.PackBits(src)
		got, err := printer.UnpackBits(p, n)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("round trip %d failed: %v", i, err)
		}
		if len(p) > n+(n+127)/128 {
			t.Fatalf("PackBits grew %d bytes to %d", n, len(p))
		}
	}
	for _, bad := range [][]byte{{0x05, 1, 2}, {0xFE}} {
		if _, err := printer.UnpackBits(bad, 100); err == nil {
			t.Errorf("UnpackBits(% X) accepted truncated input", bad)
		}
	}
	if _, err := printer.UnpackBits([]byte{0x81, 0}, 10); err == nil {
		t.Error("UnpackBits ignored its limit")
	}
}

func TestBrotherRasterGolden(t *testing.T) {
	img, _ := renderBadge(t, badge.Brother62x100)
	bm := badge.Monochrome(img, badge.Threshold)
	job, err := printer.EncodeBrotherRaster(bm, printer.BrotherDieCut62x100, true)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "brother_62x100.bin")
	if *update {
		if err := os.WriteFile(path, job, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(job, want) {
		t.Errorf("raster job differs from %s; inspect and run go test -update if intended", path)
	}
	// The fixed preamble, byte for byte.
	head := append(make([]byte, 400), 0x1B, '@', 0x1B, 'i', 'a', 0x01,
		0x1B, 'i', 'z', 0xCE, 0x0B, 62, 100, 0x55, 0x04, 0x00, 0x00, 0x00, 0x00,
		0x1B, 'i', 'M', 0x40, 0x1B, 'i', 'A', 0x01, 0x1B, 'i', 'K', 0x08, 0x1B, 'i', 'd', 0, 0, 'M', 0x02)
	if !bytes.HasPrefix(job, head) {
		t.Errorf("job starts % X\nwant        % X", job[400:440], head[400:])
	}
	if job[len(job)-1] != 0x1A {
		t.Error("job does not end with print-with-feed (1Ah)")
	}
	for _, compress := range []bool{true, false} {
		j, err := printer.EncodeBrotherRaster(bm, printer.BrotherDieCut62x100, compress)
		if err != nil {
			t.Fatal(err)
		}
		got, err := printertest.DecodeBrotherRaster(j)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(bm) {
			t.Errorf("compress=%v: decoded raster differs from the badge", compress)
		}
	}
	// Continuous tape: type 0Ah, no length, 35-dot margin.
	j, err := printer.EncodeBrotherRaster(bm, printer.BrotherContinuous62, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(j, []byte{0x1B, 'i', 'z', 0xCE, 0x0A, 62, 0}) || !bytes.Contains(j, []byte{0x1B, 'i', 'd', 35, 0}) {
		t.Error("continuous job lacks its media type or margin")
	}
	// Wrong geometry is refused, not printed badly.
	if _, err := printer.EncodeBrotherRaster(badge.NewBitmap(812, 609), printer.BrotherDieCut62x100, true); err == nil {
		t.Error("a 4x3 in badge was accepted for 62 mm labels")
	} else {
		wantKind(t, err, printer.KindRejected, false)
	}
	if _, err := printer.EncodeBrotherRaster(badge.NewBitmap(696, 500), printer.BrotherDieCut62x100, true); err == nil {
		t.Error("a short badge was accepted for die-cut labels")
	}
}

func TestBrotherPrint(t *testing.T) {
	fake, err := printertest.StartFakeBrother()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	img, png := renderBadge(t, badge.Brother62x100)
	q := printer.NewBrotherQL(fake.Addr(), printer.BrotherOptions{Net: fastNet(), ConfirmTimeout: 300 * time.Millisecond})
	ctx := context.Background()

	if st, err := q.Status(ctx); err != nil || st.State != printer.StateReady {
		t.Fatalf("Status = %+v, %v; want ready", st, err)
	}
	if err := q.Print(ctx, printer.Job{ID: "job-1", Size: badge.Brother62x100, PNG: png}); err != nil {
		t.Fatalf("Print: %v", err)
	}
	jobs := fake.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("fake received %d jobs, want 1", len(jobs))
	}
	got, err := printertest.DecodeBrotherRaster(jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(badge.Monochrome(img, badge.Threshold)) {
		t.Error("printed raster differs from the rendered badge")
	}

	refusals := []struct {
		name  string
		setup func()
		kind  printer.Kind
		state printer.State
	}{
		{"no media", func() { fake.SetCondition(printertest.BrotherNoMedia) }, printer.KindOutOfMedia, printer.StateOutOfMedia},
		{"cover open", func() { fake.SetCondition(printertest.BrotherCoverOpen) }, printer.KindCoverOpen, printer.StateCoverOpen},
		{"continuous tape loaded", func() {
			fake.SetCondition(printertest.BrotherReady)
			fake.SetMedia(62, 0, true)
		}, printer.KindWrongMedia, printer.StateError},
		{"narrow labels loaded", func() { fake.SetMedia(29, 90, false) }, printer.KindWrongMedia, printer.StateError},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			before := len(fake.Jobs())
			err := q.Print(ctx, printer.Job{ID: "job-2", Size: badge.Brother62x100, Image: img})
			wantKind(t, err, tc.kind, true)
			if n := len(fake.Jobs()); n != before {
				t.Errorf("driver sent the job to a printer reporting %s", tc.name)
			}
			st, _ := q.Status(ctx)
			if st.State != tc.state || st.Detail == "" {
				t.Errorf("Status = %+v, want state %s with a detail", st, tc.state)
			}
		})
	}

	t.Run("never confirms", func(t *testing.T) {
		fake.SetMedia(62, 100, false)
		fake.SetCondition(printertest.BrotherSilent)
		start := time.Now()
		err := q.Print(ctx, printer.Job{ID: "job-3", Size: badge.Brother62x100, Image: img})
		wantKind(t, err, printer.KindUnconfirmed, false)
		if time.Since(start) > 3*time.Second {
			t.Errorf("unconfirmed print took %v", time.Since(start))
		}
	})
}

func TestOfflineIsQuickAndRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	// A dialer that hangs until its context ends, like a printer that is
	// switched off on a network that drops packets.
	hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	short := printer.NetOptions{DialTimeout: 50 * time.Millisecond, IOTimeout: time.Second}
	hanging := short
	hanging.Dial = hang
	printers := map[string]printer.Printer{
		"brother refused": printer.NewBrotherQL(refused, printer.BrotherOptions{Net: short}),
		"zebra refused":   printer.NewZebra(refused, printer.ZebraOptions{Net: short}),
		"brother hangs":   printer.NewBrotherQL("192.0.2.1:9100", printer.BrotherOptions{Net: hanging}),
		"zebra hangs":     printer.NewZebra("192.0.2.1:9100", printer.ZebraOptions{Net: hanging}),
	}
	img, _ := renderBadge(t, badge.Brother62x100)
	for name, p := range printers {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := p.Print(context.Background(), printer.Job{ID: "j", Size: badge.Brother62x100, Image: img})
			wantKind(t, err, printer.KindOffline, true)
			if d := time.Since(start); d > time.Second {
				t.Errorf("offline printer took %v to fail", d)
			}
			st, err := p.Status(context.Background())
			wantKind(t, err, printer.KindOffline, true)
			if st.State != printer.StateOffline {
				t.Errorf("Status = %+v, want offline", st)
			}
		})
	}
	// A cancelled context is a timeout, not an offline printer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = printer.NewZebra("192.0.2.1:9100", printer.ZebraOptions{Net: hanging}).Print(ctx, printer.Job{ID: "j", ZPL: []byte("^XA^XZ")})
	wantKind(t, err, printer.KindTimeout, true)
}

func TestZebraPrint(t *testing.T) {
	fake, err := printertest.StartFakeZebra()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	img, png := renderBadge(t, badge.Label4x3in)
	z := printer.NewZebra(fake.Addr(), printer.ZebraOptions{Net: fastNet()})
	ctx := context.Background()
	if err := z.Print(ctx, printer.Job{ID: "z1", Size: badge.Label4x3in, PNG: png}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(fake.Jobs()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	jobs := fake.Jobs()
	if len(jobs) != 1 || fake.HostStatusRequests() != 1 {
		t.Fatalf("fake got %d jobs and %d ~HS, want 1 and 1", len(jobs), fake.HostStatusRequests())
	}
	got, err := printertest.DecodeZPLGraphic(jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(badge.Monochrome(img, badge.Threshold)) {
		t.Error("printed ZPL graphic differs from the rendered badge")
	}

	cases := []struct {
		cond  printertest.ZebraCondition
		kind  printer.Kind
		state printer.State
	}{
		{printertest.ZebraCondition{PaperOut: true}, printer.KindOutOfMedia, printer.StateOutOfMedia},
		{printertest.ZebraCondition{HeadOpen: true, PaperOut: true}, printer.KindCoverOpen, printer.StateCoverOpen},
		{printertest.ZebraCondition{RibbonOut: true}, printer.KindOutOfMedia, printer.StateOutOfMedia},
		{printertest.ZebraCondition{Paused: true}, printer.KindPaused, printer.StateError},
	}
	for _, tc := range cases {
		fake.SetCondition(tc.cond)
		err := z.Print(ctx, printer.Job{ID: "z2", ZPL: []byte("^XA^FO0,0^GFA,1,1,1,FF^FS^XZ")})
		wantKind(t, err, tc.kind, true)
		if st, err := z.Status(ctx); err != nil || st.State != tc.state {
			t.Errorf("%+v: Status = %+v, %v; want %s", tc.cond, st, err, tc.state)
		}
	}
	if n := len(fake.Jobs()); n != 1 {
		t.Errorf("driver sent %d labels in total to a printer reporting faults, want 1", n)
	}
	fake.SetCondition(printertest.ZebraCondition{})
	wantKind(t, z.Print(ctx, printer.Job{ID: "z3", ZPL: []byte("hello")}), printer.KindRejected, false)
}

func TestParseZebraHostStatus(t *testing.T) {
	good := printertest.ZebraHostStatusReply(printertest.ZebraCondition{PaperOut: true, RibbonOut: true})
	hs, err := printer.ParseZebraHostStatus(good)
	if err != nil {
		t.Fatal(err)
	}
	want := printer.ZebraHostStatus{PaperOut: true, RibbonOut: true, LabelLengthDots: 609}
	if !reflect.DeepEqual(hs, want) {
		t.Errorf("parsed %+v, want %+v", hs, want)
	}
	for name, in := range map[string]string{
		"two strings":   "\x02030,0,0,0609,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,0,2,6,0,00000000,1,000\x03\r\n",
		"short string1": "\x02030,0,0\x03\x02001,0,0,0,0,2,6,0,00000000,1,000\x03\x021234,0\x03",
		"bad flag":      "\x02030,X,0,0609,000,0,0,0,000,0,0,0\x03\x02001,0,0,0,0,2,6,0,00000000,1,000\x03\x021234,0\x03",
		"no ETX":        "\x02030,0,0,0609",
	} {
		if _, err := printer.ParseZebraHostStatus([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseBrotherStatus(t *testing.T) {
	reply := printertest.BrotherStatusReply(printer.BrotherErrCutterJam, printer.BrotherErrCoverOpen, 62, 0x0B, 100, printer.BrotherErrorOccurred, 0)
	s, err := printer.ParseBrotherStatus(reply)
	if err != nil {
		t.Fatal(err)
	}
	if s.MediaWidthMM != 62 || s.MediaLengthMM != 100 || s.MediaType != 0x0B || s.StatusType != printer.BrotherErrorOccurred {
		t.Errorf("parsed %+v", s)
	}
	if got := strings.Join(s.Problems(), ","); got != "cover open,cutter jam" {
		t.Errorf("Problems = %q", got)
	}
	if st := s.Status(); st.State != printer.StateCoverOpen {
		t.Errorf("cover open and jam map to %+v, want cover_open first", st)
	}
	bad := bytes.Clone(reply)
	bad[0] = 0x81
	if _, err := printer.ParseBrotherStatus(bad); err == nil {
		t.Error("bad header accepted")
	}
	if _, err := printer.ParseBrotherStatus(reply[:31]); err == nil {
		t.Error("short reply accepted")
	}
}

// fakeRunner answers lp and lpstat from a table and records calls.
type fakeRunner struct {
	stdout, stderr string
	err            error
	calls          [][]string
	stdin          []byte
}

func (f *fakeRunner) run(_ context.Context, stdin []byte, name string, args ...string) ([]byte, []byte, error) {
	f.calls = append(f.calls, append([]string{name}, args...))
	f.stdin = stdin
	return []byte(f.stdout), []byte(f.stderr), f.err
}

func exitErr(t *testing.T) error {
	t.Helper()
	err := exec.Command("false").Run()
	if err == nil {
		t.Fatal("false succeeded")
	}
	return err
}

func TestCUPS(t *testing.T) {
	fr := &fakeRunner{stdout: "request id is Brother_QL-820NWB-42 (1 file(s))\n"}
	p, err := printer.NewCUPS("Brother_QL-820NWB", printer.CUPSOptions{Run: fr.run, Options: []string{"fit-to-page"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	job := printer.Job{ID: "job-7", Size: badge.Brother62x100, PNG: []byte("png"), PDF: []byte("%PDF-1.4")}
	if err := p.Print(ctx, job); err != nil {
		t.Fatal(err)
	}
	want := []string{"lp", "-d", "Brother_QL-820NWB", "-t", "job-7", "-o", "media=Custom.62x100mm", "-o", "fit-to-page"}
	if !reflect.DeepEqual(fr.calls[0], want) || string(fr.stdin) != "%PDF-1.4" {
		t.Errorf("ran %q with %q, want %q with the PDF", fr.calls[0], fr.stdin, want)
	}

	fail := exitErr(t)
	cases := []struct {
		stderr string
		err    error
		kind   printer.Kind
	}{
		{"lp: Unable to connect to server\n", fail, printer.KindOffline},
		{"lp: Error - scheduler not responding.\n", fail, printer.KindOffline},
		{"lp: The printer or class does not exist.\n", fail, printer.KindMisconfigured},
		{"lp: Destination \"Brother_QL-820NWB\" is not accepting jobs.\n", fail, printer.KindOffline},
		{"lp: Unsupported document-format \"image/x\".\n", fail, printer.KindRejected},
		{"lp: something new\n", fail, printer.KindPrinterError},
		{"", exec.ErrNotFound, printer.KindMisconfigured},
	}
	for _, tc := range cases {
		fr.stderr, fr.err, fr.stdout = tc.stderr, tc.err, ""
		err := p.Print(ctx, job)
		wantKind(t, err, tc.kind, tc.kind.Retryable())
	}
	fr.stderr, fr.err, fr.stdout = "", nil, "nothing useful\n"
	wantKind(t, p.Print(ctx, job), printer.KindUnconfirmed, false)

	fr.stdout, fr.err = "printer Brother_QL-820NWB disabled since Tue 03 Mar 2026 09:00:00 -\n\tMedia empty or missing\n", nil
	if st, err := p.Status(ctx); err != nil || st.State != printer.StateOutOfMedia {
		t.Errorf("Status = %+v, %v", st, err)
	}
	if got := fr.calls[len(fr.calls)-1]; !reflect.DeepEqual(got, []string{"lpstat", "-p", "Brother_QL-820NWB"}) {
		t.Errorf("status ran %q", got)
	}
	fr.stdout, fr.stderr, fr.err = "", "lpstat: Invalid destination name in list \"Brother_QL-820NWB\".\n", fail
	st, err := p.Status(ctx)
	wantKind(t, err, printer.KindMisconfigured, false)
	if st.State != printer.StateError {
		t.Errorf("Status for an unknown queue = %+v", st)
	}
	if _, err := printer.NewCUPS("-d evil", printer.CUPSOptions{}); err == nil {
		t.Error("queue name starting with - accepted")
	}
}

func TestParseLpstat(t *testing.T) {
	const q = "Lobby"
	cases := []struct {
		out   string
		state printer.State
		ok    bool
	}{
		{"printer Lobby is idle.  enabled since Tue 03 Mar 2026 09:00:00\n", printer.StateReady, true},
		{"printer Lobby now printing Lobby-3.  enabled since Tue 03 Mar 2026\n", printer.StateReady, true},
		{"printer Lobby is idle.  enabled since x\n\tWaiting for printer to become available.\n", printer.StateOffline, true},
		{"printer Lobby is idle.  enabled since x\n\tThe cover is open.\n", printer.StateCoverOpen, true},
		{"printer Lobby disabled since x -\n\treason unknown\n", printer.StateOffline, true},
		{"printer Lobby disabled since x -\n\tPaper jam\n", printer.StateError, true},
		{"printer Other is idle.\n\tMedia empty\nprinter Lobby is idle.  enabled\nprinter Third x\n\tMedia empty\n", printer.StateReady, true},
		{"printer Lobbyist is idle.\n", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		st, err := printer.ParseLpstat(tc.out, q)
		if (err == nil) != tc.ok || st.State != tc.state {
			t.Errorf("ParseLpstat(%q) = %+v, %v; want %s ok=%v", tc.out, st, err, tc.state, tc.ok)
		}
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	d := printer.NewDir(dir)
	ctx := context.Background()
	img, png := renderBadge(t, badge.Label4x3in)
	if err := d.Print(ctx, printer.Job{ID: "v-1", PNG: png, ZPL: []byte("^XA^XZ")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Print(ctx, printer.Job{ID: "v-2", Image: img}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "v-1.png,v-1.zpl,v-2.png" {
		t.Errorf("directory holds %q (temporary files must not remain)", names)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "v-1.png")); !bytes.Equal(b, png) {
		t.Error("PNG written differs")
	}
	if st, err := d.Status(ctx); err != nil || !st.Ready() {
		t.Errorf("Status = %+v, %v", st, err)
	}
	for _, id := range []string{"", "../x", ".hidden", "a/b", strings.Repeat("x", 129)} {
		wantKind(t, d.Print(ctx, printer.Job{ID: id, PNG: png}), printer.KindRejected, false)
	}
	wantKind(t, d.Print(ctx, printer.Job{ID: "empty"}), printer.KindRejected, false)
	missing := printer.NewDir(filepath.Join(dir, "missing"))
	wantKind(t, missing.Print(ctx, printer.Job{ID: "x", PNG: png}), printer.KindMisconfigured, false)
	if st, err := missing.Status(ctx); err == nil || st.Ready() {
		t.Errorf("missing directory Status = %+v, %v", st, err)
	}
}

func TestErrorHelpers(t *testing.T) {
	e := &printer.Error{Kind: printer.KindOutOfMedia, Retryable: true, Op: "print", Detail: "paper out"}
	wrapped := errors.Join(errors.New("queue"), e)
	if printer.KindOf(wrapped) != printer.KindOutOfMedia || !printer.IsRetryable(wrapped) {
		t.Error("KindOf/IsRetryable do not see through wrapping")
	}
	if printer.KindOf(nil) != "" || printer.KindOf(errors.New("x")) != printer.KindPrinterError {
		t.Error("KindOf of nil or a plain error")
	}
	if printer.IsRetryable(errors.New("x")) || !printer.IsRetryable(context.DeadlineExceeded) {
		t.Error("IsRetryable of plain errors")
	}
	if got := e.Error(); got != "printer print: out_of_media: paper out" {
		t.Errorf("Error() = %q", got)
	}
	if !printer.KindOutOfMedia.NeedsStaff() || printer.KindOffline.NeedsStaff() {
		t.Error("NeedsStaff")
	}
}
