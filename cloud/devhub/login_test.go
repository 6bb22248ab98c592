package devhub

import (
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/theonestack/visitor"
)

const testVisitorURL = "http://127.0.0.1:9/visitor"

// callbackToken checks a login redirect and returns the token in it.
func callbackToken(t *testing.T, status, wantStatus int, hdr http.Header, state string) string {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status = %d, want %d", status, wantStatus)
	}
	loc, err := url.Parse(hdr.Get("Location"))
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testVisitorURL+"/auth/hub/callback" {
		t.Fatalf("redirect to %q, want the Visitor callback", got)
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	tok := loc.Query().Get("token")
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q is not a JWS compact JWT", tok)
	}
	return tok
}

func TestLoginIssuesVerifiableToken(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgRS256} {
		for _, tc := range []struct {
			user      string
			wantOrg   string
			wantPerms int
		}{
			{UserAdmin, OrgAcme, 12},
			{UserReception, OrgAcme, 6},
			{UserSecurity, OrgAcme, 4},
			{UserGlobexAdmin, OrgGlobex, 12},
			{UserNoOrg, "", 0},
		} {
			t.Run(alg+"/"+tc.user, func(t *testing.T) {
				hub, srv := newTestHub(t, Config{VisitorURL: testVisitorURL, Algorithm: alg, PublicURL: "http://hub.test"}, Options{})
				state := "st-" + tc.user
				status, hdr, _ := do(t, http.MethodGet, srv.URL+"/login?redirect=visitor&state="+state+"&user="+tc.user, nil, "")
				tok := callbackToken(t, status, http.StatusFound, hdr, state)

				parsed, claims, err := verifyToken(t, srv, tok, "http://hub.test", nil)
				if err != nil {
					t.Fatalf("token does not verify against the served JWKS: %v", err)
				}
				if parsed.Header["alg"] != alg || parsed.Header["typ"] != "JWT" {
					t.Errorf("header = %v, want alg %s typ JWT", parsed.Header, alg)
				}
				if _, kid := hub.SigningKey(); parsed.Header["kid"] != kid {
					t.Errorf("kid = %v, want current %s", parsed.Header["kid"], kid)
				}
				iat, _ := claims["iat"].(float64)
				exp, _ := claims["exp"].(float64)
				if d := exp - iat; d <= 0 || d > 300 || d != DefaultTokenLifetime.Seconds() {
					t.Errorf("exp - iat = %v, want %v (≤ 300)", d, DefaultTokenLifetime.Seconds())
				}
				if _, ok := claims["nbf"]; !ok {
					t.Error("nbf missing")
				}
				if claims["sub"] != tc.user || claims["nonce"] != state {
					t.Errorf("sub/nonce = %v/%v", claims["sub"], claims["nonce"])
				}
				if jti, _ := claims["jti"].(string); len(jti) < 22 {
					t.Errorf("jti %q shorter than 128 bits", jti)
				}
				for _, c := range []string{"name", "email", "role"} {
					if s, _ := claims[c].(string); s == "" {
						t.Errorf("claim %s empty", c)
					}
				}
				perms, ok := claims["visitor_permissions"].([]any)
				if !ok || len(perms) != tc.wantPerms {
					t.Errorf("visitor_permissions = %v, want %d keys", claims["visitor_permissions"], tc.wantPerms)
				}
				for _, p := range perms {
					if s, _ := p.(string); !visitor.ValidPermission(visitor.Permission(s)) {
						t.Errorf("permission %v is not a Visitor key", p)
					}
				}
				orgID, hasOrg := claims["org_id"]
				_, hasOrgName := claims["org_name"]
				if tc.wantOrg == "" {
					if hasOrg || hasOrgName {
						t.Errorf("no-org user has org claims %v %v", orgID, claims["org_name"])
					}
				} else if orgID != tc.wantOrg || !hasOrgName {
					t.Errorf("org_id = %v, want %s with org_name", orgID, tc.wantOrg)
				}
			})
		}
	}
}

