package displays_test

// End-to-end tests of pairing: a real kiosk engine (edge) with its local
// API, the real web server with the real sync server over the store, and
// the development Hub for admin sessions, all on 127.0.0.1. The kiosk
// engine is imported by this test only; the cloud's code never imports it.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

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
	"github.com/theonestack/visitor/pairing"
)

type system struct {
	db       *store.DB
	sync     *syncserver.Server
	cloudURL string
	hubURL   string
	admin    *http.Client // signed in as the Acme admin
	loc      string       // an Acme location
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func serve(t *testing.T, ln net.Listener, h http.Handler) {
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
}

func newSystem(t *testing.T, engine storetest.Engine) *system {
	t.Helper()
	hln, cln := listen(t), listen(t)
	s := &system{hubURL: "http://" + hln.Addr().String(), cloudURL: "http://" + cln.Addr().String()}
	hub, err := devhub.New(devhub.Config{PublicURL: s.hubURL, VisitorURL: s.cloudURL}, devhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	serve(t, hln, hub.Handler())

	s.db = storetest.Open(t, engine, store.Options{})
	s.sync = syncserver.New(s.db, syncserver.Options{StatusInterval: 300 * time.Millisecond, DrainQuiet: 500 * time.Millisecond,
		PollInterval: 300 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.sync.Shutdown(ctx)
	})
	env := map[string]string{"HUB_URL": s.hubURL, "PUBLIC_URL": s.cloudURL}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	disp := displays.New(s.db, s.cloudURL, displays.Options{Links: s.sync, Interval: 1, Logger: log})
	w, err := web.New(web.Deps{Store: s.db, Config: cfg, Logger: log, Sync: s.sync, Displays: disp})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, cln, w.Handler())
	s.admin = s.signIn(t, devhub.UserAdmin)
	var loc visitor.Location
	if st := s.call(t, s.admin, http.MethodPost, "/api/v1/locations", map[string]string{"name": "HQ Lobby", "timezone": "UTC"}, &loc); st != 201 {
		t.Fatalf("create location = %d", st)
	}
	s.loc = loc.ID
	return s
}

// signIn runs Hub sign-in for user (the development Hub's user= shortcut)
// and returns a client holding the session cookie.
func (s *system) signIn(t *testing.T, user string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), s.hubURL+"/login") {
			q := req.URL.Query()
			q.Set("user", user)
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}}
	resp, err := c.Get(s.cloudURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(s.cloudURL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "visitor_session" {
			return c
		}
	}
	t.Fatalf("no session for %s (landed on %s, %d)", user, resp.Request.URL, resp.StatusCode)
	return nil
}

func (s *system) call(t *testing.T, c *http.Client, method, path string, in, out any) int {
	t.Helper()
	return do(t, c, method, s.cloudURL+path, in, out)
}

func do(t *testing.T, c *http.Client, method, u string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// kiosk is an edge engine with its local API on loopback.
type kiosk struct {
	e        *edge.Engine
	api      string
	dir      string
	stopSync func()
}

func (s *system) startKiosk(t *testing.T, dir string, runSync bool) *kiosk {
	t.Helper()
	e, err := edge.Open(context.Background(), edge.Config{DataDir: dir, CloudURL: s.cloudURL, LocalAPIAddr: "127.0.0.1:0"},
		edge.Options{Sync: syncclient.Options{BackoffBase: 100 * time.Millisecond, BackoffCap: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: localapi.Handler(e, nil)}}
	srv.Start()
	k := &kiosk{e: e, api: srv.URL, dir: dir, stopSync: func() {}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if runSync {
		wg.Go(func() { e.RunSync(ctx) })
	}
	var once sync.Once
	k.stopSync = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			srv.Close()
			e.Close()
		})
	}
	t.Cleanup(k.stopSync)
	return k
}

