package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// TestSessionCookieAndCleanURL checks the cookies and the 303 of a
// sign-in, under http and https public URLs.
func TestSessionCookieAndCleanURL(t *testing.T) {
	for _, tc := range []struct {
		publicURL  string
		wantSecure bool
	}{
		{"", false},
		{"https://visitor.example.com", true},
	} {
		t.Run(fmt.Sprint("secure=", tc.wantSecure), func(t *testing.T) {
			e := newHubEnv(t.Context(), t, "")
			c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, nil, tc.publicURL)
			state, sc := beginLogin(t, c)
			if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure != tc.wantSecure || sc.MaxAge <= 0 || sc.MaxAge > 900 {
				t.Errorf("pre-login cookie = %+v", sc)
			}
			resp := get(t, callbackURL(c, issue(t, e, state, nil), state), sc)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("callback = %d", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != "/" || strings.Contains(loc, "token") {
				t.Errorf("Location = %q, want the clean /", loc)
			}
			s := cookie(resp, auth.SessionCookie)
			if s == nil || !s.HttpOnly || s.SameSite != http.SameSiteLaxMode || s.Secure != tc.wantSecure || s.Path != "/" {
				t.Fatalf("session cookie = %+v", s)
			}
			if s.MaxAge != int((8 * time.Hour).Seconds()) {
				t.Errorf("session Max-Age = %d", s.MaxAge)
			}
			if len(s.Value) < 22 { // ≥ 128 bits, base64url
				t.Errorf("session id %d characters", len(s.Value))
			}
			if cl := cookie(resp, auth.StateCookie); cl == nil || cl.MaxAge >= 0 {
				t.Errorf("pre-login cookie not cleared: %+v", cl)
			}
		})
	}
}

// TestSessionAbsoluteExpiry: a session works until 8 hours after sign-in,
// whatever the activity, and not after.
func TestSessionAbsoluteExpiry(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	clk := &clock{}
	c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, clk, "")
	sess := e.login(t, c, "u_reception")
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{
		{0, 200},
		{4 * time.Hour, 200},
		{4*time.Hour - time.Minute, 200},
		{2 * time.Minute, 401},
	} {
		clk.Advance(step.advance)
		if got := get(t, c.url+"/api/v1/me", sess).StatusCode; got != step.want {
			t.Fatalf("after +%v: /api/v1/me = %d, want %d", step.advance, got, step.want)
		}
	}
}

// TestLogoutEverywhere: logging out on one instance ends the session on
// another that shares the database.
func TestLogoutEverywhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		e := newHubEnv(t.Context(), t, "")
		dbURL := storetest.URL(t, engine)
		a := e.newCloud(t, dbURL, e.cloudLn, nil, "")
		b := e.newCloud(t, dbURL, nil, nil, "")
		sess := e.login(t, a, "u_admin")
		for _, c := range []*cloudInstance{a, b} {
			if got := get(t, c.url+"/api/v1/me", sess).StatusCode; got != 200 {
				t.Fatalf("me on %s = %d", c.url, got)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, b.url+"/auth/logout", nil)
		req.AddCookie(sess)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 204 {
			t.Fatalf("logout = %d", resp.StatusCode)
		}
		if cl := cookie(resp, auth.SessionCookie); cl == nil || cl.MaxAge >= 0 {
			t.Error("logout did not clear the cookie")
		}
		for _, c := range []*cloudInstance{a, b} {
			if got := get(t, c.url+"/api/v1/me", sess).StatusCode; got != 401 {
				t.Errorf("me on %s after logout = %d, want 401", c.url, got)
			}
		}
	})
}

// TestUnauthenticated: the API answers 401 JSON, the console redirects to Hub.
func TestUnauthenticated(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, nil, "")
	resp := get(t, c.url+"/api/v1/me")
	var b map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != 401 || b["error"] != "unauthorized" {
		t.Errorf("me without session = %d %v", resp.StatusCode, b)
	}
	resp = get(t, c.url+"/", &http.Cookie{Name: auth.SessionCookie, Value: "forged"})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 302 || !strings.HasPrefix(loc, e.hubURL+"/login?") || !strings.Contains(loc, "redirect=visitor") || !strings.Contains(loc, "state=") {
		t.Errorf("console with a forged session = %d %s", resp.StatusCode, loc)
	}
}

