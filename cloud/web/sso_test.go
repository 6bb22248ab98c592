package web_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

type mutation = func(claims, header map[string]any)

// TestTokenMatrix sends hostile and broken tokens to the callback: each is
// refused with 401 and a page, sets no session, and leaves an
// auth.login_failed event and audit record with its reason.
func TestTokenMatrix(t *testing.T) {
	now := func() int64 { return time.Now().Unix() }
	tests := []struct {
		name   string
		alg    string
		craft  func(t *testing.T, e *hubEnv, state string) string // nil: IssueToken with mutate
		mutate mutation
		// badState sends a state that does not match the cookie.
		badState bool
		reason   string
		tenant   string // audit tenant ("" before the token is trusted)
	}{
		{name: "alg none", reason: auth.ReasonAlgorithm, craft: func(t *testing.T, e *hubEnv, state string) string {
			tok := issue(t, e, state, nil)
			parts := strings.Split(tok, ".")
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			return h + "." + parts[1] + "."
		}},
		{name: "HS256 keyed with the RSA public key", alg: devhub.AlgRS256, reason: auth.ReasonAlgorithm,
			craft: func(t *testing.T, e *hubEnv, state string) string {
				priv, kid := e.hub.SigningKey()
				der, err := x509.MarshalPKIXPublicKey(&priv.(*rsa.PrivateKey).PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				claims := claimsOf(t, issue(t, e, state, nil))
				tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
				tok.Header["kid"] = kid
				s, err := tok.SignedString(secret)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}},
		{name: "wrong iss", reason: auth.ReasonIssuer, mutate: func(c, h map[string]any) { c["iss"] = "https://hub.evil.example" }},
		{name: "aud missing", reason: auth.ReasonAudience, mutate: func(c, h map[string]any) { delete(c, "aud") }},
		{name: "aud other", reason: auth.ReasonAudience, mutate: func(c, h map[string]any) { c["aud"] = []string{"billing"} }},
		{name: "expired past leeway", reason: auth.ReasonExpired, mutate: func(c, h map[string]any) {
			c["exp"] = now() - 90
			c["iat"], c["nbf"] = now()-200, now()-200
		}},
		{name: "nbf in the future past leeway", reason: auth.ReasonNotYetValid, mutate: func(c, h map[string]any) {
			c["nbf"] = now() + 120
			c["exp"] = now() + 240
		}},
		{name: "lifetime over 5 minutes", reason: auth.ReasonLifetime, mutate: func(c, h map[string]any) {
			c["exp"] = now() + 600
		}},
		{name: "unknown kid", reason: auth.ReasonUnknownKey, mutate: func(c, h map[string]any) { h["kid"] = "no-such-key" }},
		{name: "jku header", reason: auth.ReasonHeaderKey, mutate: func(c, h map[string]any) { h["jku"] = "http://127.0.0.1:1/jwks.json" }},
		{name: "jwk header", reason: auth.ReasonHeaderKey, mutate: func(c, h map[string]any) {
			h["jwk"] = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
		}},
		{name: "bad signature", reason: auth.ReasonSignature, craft: func(t *testing.T, e *hubEnv, state string) string {
			a := strings.Split(issue(t, e, state, nil), ".")
			b := strings.Split(issue(t, e, state, func(c, h map[string]any) { c["name"] = "Mallory" }), ".")
			return b[0] + "." + b[1] + "." + a[2]
		}},
		{name: "state mismatch", badState: true, reason: auth.ReasonState, tenant: "org_acme"},
	}
	envs := map[string]*hubEnv{}
	clouds := map[string]*cloudInstance{}
	for _, alg := range []string{devhub.AlgEdDSA, devhub.AlgRS256} {
		envs[alg] = newHubEnv(t.Context(), t, alg)
		clouds[alg] = envs[alg].newCloud(t, storetest.URL(t, storetest.SQLite), envs[alg].cloudLn, nil, "")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alg := tt.alg
			if alg == "" {
				alg = devhub.AlgEdDSA
			}
			e, c := envs[alg], clouds[alg]
			state, sc := beginLogin(t, c)
			var tok string
			if tt.craft != nil {
				tok = tt.craft(t, e, state)
			} else {
				tok = issue(t, e, state, tt.mutate)
			}
			sendState := state
			if tt.badState {
				other, _ := beginLogin(t, c)
				sendState = other
			}
			before := len(failures(t, c.db))
			resp := get(t, callbackURL(c, tok, sendState), sc)
			page := body(t, resp)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, tt.reason) {
				t.Fatalf("callback = %d, want 401 naming %s:\n%s", resp.StatusCode, tt.reason, page)
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("refusal redirects to %s", resp.Header.Get("Location"))
			}
			if sess := cookie(resp, auth.SessionCookie); sess != nil && sess.Value != "" {
				t.Error("refusal set a session cookie")
			}
			got := failures(t, c.db)
			if len(got) != before+1 || got[len(got)-1] != tt.reason {
				t.Errorf("login_failed events = %v, want one more with %s", got, tt.reason)
			}
			if !contains(auditReasons(t, c.db, tt.tenant), tt.reason) {
				t.Errorf("no audit record with reason %s in tenant %q", tt.reason, tt.tenant)
			}
		})
	}
}

