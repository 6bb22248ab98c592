package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/integration"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

const platformKey = "platform-key-0123456789abcdef"

var admin = store.Actor{Type: store.ActorUser, ID: "u_admin"}

type env struct {
	db        *store.DB
	h         *integration.Handler
	acmeKey   string
	globexKey string
	revoked   string
	acmeLoc   visitor.Location
}

func setup(t *testing.T, engine storetest.Engine, opts integration.Options) *env {
	t.Helper()
	ctx := context.Background()
	// 23:30 UTC: already "tomorrow" in Tokyo, still "today" in New York.
	now := time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)
	db := storetest.Open(t, engine, store.Options{Now: func() time.Time { return now }})
	e := &env{db: db}
	for _, tenant := range []string{"org_acme", "org_globex"} {
		if err := db.EnsureTenant(ctx, tenant, tenant); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if e.acmeLoc, err = db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "Acme NYC", Address: "5th Avenue", Timezone: "America/New_York"}, admin); err != nil {
		t.Fatal(err)
	}
	tokyo, _ := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "Acme Tokyo", Timezone: "Asia/Tokyo"}, admin)
	globexLoc, _ := db.CreateLocation(ctx, "org_globex", visitor.Location{Name: "Globex HQ", Timezone: "UTC"}, admin)
	host, _ := db.CreateHost(ctx, "org_acme", visitor.Host{Name: "Ada Host"}, admin)
	for _, v := range []struct {
		tenant, loc, host, name string
		at                      time.Time
	}{
		{"org_acme", e.acmeLoc.ID, host.ID, "Alice Today", now.Add(-time.Hour)},         // NY today
		{"org_acme", e.acmeLoc.ID, "", "Bob Yesterday", now.Add(-24 * time.Hour)},       // NY yesterday
		{"org_acme", tokyo.ID, "", "Chie Yesterday In Tokyo", now.Add(-10 * time.Hour)}, // Tokyo 24th, and Tokyo is on the 25th
		{"org_globex", globexLoc.ID, "", "Gus Globex", now.Add(-time.Minute)},
	} {
		if _, err := db.CheckIn(ctx, v.tenant, visitor.Visit{LocationID: v.loc, HostID: v.host, Visitor: visitor.Person{Name: v.name, Company: "Co"}, CheckedInAt: v.at}, admin); err != nil {
			t.Fatal(err)
		}
	}
	e.acmeKey, e.globexKey, e.revoked = "vk_acme_0123456789abcdef0123456789", "vk_globex_0123456789abcdef012345678", "vk_revoked_0123456789abcdef01234567"
	db.CreateIntegrationKey(ctx, "org_acme", "door", e.acmeKey, admin)
	db.CreateIntegrationKey(ctx, "org_globex", "siem", e.globexKey, admin)
	k, _ := db.CreateIntegrationKey(ctx, "org_acme", "old", e.revoked, admin)
	db.RevokeIntegrationKey(ctx, "org_acme", k.ID, admin)
	if opts.PlatformKey == "" {
		opts.PlatformKey = platformKey
	}
	e.h = integration.New(db, opts)
	return e
}