// sessionWith creates a session holding perms directly in the store.
func sessionWith(t *testing.T, db *store.DB, perms []visitor.Permission) *http.Cookie {
	t.Helper()
	id := fmt.Sprintf("test-session-%d-%d", len(perms), time.Now().UnixNano())
	now := db.Now()
	err := db.CreateSession(context.Background(), store.LoginSuccess{Session: visitor.Session{
		ID: id, UserID: "u_test", TenantID: "org_acme", TenantName: "Acme Corp", Name: "Tess",
		Permissions: perms, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: auth.SessionCookie, Value: id}
}

// TestPermissionMatrix walks every route that declares one of the twelve
// permissions: every other permission gets 403, the one permission alone
// does not.
func TestPermissionMatrix(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	var all []visitor.Permission
	for _, p := range visitor.Permissions() {
		all = append(all, p.Key)
	}
	checked := 0
	for _, r := range s.Routes() {
		p, ok := s.Permission(r.Method, r.Path)
		if !ok || !visitor.ValidPermission(p) {
			continue
		}
		checked++
		var others []visitor.Permission
		for _, q := range all {
			if q != p {
				others = append(others, q)
			}
		}
		path := strings.ReplaceAll(r.Path, ":id", "01900000-0000-7000-8000-000000000000")
		do := func(c *http.Cookie) *httptest.ResponseRecorder {
			var req *http.Request
			if r.Method == http.MethodGet {
				req = httptest.NewRequest(r.Method, path, nil)
			} else {
				req = httptest.NewRequest(r.Method, path, strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
			}
			req.AddCookie(c)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			return rec
		}
		key := r.Method + " " + r.Path
		rec := do(sessionWith(t, db, others))
		denied := strings.Contains(rec.Body.String(), `"message":"Access Denied"`) && strings.Contains(rec.Body.String(), `"error":"forbidden"`)
		if !strings.HasPrefix(r.Path, "/api/") { // console pages answer an HTML page
			denied = strings.Contains(rec.Body.String(), "<h1>Access Denied</h1>")
		}
		if rec.Code != http.StatusForbidden || !denied {
			t.Errorf("%s without %s = %d %s; want 403 Access Denied", key, p, rec.Code, rec.Body)
		}
		rec = do(sessionWith(t, db, []visitor.Permission{p}))
		if rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized {
			t.Errorf("%s with only %s = %d %s", key, p, rec.Code, rec.Body)
		}
	}
	if checked < 10 {
		t.Errorf("only %d routes checked", checked)
	}
}

// TestCrossOriginWrites: a cross-site browser write is refused even with a
// valid session; a script's write (no Origin, no Sec-Fetch-Site) passes.
func TestCrossOriginWrites(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	sess := sessionWith(t, db, []visitor.Permission{visitor.PermLocationsManage})
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		want    int
	}{
		{"script", "/api/v1/locations", nil, 201},
		{"same origin browser", "/api/v1/locations", map[string]string{"Sec-Fetch-Site": "same-origin"}, 201},
		{"cross-site browser", "/api/v1/locations", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign Origin", "/api/v1/locations", map[string]string{"Origin": "https://evil.example"}, 403},
		{"cross-site logout", "/auth/logout", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(`{"name":"HQ","timezone":"Europe/Berlin"}`))
		req.AddCookie(sess)
		for k, v := range tt.headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s: POST %s = %d %s, want %d", tt.name, tt.path, rec.Code, rec.Body, tt.want)
		}
	}
	// The session survived the refused cross-site logout.
	req := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
	req.AddCookie(sess)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("me after refused logout = %d", rec.Code)
	}
}
