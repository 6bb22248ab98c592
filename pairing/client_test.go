package pairing_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theonestack/visitor/pairing"
)

// step is one scripted answer of the fake cloud's token endpoint.
type step struct {
	status     int    // 0 means 400 with code, or 200 when code is ""
	code       string // RFC 8628 error code; "" means approve
	retryAfter int    // Retry-After seconds, if > 0
	drop       bool   // close the connection without answering
	// jump moves the server's clock forward relative to the kiosk's before
	// answering (as if the kiosk had been suspended).
	jump time.Duration
}

// fakeCloud is a scripted pairing endpoint. The kiosk's clock (kiosk) is
// decades behind the server's: proofs must use server time to pass.
type fakeCloud struct {
	t      *testing.T
	kiosk  *fakeClock
	offset time.Duration // server time = kiosk time + offset

	mu       sync.Mutex
	pub      ed25519.PublicKey
	code     string
	cache    *pairing.MemoryReplayCache
	script   []step
	polls    int
	badProof []error
	req      pairing.DeviceCodeRequest
}

func (f *fakeCloud) serverNow() time.Time { return f.kiosk.Now().Add(f.offset) }

func (f *fakeCloud) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pairing.PathDeviceCode, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var req pairing.DeviceCodeRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, 400, pairing.ErrorResponse{Error: pairing.ErrorInvalidRequest})
			return
		}
		pub, err := req.Validate()
		if err != nil {
			writeJSON(w, 400, pairing.ErrorResponse{Error: pairing.ErrorInvalidRequest, ErrorDescription: err.Error()})
			return
		}
		f.req, f.pub = req, pub
		f.code, _ = pairing.NewDeviceCode(seeded(42))
		user, _ := pairing.NewUserCode(seeded(43))
		writeJSON(w, 200, pairing.DeviceCodeResponse{
			DeviceCode:              f.code,
			UserCode:                pairing.FormatUserCode(user),
			VerificationURI:         "http://127.0.0.1/pair",
			VerificationURIComplete: "http://127.0.0.1/pair?code=" + user,
			ExpiresIn:               pairing.DefaultExpiresIn,
			Interval:                pairing.DefaultInterval,
			ServerTime:              f.serverNow().Unix(),
		})
	})
	mux.HandleFunc("POST "+pairing.PathToken, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var req pairing.TokenRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Validate() != nil {
			f.badProof = append(f.badProof, errors.New("malformed request"))
			writeJSON(w, 400, pairing.ErrorResponse{Error: pairing.ErrorInvalidRequest})
			return
		}
		if f.polls >= len(f.script) {
			f.t.Errorf("poll %d beyond the script", f.polls+1)
			writeJSON(w, 400, pairing.ErrorResponse{Error: pairing.ErrorExpiredToken})
			return
		}
		s := f.script[f.polls]
		f.polls++
		if err := pairing.VerifyRequest(f.pub, req.DeviceCode, req.Proof, f.serverNow(), f.cache); err != nil {
			f.badProof = append(f.badProof, err)
			writeJSON(w, 400, pairing.ErrorResponse{Error: pairing.ErrorInvalidRequest, ErrorDescription: "bad proof"})
			return
		}
		f.offset += s.jump
		// The Date header is the server's clock too; the client reads it
		// when an answer has no server_time.
		w.Header().Set("Date", f.serverNow().UTC().Format(http.TimeFormat))
		switch {
		case s.drop:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		case s.retryAfter > 0 || s.status >= 500:
			if s.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(s.retryAfter))
			}
			http.Error(w, "unavailable", s.status)
		case s.code == "":
			writeJSON(w, 200, pairing.TokenResponse{DeviceID: "dev-1", TenantID: "org-1", TenantName: "Acme", LocationID: "loc-1", LocationName: "Lobby", DisplayName: "Front desk"})
		default:
			writeJSON(w, 400, pairing.ErrorResponse{Error: s.code, ServerTime: f.serverNow().Unix()})
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// harness starts a fake cloud on loopback and a client whose Sleep
// advances the kiosk clock instantly and records what it was asked.
type harness struct {
	cloud  *fakeCloud
	client *pairing.Client
	sleeps []time.Duration
	ticks  []time.Duration
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
}

func newHarness(t *testing.T, script ...step) *harness {
	t.Helper()
	kiosk := &fakeClock{t: time.Unix(3600, 0)} // booted in 1970
	cloud := &fakeCloud{
		t:      t,
		kiosk:  kiosk,
		offset: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Sub(kiosk.Now()),
		script: script,
	}
	cloud.cache = pairing.NewMemoryReplayCache(cloud.serverNow, 0)
	srv := httptest.NewServer(cloud.handler())
	t.Cleanup(srv.Close)
	h := &harness{cloud: cloud}
	h.pub, h.priv = mustKey(t, 1)
	h.client = &pairing.Client{
		BaseURL:    srv.URL + "/",
		HTTP:       srv.Client(),
		Now:        kiosk.Now,
		Rand:       seeded(99),
		AppVersion: "1.2.3",
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			h.sleeps = append(h.sleeps, d)
			kiosk.Advance(d)
			return nil
		},
	}
	return h
}

