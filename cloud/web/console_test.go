package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

func allPerms() []visitor.Permission {
	var out []visitor.Permission
	for _, p := range visitor.Permissions() {
		out = append(out, p.Key)
	}
	return out
}

// do sends one request through the server's handler as a same-origin browser.
func do(t *testing.T, h http.Handler, method, target string, form url.Values, c *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	if form != nil {
		return doBody(t, h, method, target, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), c)
	}
	return doBody(t, h, method, target, "", nil, c)
}

// doBody sends a same-origin request with the session cookie c and the
// given body (no Content-Type when ctype is empty).
func doBody(t *testing.T, h http.Handler, method, target, ctype string, body io.Reader, c *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestConsolePagesAndNav: each page renders for a user holding every
// permission; a user with none sees only the pages any session may see,
// gets the HTML "Access Denied" page elsewhere, and a navigation without
// the links they may not use.
func TestConsolePagesAndNav(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	admin := sessionWith(t, db, allPerms())
	nobody := sessionWith(t, db, nil)
	pages := []struct {
		path, title string
		open        bool // any session
	}{
		{"/", "The One Visitor", true},
		{"/visits", "Visitor log", false},
		{"/visits/new", "Check a visitor in", false},
		{"/onsite", "On site now", false},
		{"/preregistrations", "Pre-registrations", false},
		{"/hosts", "Host directory", false},
		{"/badges", "Badges", false},
		{"/locations", "Locations", true},
		{"/displays", "Displays", false},
		{"/settings", "Settings", false},
		{"/audit", "Audit trail", false},
	}
	for _, p := range pages {
		rec := do(t, s.Handler(), http.MethodGet, p.path, nil, admin)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<h1>"+p.title+"</h1>") {
			t.Errorf("admin GET %s = %d, want 200 with title %q", p.path, rec.Code, p.title)
		}
		rec = do(t, s.Handler(), http.MethodGet, p.path, nil, nobody)
		if p.open {
			if rec.Code != 200 {
				t.Errorf("GET %s without permissions = %d", p.path, rec.Code)
			}
			body := rec.Body.String()
			for _, hidden := range []string{`href="/displays"`, `href="/settings"`, `href="/visits"`, `action="/locations"`} {
				if strings.Contains(body, hidden) {
					t.Errorf("GET %s without permissions shows %s", p.path, hidden)
				}
			}
			continue
		}
		if rec.Code != 403 || !strings.Contains(rec.Body.String(), "Access Denied") || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("GET %s without permissions = %d %s, want the HTML Access Denied page", p.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	// Static files are served to a session, with their licences alongside.
	for _, f := range []string{"/static/htmx.min.js", "/static/pico.min.css", "/static/console.js", "/static/htmx.LICENSE", "/static/pico.LICENSE.md"} {
		if rec := do(t, s.Handler(), http.MethodGet, f, nil, nobody); rec.Code != 200 || rec.Body.Len() == 0 {
			t.Errorf("GET %s = %d", f, rec.Code)
		}
	}
	if rec := do(t, s.Handler(), http.MethodGet, "/static/../console_render.go", nil, nobody); rec.Code == 200 {
		t.Errorf("static escaped its folder")
	}
}

// TestConsoleForms: valid forms change the store and redirect; refused
// ones answer 422 with the message next to the field and the values kept;
// a cross-site post is refused.
func TestConsoleForms(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	ctx := context.Background()
	admin := sessionWith(t, db, allPerms())
	h := s.Handler()

	rec := do(t, h, http.MethodPost, "/locations", url.Values{"name": {"Annex"}, "address": {"2 Side St"}, "timezone": {"Mars/Olympus"}}, admin)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "Unknown timezone") || !strings.Contains(rec.Body.String(), `value="2 Side St"`) {
		t.Errorf("bad timezone = %d; want 422 with the message and the address kept", rec.Code)
	}
	rec = do(t, h, http.MethodPost, "/locations", url.Values{"name": {"Annex"}, "timezone": {"Europe/Paris"}}, admin)
	if rec.Code != 303 {
		t.Fatalf("add location = %d %s", rec.Code, rec.Body)
	}
	locs, _, _ := db.Locations(ctx, "org_acme", 10, "")
	if len(locs) != 1 {
		t.Fatalf("locations = %+v", locs)
	}
	loc := locs[0]

	rec = do(t, h, http.MethodPost, "/hosts", url.Values{"name": {"Ada"}, "email": {"ada@acme.example"}}, admin)
	if rec.Code != 303 {
		t.Errorf("add host = %d", rec.Code)
	}
	rec = do(t, h, http.MethodPost, "/visits", url.Values{"location_id": {loc.ID}, "name": {"Grace"}}, admin)
	if rec.Code != 303 || !strings.HasPrefix(rec.Header().Get("Location"), "/visits") {
		t.Errorf("check in = %d %s", rec.Code, rec.Header().Get("Location"))
	}
	visits, _, _ := db.Visits(ctx, "org_acme", visitor.VisitFilter{Status: visitor.VisitCheckedIn})
	if len(visits) != 1 {
		t.Fatalf("visits = %+v", visits)
	}

	// Badges: add, assign, return, retire.
	if rec := do(t, h, http.MethodPost, "/badges", url.Values{"location_id": {loc.ID}, "number": {"7"}}, admin); rec.Code != 303 {
		t.Fatalf("add badge = %d %s", rec.Code, rec.Body)
	}
	badges, _, _ := db.Badges(ctx, "org_acme", "", 10, "")
	for _, step := range []struct {
		form url.Values
		want visitor.BadgeStatus
	}{
		{url.Values{"status": {"assigned"}, "visit_id": {visits[0].ID}}, visitor.BadgeAssigned},
		{url.Values{"status": {"available"}}, visitor.BadgeAvailable},
		{url.Values{"status": {"retired"}}, visitor.BadgeRetired},
	} {
		if rec := do(t, h, http.MethodPost, "/badges/"+badges[0].ID+"/status", step.form, admin); rec.Code != 303 {
			t.Fatalf("badge %v = %d %s", step.form, rec.Code, rec.Body)
		}
		b, _, _ := db.Badges(ctx, "org_acme", "", 10, "")
		if b[0].Status != step.want {
			t.Errorf("badge after %v = %s", step.form, b[0].Status)
		}
	}

	// Pre-registration: the invite code is shown; cancel works once.
	rec = do(t, h, http.MethodPost, "/preregistrations", url.Values{"location_id": {loc.ID}, "name": {""}, "company": {"Keep Co"}}, admin)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "Enter the guest") || !strings.Contains(rec.Body.String(), `value="Keep Co"`) {
		t.Errorf("pre-registration without a name = %d", rec.Code)
	}
	rec = do(t, h, http.MethodPost, "/preregistrations", url.Values{"location_id": {loc.ID}, "name": {"Expected Eve"}, "expected_at": {"2026-05-01T09:30"}}, admin)
	if rec.Code != 303 {
		t.Fatalf("pre-register = %d %s", rec.Code, rec.Body)
	}
	page := do(t, h, http.MethodGet, rec.Header().Get("Location"), nil, admin).Body.String()
	code := regexp.MustCompile(`id="invite-code">([A-Z0-9]{8})<`).FindStringSubmatch(page)
	if code == nil {
		t.Fatalf("no invite code shown after creating: %s", page)
	}
	preregs, _, _ := db.Preregistrations(ctx, "org_acme", "", 10, "")
	if len(preregs) != 1 || preregs[0].InviteCode != code[1] || preregs[0].ExpectedAt.IsZero() {
		t.Fatalf("pre-registrations = %+v", preregs)
	}
	if rec := do(t, h, http.MethodPost, "/preregistrations/"+preregs[0].ID+"/cancel", url.Values{}, admin); rec.Code != 303 {
		t.Errorf("cancel = %d", rec.Code)
	}
	if rec := do(t, h, http.MethodPost, "/preregistrations/"+preregs[0].ID+"/cancel", url.Values{}, admin); rec.Code != 409 {
		t.Errorf("second cancel = %d, want 409", rec.Code)
	}

	// Settings, and an integration key shown once.
	rec = do(t, h, http.MethodPost, "/settings", url.Values{"retention_days": {"-3"}, "badge_template": {"{name}"}, "auto_checkout_time": {"25:99"}}, admin)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "HH:MM") || !strings.Contains(rec.Body.String(), "0 (keep forever)") {
		t.Errorf("bad settings = %d", rec.Code)
	}
	rec = do(t, h, http.MethodPost, "/settings", url.Values{"retention_days": {"90"}, "badge_template": {"{name} / {company}"}, "auto_checkout_time": {"19:00"}, "nda_enabled": {"on"}, "nda_text": {"Keep it quiet."}, "nda_version": {"2"}}, admin)
	if rec.Code != 303 {
		t.Fatalf("save settings = %d %s", rec.Code, rec.Body)
	}
	st, _ := db.Settings(ctx, "org_acme")
	if st.RetentionDays != 90 || st.AutoCheckoutTime != "19:00" || !st.NDAEnabled || st.NDAText != "Keep it quiet." || st.BadgeTemplate != "{name} / {company}" {
		t.Errorf("settings = %+v", st)
	}
	rec = do(t, h, http.MethodPost, "/settings/keys", url.Values{"key_name": {"Door controller"}}, admin)
	secret := regexp.MustCompile(`id="new-secret">([^<]+)<`).FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || secret == nil || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("create key = %d, secret shown: %v", rec.Code, secret != nil)
	}
	k, err := db.IntegrationKeyByHash(ctx, store.HashIntegrationKey(secret[1]))
	if err != nil || k.Name != "Door controller" {
		t.Fatalf("the shown secret is not the key: %v", err)
	}
	if strings.Contains(do(t, h, http.MethodGet, "/settings", nil, admin).Body.String(), secret[1]) {
		t.Error("the secret is shown again")
	}
	if rec := do(t, h, http.MethodPost, "/settings/keys/"+k.ID+"/revoke", url.Values{}, admin); rec.Code != 303 {
		t.Errorf("revoke = %d", rec.Code)
	}
	if _, err := db.IntegrationKeyByHash(ctx, store.HashIntegrationKey(secret[1])); visitor.ErrorCode(err) != visitor.ENOTFOUND {
		t.Errorf("revoked key still found: %v", err)
	}

	// Check-out from the console, then the audit trail shows it.
	if rec := do(t, h, http.MethodPost, "/visits/"+visits[0].ID+"/checkout", url.Values{"return": {"https://evil.example/"}}, admin); rec.Code != 303 || rec.Header().Get("Location") != "/visits?done=checkout" {
		t.Errorf("check out = %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if body := do(t, h, http.MethodGet, "/audit", nil, admin).Body.String(); !strings.Contains(body, "visit.check_out") || !strings.Contains(body, "integration_key.revoke") {
		t.Error("audit trail lacks the check-out or the key revocation")
	}

	// A cross-site form post is refused.
	req := httptest.NewRequest(http.MethodPost, "/visits", strings.NewReader("name=X&location_id="+loc.ID))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(admin)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != 403 {
		t.Errorf("cross-site check-in = %d", rr.Code)
	}
}

// TestConsoleLiveStream: the SSE endpoint refuses a non-stream client and
// streams the rows at once and again after a change.
func TestConsoleLiveStream(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	ctx := context.Background()
	sess := sessionWith(t, db, []visitor.Permission{visitor.PermVisitorsView})
	if rec := do(t, s.Handler(), http.MethodGet, "/visits/live", nil, sess); rec.Code != http.StatusNotAcceptable {
		t.Errorf("live without Accept = %d", rec.Code)
	}
	loc, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ", Timezone: "UTC"}, store.System)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.URL+"/visits/live", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.AddCookie(sess)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	nextEvent := sseEvents(t, resp)
	if first := nextEvent(); !strings.Contains(first, "No visits match") {
		t.Errorf("first event = %q", first)
	}
	start := time.Now()
	if _, err := db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: "Streamed Sue"}, Source: visitor.SourceKiosk}, store.System); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(); !strings.Contains(ev, "Streamed Sue") {
		t.Errorf("event after check-in = %q", ev)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("change reached the stream after %v", d)
	}
}
