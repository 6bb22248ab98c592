package devhub

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func kids(set JWKS) []string {
	out := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = k.Kid
	}
	return out
}

func TestKeyRotationOnInterval(t *testing.T) {
	clock := newFakeClock()
	hub, srv := newTestHub(t, Config{KeyRotation: time.Hour, KeyGrace: 10 * time.Minute}, Options{Now: clock.Now})

	_, set := fetchJWKS(t, srv)
	if len(set.Keys) != 1 {
		t.Fatalf("start: %d keys", len(set.Keys))
	}
	first := set.Keys[0].Kid
	oldTok, err := hub.IssueToken(UserAdmin, "s", nil)
	if err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Hour)
	newTok, err := hub.IssueToken(UserAdmin, "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, err := jwt.NewParser().ParseUnverified(newTok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Header["kid"] == first {
		t.Fatalf("after the interval the token is still signed by %s", first)
	}
	_, set = fetchJWKS(t, srv)
	if got := kids(set); len(got) != 2 || got[0] != first || got[1] != hdr.Header["kid"] {
		t.Fatalf("jwks kids %v, want [%s %v]", got, first, hdr.Header["kid"])
	}
	for name, tok := range map[string]string{"old key": oldTok, "new key": newTok} {
		// The old token is an hour old; judge it at its own time.
		now := clock.Now
		if name == "old key" {
			now = func() time.Time { return clock.Now().Add(-time.Hour) }
		}
		if _, _, err := verifyToken(t, srv, tok, DefaultPublicURL, now); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}

	clock.Advance(11 * time.Minute)
	_, set = fetchJWKS(t, srv)
	if got := kids(set); len(got) != 1 || got[0] != hdr.Header["kid"] {
		t.Fatalf("after the grace period kids = %v, want only the new key", got)
	}
}

func TestRotateKeysEndpoint(t *testing.T) {
	hub, srv := newTestHub(t, Config{}, Options{})
	_, before := hub.SigningKey()

	status, body := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/rotate-keys", nil, "")
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, body)
	}
	_, after := hub.SigningKey()
	if after == before || !strings.Contains(body, after) {
		t.Fatalf("rotate answered %s; signing kid %s (was %s)", body, after, before)
	}
	_, set := fetchJWKS(t, srv)
	if got := kids(set); len(got) != 2 || got[0] != before || got[1] != after {
		t.Fatalf("kids %v, want [%s %s]", got, before, after)
	}

	// Switching algorithm: the new RS256 key signs, the Ed25519 key stays.
	if status, body := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/rotate-keys?alg=RS256", nil, ""); status != http.StatusOK {
		t.Fatalf("rotate to RS256: %d %s", status, body)
	}
	tok, err := hub.IssueToken(UserReception, "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := verifyToken(t, srv, tok, DefaultPublicURL, nil)
	if err != nil || parsed.Header["alg"] != AlgRS256 {
		t.Fatalf("RS256 token after rotation: %v (alg %v)", err, parsed.Header["alg"])
	}
	_, set = fetchJWKS(t, srv)
	if len(set.Keys) != 3 || set.Keys[2].Kty != "RSA" || set.Keys[0].Kty != "OKP" {
		t.Fatalf("jwks %+v", set.Keys)
	}
	if status, _ := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/rotate-keys?alg=HS256", nil, ""); status != http.StatusBadRequest {
		t.Errorf("rotate to HS256: %d, want 400", status)
	}
}

func TestFixtureFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{
	  "orgs": [{"id": "org_x", "name": "X Ltd"}],
	  "users": [
	    {"id": "u_x", "name": "Xavier", "email": "x@x.example", "role": "admin", "org_id": "org_x", "permissions": ["*"]},
	    {"id": "u_y", "name": "Yan", "email": "y@x.example", "role": "desk", "org_id": "org_x", "permissions": ["visitor.visitors.view"]}
	  ]}`)

	t.Run("good file is used", func(t *testing.T) {
		hub, srv := newTestHub(t, Config{FixturesPath: good}, Options{})
		status, hdr, _ := do(t, http.MethodGet, srv.URL+"/login?redirect=visitor&state=s&user=u_y", nil, "")
		if status != http.StatusFound {
			t.Fatalf("login u_y: %d", status)
		}
		if status, _, _ := do(t, http.MethodGet, srv.URL+"/login?redirect=visitor&state=s&user="+UserAdmin, nil, ""); status != http.StatusBadRequest {
			t.Errorf("default user still known with a fixture file: %d", status)
		}
		loc, err := url.Parse(hdr.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		_, claims, err := verifyToken(t, srv, loc.Query().Get("token"), DefaultPublicURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p := claims["visitor_permissions"].([]any); len(p) != 1 || p[0] != "visitor.visitors.view" || claims["org_name"] != "X Ltd" {
			t.Errorf("claims %v", claims)
		}
		if tok, err := hub.IssueToken("u_x", "s", nil); err != nil || tok == "" {
			t.Errorf("IssueToken u_x: %v", err)
		}
	})

	for _, tc := range []struct {
		name, content, want string
	}{
		{"not JSON", `{"users": [`, "parse fixture"},
		{"unknown field", `{"users": [{"id": "u", "name": "U", "email": "u@x", "perms": []}]}`, `unknown field "perms"`},
		{"unknown permission", `{"users": [{"id": "u", "name": "U", "email": "u@x", "permissions": ["visitor.fly"]}]}`, `unknown permission "visitor.fly"`},
		{"unknown org", `{"users": [{"id": "u", "name": "U", "email": "u@x", "org_id": "org_q", "permissions": []}]}`, `unknown org_id "org_q"`},
		{"duplicate user", `{"users": [{"id": "u", "name": "U", "email": "u@x"}, {"id": "u", "name": "V", "email": "v@x"}]}`, `duplicate user id "u"`},
		{"no users", `{"orgs": []}`, "no users"},
		{"bad email", `{"users": [{"id": "u", "name": "U", "email": "nobody"}]}`, "not an address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tc.name, " ", "_")+".json", tc.content)
			_, err := New(Config{FixturesPath: p}, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want one naming the file and %q", err, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := New(Config{FixturesPath: filepath.Join(dir, "absent.json")}, Options{}); err == nil || !strings.Contains(err.Error(), "absent.json") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("default fixture is valid", func(t *testing.T) {
		if err := DefaultFixture().Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"defaults", Config{}, ""},
		{"bad alg", Config{Algorithm: "HS256"}, "Algorithm"},
		{"lifetime over 5m", Config{TokenLifetime: 6 * time.Minute}, "TokenLifetime"},
		{"negative rotation", Config{KeyRotation: -time.Second}, "KeyRotation"},
		{"grace shorter than lifetime", Config{KeyGrace: time.Minute, TokenLifetime: 2 * time.Minute}, "KeyGrace"},
		{"visitor url not http", Config{VisitorURL: "ftp://x"}, "VisitorURL"},
		{"public url without host", Config{PublicURL: "http://"}, "PublicURL"},
		{"listen without port", Config{ListenAddr: "127.0.0.1"}, "ListenAddr"},
		{"bad subscriber", Config{Subscribers: []string{"nope"}}, "Subscribers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.WithDefaults().Validate()
			var ce *ConfigError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
				t.Fatalf("error %v, want ConfigError on %s", err, tc.field)
			}
		})
	}
	if c := (Config{PublicURL: "http://hub.test/"}).WithDefaults(); c.Issuer != "http://hub.test" {
		t.Errorf("issuer default = %q, want the public URL", c.Issuer)
	}
}
