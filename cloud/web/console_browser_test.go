package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/cloud/web"
	"github.com/theonestack/visitor/internal/testenv"
	"github.com/theonestack/visitor/pairing"
)

// browser starts a headless Chromium for t and returns its context.
func browser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Need(t, "Chromium", "apt-get install chromium")
	}
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// signInAs opens the console and picks user on the development Hub's picker.
func signInAs(t *testing.T, bctx context.Context, consoleURL, user string) {
	t.Helper()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(consoleURL+"/"),
		chromedp.Click(chromedp.CSS(`button[value="`+user+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#whoami`)),
	); err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
}

// textOf returns the visible text of the first element matching the CSS
// selector sel, waiting up to 10 s for it to exist. It reads the page with
// one script instead of by DOM node id: a page that rebuilds part of its DOM
// (htmx swaps, the live log) can make a node id stale between finding the
// node and reading it, and a one-script read has no such gap. A read that
// fails because the page was navigating is retried.
func textOf(t *testing.T, bctx context.Context, sel string) string {
	t.Helper()
	q, err := json.Marshal(sel)
	if err != nil {
		t.Fatal(err)
	}
	expr := `(e => e ? [e.innerText] : null)(document.querySelector(` + string(q) + `))`
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := chromedp.Run(bctx, chromedp.Poll[[]string](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil && len(got) == 1 {
			return got[0]
		}
		if time.Now().After(deadline) || bctx.Err() != nil {
			t.Fatalf("read the text of %s: %v", sel, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testOutputDir is where tests leave files for a person to look at:
// $VISITOR_TEST_OUTPUT, else testout/ at the repository root (git-ignored),
// else the system's temporary directory.
func testOutputDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("VISITOR_TEST_OUTPUT"); d != "" {
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d
		}
	}
	dir, _ := os.Getwd()
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			out := filepath.Join(dir, "testout", "console")
			if err := os.MkdirAll(out, 0o755); err == nil {
				return out
			}
			break
		}
		dir = filepath.Dir(dir)
	}
	return os.TempDir()
}

func screenshot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot %s is only %d bytes", name, len(png))
	}
	path := filepath.Join(testOutputDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestConsoleInBrowser drives the console in a real Chromium against a
// real server and the development Hub: sign in, check a visitor in (and
// a refused form keeps what was typed), check them out, see a kiosk's
// check-in appear live, and take screenshots.
func TestConsoleInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	bctx := browser(t, ctx)
	e := newHubEnv(ctx, t, "")
	c := e.newConsoleCloud(t)

	signInAs(t, bctx, c.url, "u_admin")
	admin := store.Actor{Type: store.ActorUser, ID: "u_admin"}
	loc, err := c.db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ Lobby", Address: "1 Main St", Timezone: "Europe/Paris"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	host, err := c.db.CreateHost(ctx, "org_acme", visitor.Host{Name: "Ada Lovelace", Email: "ada@acme.example"}, admin)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("refused form keeps values", func(t *testing.T) {
		err := chromedp.Do(bctx,
			chromedp.Navigate(c.url+"/visits/new"),
			chromedp.WaitVisible(chromedp.CSS(`#checkin-form`)),
			chromedp.SendKeys(chromedp.CSS(`#c-company`), "Keep Me Ltd"),
			chromedp.SendKeys(chromedp.CSS(`#c-email`), "not-an-email"),
			chromedp.Click(chromedp.CSS(`#checkin-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`#c-name-err .field-error`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		company, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`#c-company`)))
		if err != nil || company != "Keep Me Ltd" {
			t.Errorf("company after a refused form = %q, %v", company, err)
		}
		msg := textOf(t, bctx, `#c-email-err`)
		if !strings.Contains(msg, "email address") {
			t.Errorf("email message = %q", msg)
		}
	})

	t.Run("check in", func(t *testing.T) {
		err := chromedp.Do(bctx,
			chromedp.Navigate(c.url+"/visits/new"),
			chromedp.WaitVisible(chromedp.CSS(`#checkin-form`)),
			chromedp.SendKeys(chromedp.CSS(`#c-name`), "Grace Hopper"),
			chromedp.SendKeys(chromedp.CSS(`#c-company`), "Navy"),
			chromedp.SetValue(chromedp.CSS(`#c-host`), host.ID),
			chromedp.Click(chromedp.CSS(`#checkin-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`#flash`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		rows := textOf(t, bctx, `#visit-rows`)
		if !strings.Contains(rows, "Grace Hopper") || !strings.Contains(rows, "Ada Lovelace") || !strings.Contains(rows, "On site") {
			t.Errorf("visitor log after check-in: %q", rows)
		}
		vs, _, err := c.db.Visits(ctx, "org_acme", visitor.VisitFilter{Status: visitor.VisitCheckedIn})
		if err != nil || len(vs) != 1 || vs[0].Visitor.Name != "Grace Hopper" || vs[0].Source != visitor.SourceStaff || vs[0].LocationID != loc.ID {
			t.Fatalf("stored visits = %+v, %v", vs, err)
		}
	})

	t.Run("check out", func(t *testing.T) {
		vs, _, _ := c.db.Visits(ctx, "org_acme", visitor.VisitFilter{Status: visitor.VisitCheckedIn})
		if len(vs) != 1 {
			t.Fatalf("%d visits on site", len(vs))
		}
		row := `#visit-` + vs[0].ID
		err := chromedp.Do(bctx,
			chromedp.Navigate(c.url+"/visits"),
			chromedp.Click(chromedp.CSS(row+` button.checkout`)),
			chromedp.Poll[chromedp.Void](`document.querySelector("`+row+` .status") && document.querySelector("`+row+` .status").textContent.includes("Checked out")`,
				chromedp.WithPollingTimeout(5*time.Second)),
		)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.db.Visit(ctx, "org_acme", vs[0].ID)
		if err != nil || v.Status != visitor.VisitCheckedOut {
			t.Errorf("visit after check-out = %s, %v", v.Status, err)
		}
	})

	t.Run("live update", func(t *testing.T) {
		err := chromedp.Do(bctx,
			chromedp.Navigate(c.url+"/visits"),
			chromedp.Poll[chromedp.Void](`document.getElementById("live-state").dataset.state === "live"`, chromedp.WithPollingTimeout(5*time.Second)),
		)
		if err != nil {
			t.Fatal(err)
		}
		// A kiosk's check-in, as the sync server applies it, straight into the store.
		start := time.Now()
		if _, err := c.db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: "Kiosk Kim"},
			Source: visitor.SourceKiosk, BadgeNumber: "B-17"}, store.Actor{Type: store.ActorDevice, ID: "dev-1"}); err != nil {
			t.Fatal(err)
		}
		err = chromedp.Do(bctx, chromedp.Poll[chromedp.Void](`document.getElementById("visit-rows").textContent.includes("Kiosk Kim")`,
			chromedp.WithPollingTimeout(2*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err != nil {
			t.Fatalf("kiosk check-in not shown within 2 s without a reload: %v", err)
		}
		t.Logf("kiosk check-in visible after %v", time.Since(start).Round(time.Millisecond))
		screenshot(t, bctx, "visitor-log.png")
	})

	t.Run("pair a display", func(t *testing.T) {
		// A kiosk asks for codes, as visitor-edge does on its pairing screen.
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		reqBody, _ := json.Marshal(pairing.DeviceCodeRequest{PublicKey: pairing.EncodePublicKey(pub), Name: "lobby-kiosk"})
		resp, err := http.Post(c.url+pairing.PathDeviceCode, "application/json", bytes.NewReader(reqBody))
		if err != nil {
			t.Fatal(err)
		}
		var codes pairing.DeviceCodeResponse
		err = json.NewDecoder(resp.Body).Decode(&codes)
		resp.Body.Close()
		if err != nil || codes.UserCode == "" {
			t.Fatalf("device code = %d %+v %v", resp.StatusCode, codes, err)
		}
		// A wrong code first: the message shows next to the field, nothing is paired.
		err = chromedp.Do(bctx,
			chromedp.Navigate(c.url+"/displays"),
			chromedp.WaitVisible(chromedp.CSS(`#pair-form`)),
			chromedp.SendKeys(chromedp.CSS(`#d-code`), "ZZZZ-ZZZZ"),
			chromedp.SendKeys(chromedp.CSS(`#d-name`), "Front desk"),
			chromedp.Click(chromedp.CSS(`#pair-form button[type=submit]`)),
			chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll("#pair-form [data-error-for]")).some(e => e.textContent.length > 0)`,
				chromedp.WithPollingTimeout(5*time.Second)),
		)
		if err != nil {
			t.Fatalf("wrong code: %v", err)
		}
		name, _ := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`#d-name`)))
		if name != "Front desk" {
			t.Errorf("display name after a refused code = %q", name)
		}
		err = chromedp.Do(bctx,
			chromedp.SetValue(chromedp.CSS(`#d-code`), strings.ToLower(codes.UserCode)),
			chromedp.SetValue(chromedp.CSS(`#d-location`), loc.ID),
			chromedp.Click(chromedp.CSS(`#pair-form button[type=submit]`)),
		)
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		// The page reloads on success; wait for the device in the store.
		var devs []visitor.Device
		for deadline := time.Now().Add(5 * time.Second); len(devs) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if devs, _, err = c.db.Devices(ctx, "org_acme", 10, ""); err != nil {
				t.Fatal(err)
			}
		}
		if len(devs) != 1 || devs[0].Name != "Front desk" || devs[0].LocationID != loc.ID || devs[0].Status != visitor.DeviceActive {
			t.Fatalf("devices after approval = %+v", devs)
		}
		if err := chromedp.Do(bctx, chromedp.Navigate(c.url+"/displays"), chromedp.WaitVisible(chromedp.CSS(`#display-`+devs[0].ID))); err != nil {
			t.Fatal(err)
		}
		row := textOf(t, bctx, `#display-`+devs[0].ID)
		if !strings.Contains(row, "HQ Lobby") || !strings.Contains(row, "active") {
			t.Errorf("display row = %q", row)
		}
		screenshot(t, bctx, "displays.png")
	})
}

// TestConsoleReceptionistCannotSeeDisplays: the receptionist's navigation
// has no Displays link, and opening its URL anyway answers 403 "Access
// Denied".
func TestConsoleReceptionistCannotSeeDisplays(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bctx := browser(t, ctx)
	e := newHubEnv(ctx, t, "")
	c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, nil, "")
	signInAs(t, bctx, c.url, "u_reception")
	nav, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS(`header nav`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(nav, "/displays") || strings.Contains(nav, "Settings") {
		t.Errorf("receptionist's navigation shows admin pages: %s", nav)
	}
	if !strings.Contains(nav, `href="/visits"`) {
		t.Errorf("receptionist's navigation lacks the visitor log: %s", nav)
	}
	resp, err := chromedp.RunResponse(bctx, chromedp.Navigate(c.url+"/displays"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden {
		t.Errorf("GET /displays as receptionist = %d, want 403", resp.Status)
	}
	text := textOf(t, bctx, `h1`)
	if text != "Access Denied" {
		t.Errorf("page heading = %q", text)
	}
}

// TestConsoleCSVExport: the export downloads, parses as CSV, and a
// visitor name that a spreadsheet would run as a formula is neutralised.
func TestConsoleCSVExport(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, nil, "")
	sess := e.login(t, c, "u_security") // holds visitor.reports.export
	ctx := t.Context()
	admin := store.Actor{Type: store.ActorUser, ID: "u_admin"}
	loc, err := c.db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ", Timezone: "UTC"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{`=HYPERLINK("http://x","y")`, "+1 caller", "-minus", "@at", "Plain Name", "Comma, Quote \" Name"}
	for _, n := range names {
		if _, err := c.db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: n, Company: "=cmd|' /C calc'!A0"}}, admin); err != nil {
			t.Fatal(err)
		}
	}
	today := time.Now().UTC().Format(time.DateOnly)
	resp := get(t, c.url+"/api/v1/export/visits.csv?from="+today+"&to="+today, sess)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	if len(recs) != len(names)+1 || recs[0][3] != "visitor_name" {
		t.Fatalf("CSV has %d records, header %v", len(recs), recs[0])
	}
	got := map[string]bool{}
	for _, r := range recs[1:] {
		got[r[3]] = true
		if r[4] != `'=cmd|' /C calc'!A0` {
			t.Errorf("company cell = %q", r[4])
		}
	}
	for _, want := range []string{`'=HYPERLINK("http://x","y")`, "'+1 caller", "'-minus", "'@at", "Plain Name", "Comma, Quote \" Name"} {
		if !got[want] {
			t.Errorf("CSV lacks the name cell %q (has %v)", want, got)
		}
	}
	for _, bad := range []string{"from=2026-13-01", "from=2026-02-02&to=2026-02-01", "from=2024-01-01&to=2026-01-01"} {
		if r := get(t, c.url+"/api/v1/export/visits.csv?"+bad, sess); r.StatusCode != 400 {
			t.Errorf("export ?%s = %d, want 400", bad, r.StatusCode)
		}
	}
	// The receptionist has no export permission.
	if r := get(t, c.url+"/api/v1/export/visits.csv", e.login(t, c, "u_reception")); r.StatusCode != 403 {
		t.Errorf("receptionist export = %d, want 403", r.StatusCode)
	}
}

// newConsoleCloud is newCloud without the redirect counter, whose
// response writer cannot flush: the live visitor log streams here.
func (e *hubEnv) newConsoleCloud(t *testing.T) *cloudInstance {
	t.Helper()
	databaseURL := storetest.URL(t, storetest.SQLite)
	db, err := store.Open(context.Background(), databaseURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	env := map[string]string{"HUB_URL": e.hubURL, "DATABASE_URL": databaseURL}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Deps{Store: db, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, e.cloudLn, s.Handler())
	return &cloudInstance{srv: s, db: db, url: e.cloudURL}
}