func TestLoginPickerAndErrors(t *testing.T) {
	_, srv := newTestHub(t, Config{VisitorURL: testVisitorURL}, Options{})

	t.Run("picker lists every user", func(t *testing.T) {
		status, _, body := do(t, http.MethodGet, srv.URL+"/login?redirect=visitor&state=abc", nil, "")
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		for _, u := range DefaultFixture().Users {
			if !strings.Contains(body, `value="`+u.ID+`"`) || !strings.Contains(body, u.Name) {
				t.Errorf("picker misses user %s", u.ID)
			}
		}
		if !strings.Contains(body, `name="state" value="abc"`) || !strings.Contains(body, `method="post" action="/login"`) {
			t.Errorf("picker form does not carry the state back:\n%s", body)
		}
	})

	t.Run("picker post redirects", func(t *testing.T) {
		form := url.Values{"redirect": {"visitor"}, "state": {"s1"}, "user": {UserSecurity}}
		status, hdr, _ := do(t, http.MethodPost, srv.URL+"/login",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
		tok := callbackToken(t, status, http.StatusSeeOther, hdr, "s1")
		_, claims, err := verifyToken(t, srv, tok, DefaultPublicURL, nil)
		if err != nil || claims["sub"] != UserSecurity {
			t.Fatalf("token: %v, sub %v", err, claims["sub"])
		}
	})

	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"unknown redirect", "redirect=crm&state=s", http.StatusBadRequest},
		{"no redirect", "state=s", http.StatusBadRequest},
		{"no state", "redirect=visitor", http.StatusBadRequest},
		{"huge state", "redirect=visitor&state=" + strings.Repeat("x", 600), http.StatusBadRequest},
		{"unknown user", "redirect=visitor&state=s&user=u_nobody", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, _ := do(t, http.MethodGet, srv.URL+"/login?"+tc.query, nil, "")
			if status != tc.want || hdr.Get("Location") != "" {
				t.Errorf("status %d location %q, want %d and no redirect", status, hdr.Get("Location"), tc.want)
			}
		})
	}
}

func TestIssueTokenMutate(t *testing.T) {
	clock := newFakeClock()
	hub, srv := newTestHub(t, Config{}, Options{Now: clock.Now})
	iss := DefaultPublicURL

	tests := []struct {
		name    string
		mutate  func(c, h map[string]any)
		wantErr error
	}{
		{"as issued", nil, nil},
		{"expired", func(c, h map[string]any) { c["exp"] = clock.Now().Add(-2 * time.Minute).Unix() }, jwt.ErrTokenExpired},
		{"wrong audience", func(c, h map[string]any) { c["aud"] = []string{"crm"} }, jwt.ErrTokenInvalidAudience},
		{"wrong issuer", func(c, h map[string]any) { c["iss"] = "https://evil.test" }, jwt.ErrTokenInvalidIssuer},
		{"alg none in header", func(c, h map[string]any) { h["alg"] = "none" }, jwt.ErrTokenSignatureInvalid},
		{"unknown kid", func(c, h map[string]any) { h["kid"] = "nope" }, jwt.ErrTokenUnverifiable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := hub.IssueToken(UserAdmin, "n1", tc.mutate)
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			_, _, err = verifyToken(t, srv, tok, iss, clock.Now)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("verified, want %v", tc.wantErr)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}

	if _, err := hub.IssueToken("u_nobody", "s", nil); visitor.ErrorCode(err) != visitor.ENOTFOUND {
		t.Errorf("unknown user: %v, want not_found", err)
	}
}

func TestSigningKeyMatchesJWKS(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			hub, srv := newTestHub(t, Config{Algorithm: alg}, Options{})
			priv, kid := hub.SigningKey()
			_, set := fetchJWKS(t, srv)
			if len(set.Keys) != 1 || set.Keys[0].Kid != kid || set.Keys[0].Alg != alg || set.Keys[0].Use != "sig" {
				t.Fatalf("jwks %+v, want one %s key %s", set.Keys, alg, kid)
			}
			k := set.Keys[0]
			switch pub := priv.Public().(type) {
			case ed25519.PublicKey:
				if k.Kty != "OKP" || k.Crv != "Ed25519" || k.X == "" {
					t.Errorf("Ed25519 JWK %+v", k)
				}
			case *rsa.PublicKey:
				if k.Kty != "RSA" || k.N == "" || k.E != "AQAB" || pub.N.BitLen() < 2048 {
					t.Errorf("RSA JWK %+v", k)
				}
			default:
				t.Fatalf("unexpected key type %T", pub)
			}
			// An HS256 token keyed with the public key is what a cloud must
			// refuse; the served set must not make it verify.
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": DefaultPublicURL, "aud": "visitor", "exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix()})
			tok.Header["kid"] = kid
			s, err := tok.SignedString([]byte(k.X + k.N))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := verifyToken(t, srv, s, DefaultPublicURL, nil); err == nil {
				t.Error("HS256 token verified")
			}
		})
	}
}
