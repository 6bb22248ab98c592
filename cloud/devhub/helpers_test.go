package devhub

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// fakeClock is a settable clock for token times and key rotation.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newLoopbackServer starts an httptest server on 127.0.0.1 only.
func newLoopbackServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// newTestHub builds a Hub and serves it on loopback.
func newTestHub(t *testing.T, cfg Config, opts Options) (*Hub, *httptest.Server) {
	t.Helper()
	if opts.ForwardBackoff == 0 {
		opts.ForwardBackoff = 10 * time.Millisecond
	}
	h, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h, newLoopbackServer(t, h.Handler())
}

// noRedirect is a client that returns redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends a request and returns status, headers and body.
func do(t *testing.T, method, url string, headers map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// getJSON GETs url and decodes the 200 answer into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	status, _, body := do(t, http.MethodGet, url, nil, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", url, err, body)
	}
}

// fetchJWKS returns the served key set, raw and decoded.
func fetchJWKS(t *testing.T, srv *httptest.Server) (json.RawMessage, JWKS) {
	t.Helper()
	status, _, body := do(t, http.MethodGet, srv.URL+"/.well-known/jwks.json", nil, "")
	if status != http.StatusOK {
		t.Fatalf("jwks: %d %s", status, body)
	}
	var set JWKS
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("jwks decode: %v", err)
	}
	return json.RawMessage(body), set
}

// verifyToken verifies tok the way the cloud does: keys from the served
// JWKS (through keyfunc), EdDSA and RS256 only, iss, aud, exp required.
func verifyToken(t *testing.T, srv *httptest.Server, tok string, issuer string, now func() time.Time) (*jwt.Token, jwt.MapClaims, error) {
	t.Helper()
	raw, _ := fetchJWKS(t, srv)
	kf, err := keyfunc.NewJWKSetJSON(raw)
	if err != nil {
		t.Fatalf("keyfunc from served JWKS: %v", err)
	}
	claims := jwt.MapClaims{}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{AlgEdDSA, AlgRS256}),
		jwt.WithIssuer(issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(60 * time.Second),
	}
	if now != nil {
		opts = append(opts, jwt.WithTimeFunc(now))
	}
	parsed, err := jwt.ParseWithClaims(tok, claims, kf.Keyfunc, opts...)
	return parsed, claims, err
}

// postJSON posts a JSON body with extra headers.
func postJSON(t *testing.T, method, url string, headers map[string]string, v any) (int, string) {
	t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	}
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	status, _, body := do(t, method, url, h, string(bytes.TrimSpace(b)))
	return status, body
}

// waitFor polls cond every 10 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