func (k *kiosk) status(t *testing.T) edgeapi.Status {
	t.Helper()
	var st edgeapi.Status
	if code := do(t, http.DefaultClient, http.MethodGet, k.api+"/v1/status", nil, &st); code != 200 {
		t.Fatalf("status = %d", code)
	}
	return st
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pair starts pairing on k and approves it as the admin; it returns the code.
func (s *system) pair(t *testing.T, k *kiosk) edgeapi.PairingCode {
	t.Helper()
	var code edgeapi.PairingCode
	if st := do(t, http.DefaultClient, http.MethodPost, k.api+"/v1/pairing", nil, &code); st != 200 {
		t.Fatalf("POST /v1/pairing = %d", st)
	}
	var d displays.Display
	if st := s.call(t, s.admin, http.MethodPost, "/api/v1/displays/approve",
		map[string]string{"user_code": code.UserCode, "location_id": s.loc, "name": "Front desk"}, &d); st != 201 {
		t.Fatalf("approve = %d", st)
	}
	// Paired within two polling intervals (1 s here).
	eventually(t, 3*time.Second, "kiosk paired", func() bool { return k.status(t).Paired })
	return code
}

func checkIn(t *testing.T, k *kiosk, name string) (string, int) {
	t.Helper()
	var v struct {
		VisitID string `json:"visit_id"`
		Error   string `json:"error"`
	}
	st := do(t, http.DefaultClient, http.MethodPost, k.api+"/v1/checkins",
		map[string]string{"name": name, "email": strings.ToLower(strings.Fields(name)[0]) + "@example.com", "company": "Navy"}, &v)
	if st == 201 {
		return v.VisitID, st
	}
	return v.Error, st
}

func TestPairKioskEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		s := newSystem(t, engine)
		k := s.startKiosk(t, t.TempDir(), true)
		if st := k.status(t); st.Paired || st.DeviceID != "" {
			t.Fatalf("new kiosk status = %+v", st)
		}

		var code edgeapi.PairingCode
		if st := do(t, http.DefaultClient, http.MethodPost, k.api+"/v1/pairing", nil, &code); st != 200 {
			t.Fatalf("POST /v1/pairing = %d", st)
		}
		if code.VerificationURIComplete != s.cloudURL+"/pair?code="+code.UserCode || len(code.UserCode) != 9 {
			t.Errorf("pairing code = %+v", code)
		}
		if left := time.Until(code.ExpiresAt); left < 9*time.Minute || left > 11*time.Minute {
			t.Errorf("expires_at %s is not about ten minutes away", code.ExpiresAt)
		}
		if got := decodeQR(t, code.QRPNG); got != code.VerificationURIComplete {
			t.Errorf("QR decodes to %q, want %q", got, code.VerificationURIComplete)
		}
		var again edgeapi.PairingCode
		do(t, http.DefaultClient, http.MethodPost, k.api+"/v1/pairing", nil, &again)
		if again.UserCode != code.UserCode {
			t.Errorf("second POST /v1/pairing gave %s, want the live code %s", again.UserCode, code.UserCode)
		}

		// The admin approves through the JSON API, typing the code loosely.
		typed := strings.ToLower(strings.ReplaceAll(code.UserCode, "-", " "))
		var d displays.Display
		if st := s.call(t, s.admin, http.MethodPost, "/api/v1/displays/approve",
			map[string]string{"user_code": typed, "location_id": s.loc, "name": "Front desk"}, &d); st != 201 {
			t.Fatalf("approve = %d", st)
		}
		eventually(t, 3*time.Second, "kiosk paired", func() bool { return k.status(t).Paired })
		st := k.status(t)
		if st.DeviceID != d.ID || st.TenantID != devhub.OrgAcme || st.LocationID != s.loc {
			t.Errorf("paired status = %+v, want device %s in %s at %s", st, d.ID, devhub.OrgAcme, s.loc)
		}
		var conflict map[string]string
		if code := do(t, http.DefaultClient, http.MethodPost, k.api+"/v1/pairing", nil, &conflict); code != 409 || conflict["error"] != "already_paired" {
			t.Errorf("POST /v1/pairing when paired = %d %v", code, conflict)
		}

		// A check-in syncs to the cloud.
		eventually(t, 5*time.Second, "kiosk online", func() bool { return k.status(t).Online })
		id, code2 := checkIn(t, k, "Grace Hopper")
		if code2 != 201 {
			t.Fatalf("check-in = %d %s", code2, id)
		}
		eventually(t, 5*time.Second, "check-in in the cloud", func() bool {
			v, err := s.db.Visit(context.Background(), devhub.OrgAcme, id)
			return err == nil && v.DeviceID == d.ID && v.LocationID == s.loc
		})
		var list struct {
			Displays []displays.Display `json:"displays"`
		}
		s.call(t, s.admin, http.MethodGet, "/api/v1/displays", nil, &list)
		if len(list.Displays) != 1 || !list.Displays[0].Online {
			t.Errorf("displays = %+v, want the kiosk online", list.Displays)
		}

		// Unpair while offline with ops queued: the kiosk drains them first,
		// then wipes itself.
		k.stopSync()
		k2 := s.startKiosk(t, k.dir, false)
		var queued []string
		for _, name := range []string{"Ada Lovelace", "Alan Turing"} {
			id, code := checkIn(t, k2, name)
			if code != 201 {
				t.Fatalf("offline check-in = %d", code)
			}
			queued = append(queued, id)
		}
		if n := k2.status(t).PendingOps; n < 2 {
			t.Fatalf("pending ops = %d, want the offline check-ins", n)
		}
		if st := s.call(t, s.admin, http.MethodPost, "/api/v1/displays/"+d.ID+"/unpair", nil, nil); st != 200 {
			t.Fatalf("unpair = %d", st)
		}
		dir := k2.dir
		k2.stopSync()
		k3 := s.startKiosk(t, dir, true)
		eventually(t, 10*time.Second, "kiosk unpaired and wiped", func() bool {
			st := k3.status(t)
			return !st.Paired && st.DeviceID == ""
		})
		for _, id := range queued {
			if _, err := s.db.Visit(context.Background(), devhub.OrgAcme, id); err != nil {
				t.Errorf("queued visit %s not drained before the wipe: %v", id, err)
			}
		}
		for _, table := range []string{"visits", "hosts", "preregistrations", "outbox"} {
			var n int
			if err := k3.e.Store().Read().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil || n != 0 {
				t.Errorf("after unpair, %s holds %d rows (%v)", table, n, err)
			}
		}
	})
}

