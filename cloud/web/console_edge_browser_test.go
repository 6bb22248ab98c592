package web_test

// A real kiosk engine (package edge, as visitor-edge runs it, with its
// loopback JSON API) paired to a real cloud (web server and sync server
// over the real store, the development Hub for the admin's session), with
// an admin driving the console in Chromium. The kiosk engine is imported
// by this test only; the cloud's code never imports it.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/displays"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/cloud/syncserver"
	"github.com/theonestack/visitor/cloud/web"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/edgeapi"
	"github.com/theonestack/visitor/edge/localapi"
	"github.com/theonestack/visitor/edge/syncclient"
)

// edgeSystem is the cloud side: the development Hub, the web server with
// the sync server and the Displays service over one store, and an Acme
// location.
type edgeSystem struct {
	db   *store.DB
	url  string
	loc  visitor.Location
	sync *syncserver.Server
}

func newEdgeSystem(t *testing.T, engine storetest.Engine) *edgeSystem {
	t.Helper()
	hub := newHubEnv(t.Context(), t, "")
	s := &edgeSystem{url: hub.cloudURL, db: storetest.Open(t, engine, store.Options{})}
	s.sync = syncserver.New(s.db, syncserver.Options{StatusInterval: 300 * time.Millisecond, DrainQuiet: 500 * time.Millisecond,
		PollInterval: 300 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.sync.Shutdown(ctx)
	})
	env := map[string]string{"HUB_URL": hub.hubURL, "PUBLIC_URL": s.url}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	// Kiosks are told to poll for approval every second (the default is 5).
	disp := displays.New(s.db, s.url, displays.Options{Links: s.sync, Interval: 1, Logger: log})
	w, err := web.New(web.Deps{Store: s.db, Config: cfg, Logger: log, Sync: s.sync, Displays: disp})
	if err != nil {
		t.Fatal(err)
	}
	// The handler is served as is: the live pages stream through it.
	serve(t, hub.cloudLn, w.Handler())
	// The tenant is created at first sign-in; the location is made now,
	// so the Displays page offers it.
	if err := s.db.EnsureTenant(t.Context(), devhub.OrgAcme, "Acme Corp"); err != nil {
		t.Fatal(err)
	}
	s.loc, err = s.db.CreateLocation(t.Context(), devhub.OrgAcme, visitor.Location{Name: "HQ Lobby", Address: "1 Main St", Timezone: "Europe/Paris"},
		store.Actor{Type: store.ActorUser, ID: devhub.UserAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// edgeKiosk is a kiosk engine with its local API on loopback, syncing.
type edgeKiosk struct {
	e   *edge.Engine
	api string
}

func (s *edgeSystem) startKiosk(t *testing.T) *edgeKiosk {
	t.Helper()
	e, err := edge.Open(context.Background(), edge.Config{DataDir: t.TempDir(), CloudURL: s.url, LocalAPIAddr: "127.0.0.1:0"},
		edge.Options{Sync: syncclient.Options{BackoffBase: 100 * time.Millisecond, BackoffCap: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	api := &httptest.Server{Listener: listen(t), Config: &http.Server{Handler: localapi.Handler(e, nil)}}
	api.Start()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.RunSync(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		api.Close()
		e.Close()
	})
	return &edgeKiosk{e: e, api: api.URL}
}

// call sends a JSON request to the kiosk's local API and decodes the answer.
func (k *edgeKiosk) call(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, k.api+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s = %d, undecodable: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

func (k *edgeKiosk) status(t *testing.T) edgeapi.Status {
	t.Helper()
	var st edgeapi.Status
	if code := k.call(t, http.MethodGet, "/v1/status", nil, &st); code != http.StatusOK {
		t.Fatalf("GET /v1/status = %d", code)
	}
	return st
}

// checkIn checks a visitor in through the kiosk's local API, as the
// lobby screen or a script driving visitor-edge does.
func (k *edgeKiosk) checkIn(t *testing.T, name, company string) string {
	t.Helper()
	var v struct {
		VisitID string `json:"visit_id"`
	}
	if code := k.call(t, http.MethodPost, "/v1/checkins", map[string]string{"name": name, "company": company}, &v); code != http.StatusCreated || v.VisitID == "" {
		t.Fatalf("POST /v1/checkins = %d %+v", code, v)
	}
	return v.VisitID
}

func (k *edgeKiosk) checkOut(t *testing.T, visitID string) {
	t.Helper()
	if code := k.call(t, http.MethodPost, "/v1/checkouts", map[string]string{"visit_id": visitID}, nil); code != http.StatusOK {
		t.Fatalf("POST /v1/checkouts = %d", code)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openLive opens a live console page and waits until its event stream is
// connected, then marks the window so a reload or navigation shows.
func openLive(t *testing.T, bctx context.Context, pageURL string) {
	t.Helper()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(pageURL),
		chromedp.Poll[chromedp.Void](`document.getElementById("live-state").dataset.state === "live"`, chromedp.WithPollingTimeout(5*time.Second)),
	); err != nil {
		t.Fatalf("open %s live: %v", pageURL, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.sameDocument = true`)); err != nil {
		t.Fatal(err)
	}
}

// waitInPage polls a condition in the page for at most within, and checks
// that the page was not reloaded or left meanwhile.
func waitInPage(t *testing.T, bctx context.Context, within time.Duration, what, cond string) time.Duration {
	t.Helper()
	start := time.Now()
	err := chromedp.Do(bctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(50*time.Millisecond)))
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s: not within %s without a reload: %v", what, within, err)
	}
	same, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.sameDocument === true`))
	if err != nil || !same {
		t.Fatalf("%s: the page was reloaded or left (%v)", what, err)
	}
	return took
}

// TestEdgeKioskInBrowser is the console's whole-system browser test with
// a real kiosk engine: the kiosk starts pairing and shows a code, an
// admin types it on the Displays page, the kiosk pairs and syncs; then a
// check-in on the kiosk appears in an open visitor log within 2 s without
// a reload, and the open on-site (evacuation) list gains the visitor and
// loses them at check-out, live, and still prints without the controls.
//
// It runs in parallel with the package's other tests (and on both engines
// at once): most of its time is spent waiting for polls.
func TestEdgeKioskInBrowser(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		bctx := browser(t, ctx)
		s := newEdgeSystem(t, engine)
		k := s.startKiosk(t)
		signInAs(t, bctx, s.url, devhub.UserAdmin)

		var device string
		if !t.Run("pair on the Displays page with the kiosk's code", func(t *testing.T) {
			if st := k.status(t); st.Paired || st.DeviceID != "" {
				t.Fatalf("new kiosk status = %+v", st)
			}
			// The kiosk asks the cloud for a device code itself, as its
			// pairing screen does, and shows the user code.
			var code edgeapi.PairingCode
			if st := k.call(t, http.MethodPost, "/v1/pairing", nil, &code); st != http.StatusOK || len(code.UserCode) != 9 {
				t.Fatalf("POST /v1/pairing = %d %+v", st, code)
			}
			shown, err := k.e.StartPairing(ctx) // what the kiosk shows now
			if err != nil || shown.UserCode != code.UserCode {
				t.Fatalf("kiosk shows %q (%v), want the live code %q", shown.UserCode, err, code.UserCode)
			}
			// The admin types it as read off the screen.
			if err := chromedp.Do(bctx,
				chromedp.Navigate(s.url+"/displays"),
				chromedp.WaitVisible(chromedp.CSS(`#pair-form`)),
				chromedp.SendKeys(chromedp.CSS(`#d-code`), shown.UserCode),
				chromedp.SetValue(chromedp.CSS(`#d-location`), s.loc.ID),
				chromedp.SendKeys(chromedp.CSS(`#d-name`), "Lobby kiosk"),
				chromedp.Click(chromedp.CSS(`#pair-form button[type=submit]`)),
			); err != nil {
				t.Fatalf("approve on the Displays page: %v", err)
			}
			// The kiosk polls every second: paired within two polls.
			waitFor(t, 5*time.Second, "kiosk paired", func() bool { return k.status(t).Paired })
			st := k.status(t)
			devs, _, err := s.db.Devices(ctx, devhub.OrgAcme, 10, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(devs) != 1 || devs[0].ID != st.DeviceID || devs[0].Name != "Lobby kiosk" || devs[0].LocationID != s.loc.ID {
				t.Fatalf("devices = %+v, kiosk status = %+v", devs, st)
			}
			if st.TenantID != devhub.OrgAcme || st.LocationID != s.loc.ID {
				t.Errorf("kiosk bound to %s at %s, want %s at %s", st.TenantID, st.LocationID, devhub.OrgAcme, s.loc.ID)
			}
			device = st.DeviceID
			// It syncs: online, and a check-in on it reaches the cloud.
			waitFor(t, 5*time.Second, "kiosk online", func() bool { return k.status(t).Online })
			id := k.checkIn(t, "Paired Pat", "Acme Facilities")
			waitFor(t, 5*time.Second, "the kiosk's check-in in the cloud", func() bool {
				v, err := s.db.Visit(ctx, devhub.OrgAcme, id)
				return err == nil && v.DeviceID == device && v.Source == visitor.SourceKiosk
			})
			k.checkOut(t, id)
			// The Displays page shows the kiosk connected.
			if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/displays"), chromedp.WaitVisible(chromedp.CSS(`#display-`+device))); err != nil {
				t.Fatal(err)
			}
			row := textOf(t, bctx, `#display-`+device)
			for _, want := range []string{"Lobby kiosk", "HQ Lobby", "active", "Online"} {
				if !strings.Contains(row, want) {
					t.Errorf("display row %q lacks %q", row, want)
				}
			}
			screenshot(t, bctx, "displays-edge-paired-"+string(engine)+".png")
		}) {
			return
		}

		t.Run("kiosk check-in appears live in the visitor log", func(t *testing.T) {
			openLive(t, bctx, s.url+"/visits")
			start := time.Now()
			k.checkIn(t, "Kiosk Katherine", "NASA")
			waitInPage(t, bctx, 2*time.Second, "kiosk check-in in the visitor log",
				`document.getElementById("visit-rows").textContent.includes("Kiosk Katherine")`)
			t.Logf("kiosk check-in visible in the visitor log after %v", time.Since(start).Round(time.Millisecond))
			screenshot(t, bctx, "visitor-log-edge-"+string(engine)+".png")
		})

		t.Run("on-site list follows the kiosk live", func(t *testing.T) {
			openLive(t, bctx, s.url+"/onsite")
			start := time.Now()
			id := k.checkIn(t, "Evacuee Evelyn", "Blue Origin")
			waitInPage(t, bctx, 2*time.Second, "kiosk check-in on the on-site list",
				`document.getElementById("onsite-list").textContent.includes("Evacuee Evelyn")`)
			t.Logf("kiosk check-in on the on-site list after %v", time.Since(start).Round(time.Millisecond))
			total := textOf(t, bctx, `#onsite-total`)
			if !strings.HasPrefix(total, "2 people on site") { // Katherine and Evelyn
				t.Errorf("on-site total = %q", total)
			}

			// Printed, the list shows the people and none of the controls.
			if err := chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
				return err
			})); err != nil {
				t.Fatal(err)
			}
			// An element is rendered when it has a layout box; a
			// hidden ancestor hides it too.
			printed, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](`(() => {
				const r = sel => { const e = document.querySelector(sel); return !e ? "missing" : e.getClientRects().length > 0 ? "shown" : "hidden"; };
				return {nav: r("header.site"), print: r("#print"), state: r("#live-state"), checkout: r("#onsite-list form"),
					list: r("#onsite-list table"), name: r("#onsite-list td.name")};
			})()`))
			if err != nil {
				t.Fatal(err)
			}
			for part, want := range map[string]string{"nav": "hidden", "print": "hidden", "state": "hidden", "checkout": "hidden",
				"list": "shown", "name": "shown"} {
				if printed[part] != want {
					t.Errorf("printed on-site list: %s is %s, want %s", part, printed[part], want)
				}
			}
			screenshot(t, bctx, "onsite-print-"+string(engine)+".png")
			if err := chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
				return err
			})); err != nil {
				t.Fatal(err)
			}

			// Checked out at the kiosk: gone from the list, still no reload.
			start = time.Now()
			k.checkOut(t, id)
			waitInPage(t, bctx, 2*time.Second, "kiosk check-out on the on-site list",
				`!document.getElementById("onsite-list").textContent.includes("Evacuee Evelyn")`)
			t.Logf("kiosk check-out left the on-site list after %v", time.Since(start).Round(time.Millisecond))
			rest := textOf(t, bctx, `#onsite-list`)
			if !strings.Contains(rest, "Kiosk Katherine") || !strings.Contains(rest, "1 people on site") {
				t.Errorf("on-site list after the check-out = %q", rest)
			}
			screenshot(t, bctx, "onsite-live-"+string(engine)+".png")
		})
	})
}
