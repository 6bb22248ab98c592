package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/web"
)

// clock is real time plus an offset tests move forward.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func serve(t *testing.T, ln net.Listener, h http.Handler) *httptest.Server {
	t.Helper()
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// redirectCounter counts 3xx answers of a handler.
type redirectCounter struct {
	n atomic.Int64
	h http.Handler
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (rc *redirectCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rc.h.ServeHTTP(sw, r)
	if sw.status >= 300 && sw.status < 400 {
		rc.n.Add(1)
	}
}

// hubEnv is a development Hub on loopback plus the cloud's listener, so
// each knows the other's URL before either serves.
type hubEnv struct {
	hub      *devhub.Hub
	hubURL   string
	cloudLn  net.Listener
	cloudURL string
	hubCount *redirectCounter
}

func newHubEnv(_ context.Context, t *testing.T, alg string) *hubEnv {
	t.Helper()
	hln, cln := listen(t), listen(t)
	e := &hubEnv{hubURL: "http://" + hln.Addr().String(), cloudLn: cln, cloudURL: "http://" + cln.Addr().String()}
	h, err := devhub.New(devhub.Config{PublicURL: e.hubURL, VisitorURL: e.cloudURL, Algorithm: alg}, devhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.hub = h
	e.hubCount = &redirectCounter{h: h.Handler()}
	serve(t, hln, e.hubCount)
	return e
}

// cloudInstance is one web.Server over a store.
type cloudInstance struct {
	srv   *web.Server
	db    *store.DB
	url   string
	count *redirectCounter
}

// newCloud builds a web.Server on databaseURL talking to the Hub. When
// ln is nil it serves on a new loopback listener.
func (e *hubEnv) newCloud(t *testing.T, databaseURL string, ln net.Listener, clk *clock, publicURL string) *cloudInstance {
	t.Helper()
	if clk == nil {
		clk = &clock{}
	}
	db, err := store.Open(context.Background(), databaseURL, store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	env := map[string]string{"HUB_URL": e.hubURL, "DATABASE_URL": databaseURL}
	if publicURL != "" {
		env["PUBLIC_URL"] = publicURL
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Deps{Store: db, Config: cfg, Logger: slog.New(slog.DiscardHandler), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if ln == nil {
		ln = listen(t)
	}
	ci := &cloudInstance{srv: s, db: db, url: "http://" + ln.Addr().String(), count: &redirectCounter{h: s.Handler()}}
	serve(t, ln, ci.count)
	return ci
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

func get(t *testing.T, u string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// beginLogin opens the console without a session and returns the state
// Hub was sent and the pre-login cookie.
func beginLogin(t *testing.T, c *cloudInstance) (string, *http.Cookie) {
	t.Helper()
	resp := get(t, c.url+"/")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET / without session = %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	state := loc.Query().Get("state")
	sc := cookie(resp, auth.StateCookie)
	if state == "" || sc == nil {
		t.Fatalf("no state in %s or no pre-login cookie", loc)
	}
	return state, sc
}

func callbackURL(c *cloudInstance, token, state string) string {
	return c.url + "/auth/hub/callback?" + url.Values{"token": {token}, "state": {state}}.Encode()
}

// login signs userID in through the callback and returns the session cookie.
func (e *hubEnv) login(t *testing.T, c *cloudInstance, userID string) *http.Cookie {
	t.Helper()
	state, sc := beginLogin(t, c)
	tok, err := e.hub.IssueToken(userID, state, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, callbackURL(c, tok, state), sc)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback = %d %s", resp.StatusCode, body(t, resp))
	}
	sess := cookie(resp, auth.SessionCookie)
	if sess == nil || sess.Value == "" {
		t.Fatal("no session cookie")
	}
	return sess
}

// failures returns the reasons of auth.login_failed outbox events, oldest first.
func failures(t *testing.T, db *store.DB) []string {
	t.Helper()
	events, _, err := db.Events(context.Background(), "", 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		if ev.Type != visitor.EventLoginFailed {
			continue
		}
		var d struct {
			Reason string `json:"reason"`
		}
		json.Unmarshal(ev.Data, &d)
		out = append(out, d.Reason)
	}
	return out
}

// auditReasons returns the reasons of auth.login_failed audit records of tenant.
func auditReasons(t *testing.T, db *store.DB, tenant string) []string {
	t.Helper()
	recs, _, err := db.Audit(context.Background(), tenant, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Action != "auth.login_failed" {
			continue
		}
		var d map[string]string
		json.Unmarshal(r.Details, &d)
		out = append(out, d["reason"])
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func countSessions(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var _ = strings.Contains