func (e *env) do(t *testing.T, method, path, key, ctype string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("X-Integration-Key", key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func TestKeyMatrix(t *testing.T) {
	e := setup(t, storetest.SQLite, integration.Options{})
	var unauthorized string
	for _, r := range integration.Routes() {
		for name, key := range map[string]string{"missing": "", "wrong": "nope-not-a-key", "revoked": e.revoked, "platform-like": platformKey + "x"} {
			rec := e.do(t, r[0], r[1], key, "application/json", []byte(`{}`))
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with %s key = %d", r[0], r[1], name, rec.Code)
			}
			if unauthorized == "" {
				unauthorized = rec.Body.String()
			} else if rec.Body.String() != unauthorized {
				t.Errorf("401 bodies differ: %q vs %q", rec.Body.String(), unauthorized)
			}
		}
		for name, key := range map[string]string{"platform": platformKey, "tenant": e.acmeKey} {
			path := r[1]
			if r[1] == "/api/search" {
				path += "?q=a&tenant_id=org_acme"
			}
			body := []byte(`{"id":"evt-` + name + `","type":"t","tenantid":"org_acme"}`)
			rec := e.do(t, r[0], path, key, "application/json", body)
			if rec.Code == http.StatusUnauthorized || rec.Code >= 500 {
				t.Errorf("%s %s with the %s key = %d %s", r[0], r[1], name, rec.Code, rec.Body)
			}
		}
	}
	// With no INTEGRATION_KEY configured the platform key does not exist.
	noPlat := integration.New(e.db, integration.Options{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/integration/locations", nil)
	req.Header.Set("X-Integration-Key", "")
	noPlat.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("no platform key configured, empty key: %d", rec.Code)
	}
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

type visitsBody struct {
	Visits []struct {
		ID, TenantID, LocationName, VisitorName, HostName, Status string
		TenantIDJSON                                              string `json:"tenant_id"`
		LocationNameJSON                                          string `json:"location_name"`
		VisitorNameJSON                                           string `json:"visitor_name"`
		HostNameJSON                                              string `json:"host_name"`
	} `json:"visits"`
}

func TestVisitorsTodayScopeAndLocalDate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		e := setup(t, engine, integration.Options{})
		names := func(rec *httptest.ResponseRecorder) map[string]string {
			out := map[string]string{}
			for _, v := range decode[visitsBody](t, rec).Visits {
				out[v.VisitorNameJSON] = v.TenantIDJSON
			}
			return out
		}
		all := names(e.do(t, "GET", "/api/integration/visitors-today", platformKey, "", nil))
		want := map[string]string{"Alice Today": "org_acme", "Gus Globex": "org_globex"}
		if len(all) != len(want) || all["Alice Today"] != "org_acme" || all["Gus Globex"] != "org_globex" {
			t.Errorf("platform visitors-today = %v, want %v (each location's own date)", all, want)
		}
		if got := names(e.do(t, "GET", "/api/integration/visitors-today?tenant_id=org_globex", platformKey, "", nil)); len(got) != 1 || got["Gus Globex"] == "" {
			t.Errorf("platform filtered to globex = %v", got)
		}
		if got := names(e.do(t, "GET", "/api/integration/visitors-today", e.acmeKey, "", nil)); len(got) != 1 || got["Alice Today"] == "" {
			t.Errorf("acme key = %v", got)
		}
		if got := names(e.do(t, "GET", "/api/integration/visitors-today?tenant_id=org_globex", e.acmeKey, "", nil)); len(got) != 0 {
			t.Errorf("acme key asking for globex got %v", got)
		}
		rec := e.do(t, "GET", "/api/integration/visitors-today", e.acmeKey, "", nil)
		if v := decode[visitsBody](t, rec).Visits; len(v) != 1 || v[0].HostNameJSON != "Ada Host" || v[0].LocationNameJSON != "Acme NYC" {
			t.Errorf("row = %+v", v)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
	})
}

func TestLocationsAndSearchScope(t *testing.T) {
	e := setup(t, storetest.SQLite, integration.Options{})
	type locs struct {
		Locations []struct {
			TenantID string `json:"tenant_id"`
			Timezone string `json:"timezone"`
		} `json:"locations"`
	}
	if l := decode[locs](t, e.do(t, "GET", "/api/integration/locations", platformKey, "", nil)).Locations; len(l) != 3 {
		t.Errorf("platform sees %d locations, want 3", len(l))
	}
	l := decode[locs](t, e.do(t, "GET", "/api/integration/locations", e.globexKey, "", nil)).Locations
	if len(l) != 1 || l[0].TenantID != "org_globex" || l[0].Timezone != "UTC" {
		t.Errorf("globex key sees %+v", l)
	}
	if l := decode[locs](t, e.do(t, "GET", "/api/integration/locations?tenant_id=org_acme", e.globexKey, "", nil)).Locations; len(l) != 0 {
		t.Errorf("globex key asking for acme sees %+v", l)
	}

	type result struct {
		Visitors []struct {
			ID, Name, Status string
			Location         struct{ ID, Name string }
		} `json:"visitors"`
		Locations []struct{ Name string } `json:"locations"`
	}
	r := decode[result](t, e.do(t, "GET", "/api/search?q=alice&tenant_id=org_acme", platformKey, "", nil))
	if len(r.Visitors) != 1 || r.Visitors[0].Location.Name != "Acme NYC" || r.Visitors[0].Status != "checked_in" {
		t.Errorf("platform search = %+v", r)
	}
	if rec := e.do(t, "GET", "/api/search?q=alice", platformKey, "", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("platform search without tenant_id = %d", rec.Code)
	}
	if r := decode[result](t, e.do(t, "GET", "/api/search?q=gus&tenant_id=org_globex", e.acmeKey, "", nil)); len(r.Visitors) != 0 {
		t.Errorf("acme key found globex visitors: %+v", r)
	}
	if r := decode[result](t, e.do(t, "GET", "/api/search?q=acme", e.acmeKey, "", nil)); len(r.Locations) != 2 {
		t.Errorf("acme key location search = %+v", r)
	}
	for _, bad := range []string{"limit=0", "limit=x", "q=" + strings.Repeat("a", 201)} {
		if rec := e.do(t, "GET", "/api/search?tenant_id=org_acme&"+bad, platformKey, "", nil); rec.Code != http.StatusBadRequest {
			t.Errorf("search %s = %d", bad, rec.Code)
		}
	}
}

func TestWebhook(t *testing.T) {
	e := setup(t, storetest.SQLite, integration.Options{})
	post := func(key, ctype, body string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/integration/webhook", strings.NewReader(body))
		req.Header.Set("X-Integration-Key", key)
		req.Header.Set("Content-Type", ctype)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec
	}
	ce := `{"specversion":"1.0","id":"sec-1","source":"security","type":"security.flagged","tenantid":"org_acme","data":{"x":1}}`
	first := post(platformKey, "application/cloudevents+json", ce)
	second := post(e.acmeKey, "application/json", ce)
	if first.Code != http.StatusAccepted || second.Code != http.StatusAccepted {
		t.Fatalf("webhook = %d %s, %d %s", first.Code, first.Body, second.Code, second.Body)
	}
	id1 := decode[map[string]string](t, first)["audit_id"]
	if id1 == "" || decode[map[string]string](t, second)["audit_id"] != id1 {
		t.Errorf("same event id logged twice: %s vs %s", first.Body, second.Body)
	}
	audit, _, _ := e.db.Audit(context.Background(), "org_acme", 0, "")
	n := 0
	for _, r := range audit {
		if r.Action == "webhook.received" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d webhook audit records, want 1", n)
	}
	// Dedupe by webhook-id header, then by body hash.
	noID := `{"type":"x","tenantid":"org_acme"}`
	a := post(e.acmeKey, "application/json", noID, "webhook-id", "msg_1")
	b := post(e.acmeKey, "application/json", `{"type":"x","tenantid":"org_acme","other":1}`, "webhook-id", "msg_1")
	if decode[map[string]string](t, a)["audit_id"] != decode[map[string]string](t, b)["audit_id"] {
		t.Error("webhook-id not used as dedupe key")
	}
	c := post(e.acmeKey, "application/json", `{"type":"y"}`)
	d := post(e.acmeKey, "application/json", `{"type":"y"}`)
	if decode[map[string]string](t, c)["audit_id"] != decode[map[string]string](t, d)["audit_id"] {
		t.Error("identical bodies not deduped by hash")
	}
	tests := []struct {
		name, key, ctype, body string
		want                   int
	}{
		{"too large", e.acmeKey, "application/json", `{"pad":"` + strings.Repeat("a", integration.MaxWebhookBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"not json", e.acmeKey, "application/json", `not json`, http.StatusBadRequest},
		{"array", e.acmeKey, "application/json", `[1,2]`, http.StatusBadRequest},
		{"form", e.acmeKey, "application/x-www-form-urlencoded", `a=b`, http.StatusUnsupportedMediaType},
		{"other tenant", e.acmeKey, "application/json", `{"id":"z","tenantid":"org_globex"}`, http.StatusForbidden},
		{"platform without tenant", platformKey, "application/json", `{"id":"z"}`, http.StatusBadRequest},
		{"platform unknown tenant", platformKey, "application/json", `{"id":"z","tenantid":"org_nobody"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		if rec := post(tt.key, tt.ctype, tt.body); rec.Code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
		}
	}
}

func TestRateLimitPerKey(t *testing.T) {
	e := setup(t, storetest.SQLite, integration.Options{Rate: rate.Every(time.Hour), Burst: 3})
	for i := 0; i < 3; i++ {
		if rec := e.do(t, "GET", "/api/integration/locations", e.acmeKey, "", nil); rec.Code != 200 {
			t.Fatalf("request %d = %d", i, rec.Code)
		}
	}
	rec := e.do(t, "GET", "/api/integration/locations", e.acmeKey, "", nil)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("4th request = %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Another key has its own budget.
	if rec := e.do(t, "GET", "/api/integration/locations", e.globexKey, "", nil); rec.Code != 200 {
		t.Errorf("other key = %d", rec.Code)
	}
}