func TestRevokeAndTakeover(t *testing.T) {
	s := newSystem(t, storetest.SQLite)
	connected := s.startKiosk(t, t.TempDir(), true)
	s.pair(t, connected)
	offline := s.startKiosk(t, t.TempDir(), true)
	s.pair(t, offline)
	eventually(t, 5*time.Second, "both online", func() bool { return connected.status(t).Online && offline.status(t).Online })
	a, b := connected.status(t), offline.status(t)

	// A second kiosk with the first one's device id but its own key is
	// refused: its check-in never reaches the cloud.
	impostor := s.startKiosk(t, t.TempDir(), false)
	_, priv, _ := edgeKey(t)
	if err := impostor.e.Provision(context.Background(), a.DeviceID, a.TenantID, a.LocationID, priv); err != nil {
		t.Fatal(err)
	}
	fake, _ := checkIn(t, impostor, "Mallory Imposter")
	impostorDir := impostor.dir
	impostor.stopSync()
	impostor = s.startKiosk(t, impostorDir, true)

	// The offline kiosk queues an op, then both are revoked.
	offlineDir := offline.dir
	offline.stopSync()
	offline = s.startKiosk(t, offlineDir, false)
	pendingVisit, _ := checkIn(t, offline, "Eve Pending")

	revokedAt := time.Now()
	for _, id := range []string{a.DeviceID, b.DeviceID} {
		if st := s.call(t, s.admin, http.MethodPost, "/api/v1/displays/"+id+"/revoke", nil, nil); st != 200 {
			t.Fatalf("revoke = %d", st)
		}
	}
	eventually(t, 5*time.Second, "connected kiosk cut off and revoked", func() bool {
		st := connected.status(t)
		return !st.Online && !st.Paired && st.Revoked && !s.sync.Online(a.DeviceID)
	})
	t.Logf("revoked kiosk disconnected after %s", time.Since(revokedAt).Round(time.Millisecond))
	if _, code := checkIn(t, connected, "After Revoke"); code != http.StatusConflict {
		t.Errorf("check-in on a revoked kiosk = %d, want 409", code)
	}

	// The offline kiosk reconnects: refused, marked revoked, op never applied.
	offline.stopSync()
	offline = s.startKiosk(t, offlineDir, true)
	eventually(t, 5*time.Second, "offline kiosk learns it is revoked", func() bool { return offline.status(t).Revoked })
	if _, err := s.db.Visit(context.Background(), devhub.OrgAcme, pendingVisit); visitor.ErrorCode(err) != visitor.ENOTFOUND {
		t.Errorf("op queued before the revoke was applied: %v", err)
	}
	if _, err := s.db.Visit(context.Background(), devhub.OrgAcme, fake); visitor.ErrorCode(err) != visitor.ENOTFOUND {
		t.Errorf("impostor's check-in reached the cloud: %v", err)
	}
	if impostor.status(t).Online {
		t.Error("impostor is online")
	}
}

func decodeQR(t *testing.T, b []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("qr_png is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

func edgeKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	t.Helper()
	pub, priv, err := pairing.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv, nil
}
