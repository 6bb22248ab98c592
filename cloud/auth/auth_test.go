package auth_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/devhub"
)

const hubKey = "hub-integration-key-0123456789"

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// newHub serves a development Hub on loopback and counts JWKS fetches.
func newHub(t *testing.T, now func() time.Time) (*devhub.Hub, string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	h, err := devhub.New(devhub.Config{PublicURL: u, HubIntegrationKey: hubKey}, devhub.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	var jwks atomic.Int64
	inner := h.Handler()
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/jwks.json" {
			jwks.Add(1)
		}
		inner.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return h, u, &jwks
}

// TestUnknownKidRefetchIsRateLimited: a rotated key is found by one
// refetch; made-up kids cause at most one fetch per 10 s.
func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	hub, hubURL, fetches := newHub(t, clk.Now)
	keys := auth.NewKeySet(hubURL+"/.well-known/jwks.json", nil, clk.Now, 10*time.Second)
	v := auth.NewVerifier(keys, hubURL, 0, clk.Now)
	ctx := context.Background()

	tok, err := hub.IssueToken("u_admin", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	if _, err := v.Verify(ctx, tok); err != nil || fetches.Load() != 1 {
		t.Fatalf("second verify: %v, fetches %d (want cached: 1)", err, fetches.Load())
	}
	// Made-up kids within the interval: refused without fetching again.
	for range 5 {
		bad, _ := hub.IssueToken("u_admin", "s", func(c, h map[string]any) { h["kid"] = "made-up" })
		var ref *auth.Refusal
		if _, err := v.Verify(ctx, bad); !errors.As(err, &ref) || ref.Reason != auth.ReasonUnknownKey {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if fetches.Load() != 1 {
		t.Errorf("fetches after made-up kids = %d, want 1", fetches.Load())
	}
	// Hub rotates; the new kid is unknown, and the refetch waits for the interval.
	if _, err := hub.RotateKeys(""); err != nil {
		t.Fatal(err)
	}
	tok2, _ := hub.IssueToken("u_admin", "s", nil)
	if _, err := v.Verify(ctx, tok2); err == nil {
		t.Fatal("new kid accepted without a refetch inside the interval")
	}
	clk.Add(10 * time.Second)
	if _, err := v.Verify(ctx, tok2); err != nil {
		t.Fatalf("rotated key after the interval: %v", err)
	}
	if fetches.Load() != 2 {
		t.Errorf("fetches = %d, want 2", fetches.Load())
	}
	// The retired key is still in the set: old tokens verify.
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Errorf("token of the retired key: %v", err)
	}
}

// TestRegistrarRetriesUntilHubAccepts: Hub is down for the first attempts;
// the registrar keeps trying with backoff and registers all twelve.
func TestRegistrarRetriesUntilHubAccepts(t *testing.T) {
	hub, hubURL, _ := newHub(t, nil)
	if err := hub.SetFaults(devhub.Faults{HubDown: true}); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	reg := &auth.Registrar{HubURL: hubURL, Key: hubKey, MinBackoff: time.Second, MaxBackoff: 4 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			if len(waits) == 3 {
				hub.SetFaults(devhub.Faults{})
			}
			return nil
		}}
	if err := reg.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 3 {
		t.Errorf("waits = %v, want 3 before success", waits)
	}
	for i, w := range waits {
		if ceiling := min(4*time.Second, time.Second<<i); w <= 0 || w > ceiling {
			t.Errorf("wait %d = %v, want in (0, %v]", i, w, ceiling)
		}
	}
	got := hub.Permissions()
	if got.Registrations != 1 || len(got.Permissions) != 12 {
		t.Errorf("registry = %d registrations, %d permissions", got.Registrations, len(got.Permissions))
	}
}

// TestRegistrarWrongKeyAndCancel: a refused key is an error on each
// attempt, and cancelling stops the retries.
func TestRegistrarWrongKeyAndCancel(t *testing.T) {
	hub, hubURL, _ := newHub(t, nil)
	reg := &auth.Registrar{HubURL: hubURL, Key: "wrong-key-0123456789"}
	if err := reg.Register(context.Background()); err == nil {
		t.Fatal("wrong key accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	reg.Sleep = func(ctx context.Context, d time.Duration) error {
		attempts++
		if attempts == 2 {
			cancel()
		}
		return ctx.Err()
	}
	if err := reg.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v", err)
	}
	if hub.Permissions().Registrations != 0 {
		t.Error("registered with a wrong key")
	}
}

// TestAllow is the decision RequirePermission makes.
func TestAllow(t *testing.T) {
	sess := &visitor.Session{UserID: "u", TenantID: "t", Permissions: []visitor.Permission{visitor.PermHostsView}}
	tests := []struct {
		name string
		s    *visitor.Session
		p    visitor.Permission
		want string
	}{
		{"no session", nil, "", visitor.EUNAUTHORIZED},
		{"no session, permission", nil, visitor.PermHostsView, visitor.EUNAUTHORIZED},
		{"any session", sess, "", ""},
		{"held", sess, visitor.PermHostsView, ""},
		{"not held", sess, visitor.PermHostsManage, visitor.EFORBIDDEN},
	}
	for _, tt := range tests {
		if got := visitor.ErrorCode(auth.Allow(tt.s, tt.p)); got != tt.want {
			t.Errorf("%s: code %q, want %q", tt.name, got, tt.want)
		}
	}
}