func (h *harness) run(t *testing.T, ctx context.Context) (pairing.TokenResponse, error) {
	t.Helper()
	code, err := h.client.RequestCode(ctx, h.pub, "Front desk")
	if err != nil {
		t.Fatalf("RequestCode: %v", err)
	}
	return h.client.WaitForApproval(ctx, h.priv, code, func(d time.Duration) { h.ticks = append(h.ticks, d) })
}

func secs(s ...int) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, n := range s {
		out[i] = time.Duration(n) * time.Second
	}
	return out
}

func TestWaitForApproval(t *testing.T) {
	pending := step{code: pairing.ErrorAuthorizationPending}
	approve := step{}
	tests := []struct {
		name       string
		script     []step
		wantErr    error  // errors.Is target; nil means approval
		wantCode   string // *OAuthError code, when wantErr is nil and this is set
		wantSleeps []time.Duration
		wantTicks  []time.Duration // checked when not nil
	}{
		{
			name:       "pending then approved",
			script:     []step{pending, pending, approve},
			wantSleeps: secs(5, 5, 5),
			wantTicks:  secs(600, 595, 590),
		},
		{
			name:       "slow_down adds five seconds for good",
			script:     []step{pending, {code: pairing.ErrorSlowDown}, pending, {code: pairing.ErrorSlowDown}, approve},
			wantSleeps: secs(5, 5, 10, 10, 15),
			wantTicks:  secs(600, 595, 590, 580, 570),
		},
		{
			name:       "expired_token",
			script:     []step{pending, {code: pairing.ErrorExpiredToken}},
			wantErr:    pairing.ErrExpired,
			wantSleeps: secs(5, 5),
		},
		{
			name:       "access_denied",
			script:     []step{{code: pairing.ErrorAccessDenied}},
			wantErr:    pairing.ErrDenied,
			wantSleeps: secs(5),
		},
		{
			name: "transient failures back off, then recover",
			script: []step{
				{status: 503},
				{status: 503, retryAfter: 30},
				{drop: true},
				{status: 500},
				{status: 502},
				pending,
				approve,
			},
			// 5, then 10, max(20, Retry-After 30), 40, 60 (80 capped), 60, back to 5.
			wantSleeps: secs(5, 10, 30, 40, 60, 60, 5),
		},
		{
			name:       "429 honours Retry-After",
			script:     []step{{status: 429, retryAfter: 45}, approve},
			wantSleeps: secs(5, 45),
		},
		{
			name:       "kiosk suspended: server clock jumps, proof follows",
			script:     []step{pending, {code: pairing.ErrorAuthorizationPending, jump: 5 * time.Minute}, pending, approve},
			wantSleeps: secs(5, 5, 5, 5),
		},
		{
			name:       "invalid_request is final",
			script:     []step{pending, {code: pairing.ErrorInvalidRequest}},
			wantCode:   pairing.ErrorInvalidRequest,
			wantSleeps: secs(5, 5),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.script...)
			tok, err := h.run(t, context.Background())
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantCode != "":
				var oe *pairing.OAuthError
				if !errors.As(err, &oe) || oe.Code != tt.wantCode {
					t.Fatalf("err = %v, want OAuthError %s", err, tt.wantCode)
				}
			default:
				if err != nil {
					t.Fatalf("WaitForApproval: %v", err)
				}
				want := pairing.TokenResponse{DeviceID: "dev-1", TenantID: "org-1", TenantName: "Acme", LocationID: "loc-1", LocationName: "Lobby", DisplayName: "Front desk"}
				if tok != want {
					t.Fatalf("token = %+v, want %+v", tok, want)
				}
			}
			if !slices.Equal(h.sleeps, tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", h.sleeps, tt.wantSleeps)
			}
			if tt.wantTicks != nil && !slices.Equal(h.ticks, tt.wantTicks) {
				t.Errorf("ticks = %v, want %v", h.ticks, tt.wantTicks)
			}
			if h.cloud.polls != len(tt.script) {
				t.Errorf("%d polls, script has %d", h.cloud.polls, len(tt.script))
			}
			if tt.wantCode == "" && len(h.cloud.badProof) > 0 {
				t.Errorf("cloud refused proofs: %v", h.cloud.badProof)
			}
		})
	}
}