// issue returns a token from the development Hub for u_admin.
func issue(t *testing.T, e *hubEnv, state string, mutate mutation) string {
	t.Helper()
	tok, err := e.hub.IssueToken("u_admin", state, mutate)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenIssuedInTheFutureWithinLeeway: a Hub clock 30 s ahead is fine.
func TestTokenIssuedInTheFutureWithinLeeway(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, nil, "")
	state, sc := beginLogin(t, c)
	tok := issue(t, e, state, func(cl, h map[string]any) {
		n := time.Now().Unix() + 30
		cl["iat"], cl["nbf"], cl["exp"] = n, n, n+120
	})
	resp := get(t, callbackURL(c, tok, state), sc)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback = %d %s", resp.StatusCode, body(t, resp))
	}
	if s := cookie(resp, auth.SessionCookie); s == nil || s.Value == "" {
		t.Fatal("no session")
	}
}

// TestReplay: a used token shows "Token already used", on the same
// instance and on a new instance over the same database.
func TestReplay(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	dbURL := storetest.URL(t, storetest.SQLite)
	c := e.newCloud(t, dbURL, e.cloudLn, nil, "")
	state, sc := beginLogin(t, c)
	tok := issue(t, e, state, nil)
	if resp := get(t, callbackURL(c, tok, state), sc); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use = %d", resp.StatusCode)
	}
	// A refresh: the pre-login cookie is gone, the answer is still "Token already used".
	resp := get(t, callbackURL(c, tok, state))
	if p := body(t, resp); resp.StatusCode != 401 || !strings.Contains(p, "Token already used") {
		t.Fatalf("second use = %d %s", resp.StatusCode, p)
	}
	// A restart: a new server on the same database.
	c.db.Close()
	c2 := e.newCloud(t, dbURL, nil, nil, "")
	resp = get(t, callbackURL(c2, tok, state), sc)
	if p := body(t, resp); resp.StatusCode != 401 || !strings.Contains(p, "Token already used") {
		t.Fatalf("use after restart = %d %s", resp.StatusCode, p)
	}
	if n := countSessions(t, c2.db); n != 1 {
		t.Errorf("sessions = %d, want 1", n)
	}
	if got := failures(t, c2.db); !contains(got, auth.ReasonReplayed) {
		t.Errorf("failures = %v", got)
	}
}

// TestReplayAcrossInstances: two instances on one PostgreSQL database get
// 50 concurrent callbacks with the same token; exactly one signs in.
func TestReplayAcrossInstances(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	dbURL := storetest.URL(t, storetest.Postgres)
	a := e.newCloud(t, dbURL, e.cloudLn, nil, "")
	b := e.newCloud(t, dbURL, nil, nil, "")
	state, sc := beginLogin(t, a)
	tok := issue(t, e, state, nil)
	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		target := a
		if i%2 == 1 {
			target = b
		}
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, callbackURL(target, tok, state), nil)
			req.AddCookie(sc)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	ok, used := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusSeeOther:
			ok++
		case http.StatusUnauthorized:
			used++
		}
	}
	if ok != 1 || used != 49 {
		t.Errorf("303s = %d, 401s = %d (codes %v); want 1 and 49", ok, used, codes)
	}
	if n := countSessions(t, a.db); n != 1 {
		t.Errorf("sessions = %d, want exactly 1", n)
	}
	if got := failures(t, a.db); len(got) != 49 {
		t.Errorf("login_failed events = %d, want 49", len(got))
	}
}

// TestNoAccountFound: a Hub user in no org cannot sign in.
func TestNoAccountFound(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, nil, "")
	state, sc := beginLogin(t, c)
	tok, err := e.hub.IssueToken("u_noorg", state, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, callbackURL(c, tok, state), sc)
	if p := body(t, resp); resp.StatusCode != 401 || !strings.Contains(p, "No account found") {
		t.Fatalf("callback = %d %s", resp.StatusCode, p)
	}
	if s := cookie(resp, auth.SessionCookie); s != nil && s.Value != "" {
		t.Error("session cookie set")
	}
	if got := failures(t, c.db); !contains(got, auth.ReasonNoOrg) {
		t.Errorf("failures = %v", got)
	}
}