func TestWaitForApprovalLifeRunsOut(t *testing.T) {
	// The cloud is unreachable for the code's whole life: the client gives
	// up with ErrExpired by itself, never sleeping past the deadline.
	script := make([]step, 20)
	for i := range script {
		script[i] = step{status: 503}
	}
	h := newHarness(t, script...)
	_, err := h.run(t, context.Background())
	if !errors.Is(err, pairing.ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	var total time.Duration
	for _, d := range h.sleeps {
		total += d
	}
	if total != pairing.DefaultExpiresIn*time.Second {
		t.Fatalf("slept %v in all (%v), want exactly the code's life", total, h.sleeps)
	}
	// Doubling from 5 s to the 60 s cap, then the last 45 s of life, with
	// no poll after it.
	if want := secs(5, 10, 20, 40, 60, 60, 60, 60, 60, 60, 60, 60, 45); !slices.Equal(h.sleeps, want) {
		t.Fatalf("sleeps = %v, want %v", h.sleeps, want)
	}
	if h.cloud.polls != 12 {
		t.Fatalf("%d polls, want 12", h.cloud.polls)
	}
}

func TestWaitForApprovalHonoursContext(t *testing.T) {
	pending := step{code: pairing.ErrorAuthorizationPending}
	h := newHarness(t, pending, pending, pending, pending)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, err := h.client.RequestCode(ctx, h.pub, "Front desk")
	if err != nil {
		t.Fatal(err)
	}
	ticks := 0
	_, err = h.client.WaitForApproval(ctx, h.priv, code, func(time.Duration) {
		ticks++
		if ticks == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if h.cloud.polls != 2 {
		t.Fatalf("%d polls after cancel on the third tick, want 2", h.cloud.polls)
	}
}

func TestWaitForApprovalRealSleepCancels(t *testing.T) {
	// The default Sleep (a timer) must return when ctx ends.
	c := &pairing.Client{BaseURL: "http://127.0.0.1:1"}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, priv := mustKey(t, 1)
	dc, _ := pairing.NewDeviceCode(seeded(1))
	start := time.Now()
	_, err := c.WaitForApproval(ctx, priv, pairing.DeviceCodeResponse{DeviceCode: dc, ExpiresIn: 600, Interval: 5}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("took %v to notice ctx", time.Since(start))
	}
}

func TestRequestCode(t *testing.T) {
	t.Run("sends key, name and version; keeps the answer", func(t *testing.T) {
		h := newHarness(t)
		code, err := h.client.RequestCode(context.Background(), h.pub, "Front desk")
		if err != nil {
			t.Fatal(err)
		}
		if h.cloud.req.PublicKey != pairing.EncodePublicKey(h.pub) || h.cloud.req.Name != "Front desk" || h.cloud.req.AppVersion != "1.2.3" {
			t.Fatalf("cloud got %+v", h.cloud.req)
		}
		if code.ExpiresIn != 600 || code.Interval != 5 || code.ServerTime == 0 || !code.ReceivedAt.Equal(h.cloud.kiosk.Now()) {
			t.Fatalf("response %+v", code)
		}
	})

	t.Run("refused by the cloud", func(t *testing.T) {
		h := newHarness(t)
		_, err := h.client.RequestCode(context.Background(), h.pub, "")
		var oe *pairing.OAuthError
		if !errors.As(err, &oe) || oe.Code != pairing.ErrorInvalidRequest || oe.Status != 400 {
			t.Fatalf("err = %v, want invalid_request", err)
		}
	})

	t.Run("short key refused before sending", func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.client.RequestCode(context.Background(), h.pub[:5], "x"); err == nil {
			t.Fatal("accepted a short key")
		}
	})

	bad := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"server error without JSON", 500, "oops", "HTTP 500"},
		{"bad user code", 200, `{"device_code":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","user_code":"AEIO-UUUU","verification_uri":"u","verification_uri_complete":"u","expires_in":600,"interval":5}`, "invalid user code"},
		{"missing device code", 200, `{"user_code":"BCDF-GHJK","verification_uri":"u","verification_uri_complete":"u","expires_in":600,"interval":5}`, "device_code"},
		{"zero life", 200, `{"device_code":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","user_code":"BCDF-GHJK","verification_uri":"u","verification_uri_complete":"u","expires_in":0,"interval":5}`, "expires_in"},
		{"not JSON", 200, `<html>`, "decode"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := &pairing.Client{BaseURL: srv.URL, HTTP: srv.Client()}
			pub, _ := mustKey(t, 1)
			_, err := c.RequestCode(context.Background(), pub, "x")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBackoffNeverUndercutsARaisedInterval(t *testing.T) {
	// Thirteen slow_downs raise the interval to 70 s, past MaxBackoff; a
	// transient failure must not make the client poll faster than that.
	script := []step{}
	want := []time.Duration{}
	interval := 5
	for range 13 {
		script = append(script, step{code: pairing.ErrorSlowDown})
		want = append(want, time.Duration(interval)*time.Second)
		interval += 5
	}
	script = append(script, step{status: 503}, step{})
	want = append(want, 70*time.Second, 70*time.Second)
	h := newHarness(t, script...)
	if _, err := h.run(t, context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.sleeps, want) {
		t.Fatalf("sleeps = %v, want %v", h.sleeps, want)
	}
}
