package store_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var staff = store.Actor{Type: store.ActorUser, ID: "u_admin"}

// fixture is a store with two tenants, each with a location and a host.
type fixture struct {
	db       *store.DB
	clock    *clock
	loc      visitor.Location
	host     visitor.Host
	otherLoc visitor.Location
}

func newFixture(t *testing.T, engine storetest.Engine) *fixture {
	t.Helper()
	ctx := context.Background()
	c := newClock()
	db := storetest.Open(t, engine, store.Options{Now: c.Now})
	f := &fixture{db: db, clock: c}
	for _, tenant := range []string{"org_acme", "org_globex"} {
		if err := db.EnsureTenant(ctx, tenant, strings.ToUpper(tenant)); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if f.loc, err = db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ Lobby", Address: "1 Main St", Timezone: "Europe/Paris"}, staff); err != nil {
		t.Fatal(err)
	}
	if f.host, err = db.CreateHost(ctx, "org_acme", visitor.Host{Name: "Ada Lovelace", Email: "Ada@Acme.example"}, staff); err != nil {
		t.Fatal(err)
	}
	if f.otherLoc, err = db.CreateLocation(ctx, "org_globex", visitor.Location{Name: "Globex Tower", Timezone: "America/New_York"}, staff); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		dialect store.Dialect
		wantErr bool
	}{
		{"sqlite:./var/cloud.db", store.SQLite, false},
		{"sqlite:///tmp/x.db", store.SQLite, false},
		{"postgres://u@127.0.0.1:5432/db", store.Postgres, false},
		{"postgresql://u@host/db?sslmode=disable", store.Postgres, false},
		{"sqlite:", "", true},
		{"sqlite::memory:", "", true},
		{"nonsense", "", true},
		{"mysql://x", "", true},
		{"postgres://", "", true},
	}
	for _, tt := range tests {
		d, _, err := store.ParseURL(tt.in)
		if (err != nil) != tt.wantErr || d != tt.dialect {
			t.Errorf("ParseURL(%q) = %q, %v; want %q, error %v", tt.in, d, err, tt.dialect, tt.wantErr)
		}
	}
}

func TestLocationsHostsAndTenantScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		db := f.db

		if _, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "Bad", Timezone: "Mars/Olympus"}, staff); visitor.ErrorCode(err) != visitor.EINVALID {
			t.Errorf("bad timezone: got %v, want EINVALID", err)
		}
		if _, err := db.CreateLocation(ctx, "org_nobody", visitor.Location{Name: "X", Timezone: "UTC"}, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("unknown tenant: got %v, want ENOTFOUND", err)
		}
		got, err := db.Location(ctx, "org_acme", f.loc.ID)
		if err != nil || got.Name != "HQ Lobby" || got.Timezone != "Europe/Paris" || !got.CreatedAt.Equal(f.clock.Now()) {
			t.Errorf("Location = %+v, %v", got, err)
		}
		// Another tenant cannot read it, by id or in a list.
		if _, err := db.Location(ctx, "org_globex", f.loc.ID); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("cross-tenant read: got %v, want ENOTFOUND", err)
		}
		list, _, err := db.Locations(ctx, "org_globex", 0, "")
		if err != nil || len(list) != 1 || list[0].ID != f.otherLoc.ID {
			t.Errorf("globex locations = %+v, %v", list, err)
		}

		// Pagination walks every location once.
		for i := 0; i < 4; i++ {
			if _, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: fmt.Sprintf("Site %d", i), Timezone: "UTC"}, staff); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			items, next, err := db.Locations(ctx, "org_acme", 2, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range items {
				if seen[l.ID] {
					t.Fatalf("location %s listed twice", l.ID)
				}
				seen[l.ID] = true
			}
			if next == "" {
				break
			}
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			cursor = next
		}
		if len(seen) != 5 {
			t.Errorf("paged through %d locations, want 5", len(seen))
		}

		// Host search: prefix, case-insensitive, on name or email, wildcards literal.
		if _, err := db.CreateHost(ctx, "org_acme", visitor.Host{Name: "Grace Hopper", Email: "grace@acme.example"}, staff); err != nil {
			t.Fatal(err)
		}
		for q, want := range map[string]int{"": 2, "ada": 1, "ADA@": 1, "gr": 1, "hopper": 0, "%": 0, "_": 0} {
			hosts, _, err := db.Hosts(ctx, "org_acme", q, 0, "")
			if err != nil || len(hosts) != want {
				t.Errorf("Hosts(%q) = %d hosts, %v; want %d", q, len(hosts), err, want)
			}
		}
		if hosts, _, _ := db.Hosts(ctx, "org_globex", "", 0, ""); len(hosts) != 0 {
			t.Errorf("globex sees %d acme hosts", len(hosts))
		}
		if h, _ := db.Host(ctx, "org_acme", f.host.ID); h.Email != "ada@acme.example" {
			t.Errorf("host email not normalised: %q", h.Email)
		}
	})
}

func eventsOfType(t *testing.T, db *store.DB, tenant, typ string) []visitor.OutboxEvent {
	t.Helper()
	all, _, err := db.Events(context.Background(), tenant, store.MaxLimit, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []visitor.OutboxEvent
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestCheckInAndCheckOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		db := f.db

		in := visitor.Visit{
			ID: "0190f000-0000-7000-8000-000000000001", LocationID: f.loc.ID, HostID: f.host.ID,
			Visitor: visitor.Person{Name: "  Grace Hopper ", Email: "GRACE@navy.example", Company: "Navy"},
		}
		v, err := db.CheckIn(ctx, "org_acme", in, staff)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != visitor.VisitCheckedIn || v.Visitor.Name != "Grace Hopper" || v.VisitorType != visitor.TypeGuest ||
			v.Source != visitor.SourceStaff || !v.CheckedInAt.Equal(f.clock.Now()) {
			t.Errorf("checked-in visit = %+v", v)
		}
		// The same id again is the same visit: no second visit, no second event.
		f.clock.Add(time.Minute)
		again, err := db.CheckIn(ctx, "org_acme", in, staff)
		if err != nil || again.ID != v.ID || !again.CheckedInAt.Equal(v.CheckedInAt) {
			t.Errorf("repeated check-in = %+v, %v", again, err)
		}
		ins := eventsOfType(t, db, "org_acme", visitor.EventCheckedIn)
		if len(ins) != 1 {
			t.Fatalf("%d checked_in events, want 1", len(ins))
		}
		var data struct {
			VisitID      string `json:"visit_id"`
			LocationName string `json:"location_name"`
			Source       string `json:"source"`
			Visitor      struct{ Name, Email, Company string }
			Host         struct{ ID, Name, Email string }
		}
		if err := json.Unmarshal(ins[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.VisitID != v.ID || data.LocationName != "HQ Lobby" || data.Host.Name != "Ada Lovelace" ||
			data.Visitor.Email != "grace@navy.example" || data.Source != "staff" || ins[0].Subject != v.ID {
			t.Errorf("checked_in event = %+v (%s)", data, ins[0].Data)
		}

		// Validation and scope.
		for name, bad := range map[string]visitor.Visit{
			"no name":        {LocationID: f.loc.ID},
			"no location":    {Visitor: visitor.Person{Name: "X"}},
			"other location": {LocationID: f.otherLoc.ID, Visitor: visitor.Person{Name: "X"}},
			"bad email":      {LocationID: f.loc.ID, Visitor: visitor.Person{Name: "X", Email: "nope"}},
			"unknown host":   {LocationID: f.loc.ID, HostID: "h_missing", Visitor: visitor.Person{Name: "X"}},
		} {
			if _, err := db.CheckIn(ctx, "org_acme", bad, staff); visitor.ErrorCode(err) == "" || visitor.ErrorCode(err) == visitor.EINTERNAL {
				t.Errorf("%s: got %v, want a user error", name, err)
			}
		}
		if _, err := db.Visit(ctx, "org_globex", v.ID); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("cross-tenant visit read: %v", err)
		}
		if _, _, err := db.CheckOut(ctx, "org_globex", v.ID, time.Time{}, visitor.SourceStaff, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("cross-tenant check-out: %v", err)
		}

		// Check out twice (console, then kiosk): one event, both audited, the visit never reopens.
		f.clock.Add(time.Hour)
		out, changed, err := db.CheckOut(ctx, "org_acme", v.ID, time.Time{}, visitor.SourceStaff, staff)
		if err != nil || !changed || out.Status != visitor.VisitCheckedOut || !out.CheckedOutAt.Equal(f.clock.Now()) {
			t.Fatalf("check-out = %+v, %v, %v", out, changed, err)
		}
		_, changed, err = db.CheckOut(ctx, "org_acme", v.ID, f.clock.Now().Add(-30*time.Minute), visitor.SourceKiosk, store.Actor{Type: store.ActorDevice, ID: "d1"})
		if err != nil || changed {
			t.Errorf("second check-out: changed=%v err=%v", changed, err)
		}
		if n := len(eventsOfType(t, db, "org_acme", visitor.EventCheckedOut)); n != 1 {
			t.Errorf("%d checked_out events, want 1", n)
		}
		again, err = db.CheckIn(ctx, "org_acme", in, staff)
		if err != nil || again.Status != visitor.VisitCheckedOut {
			t.Errorf("re-check-in of a checked-out visit reopened it: %+v, %v", again, err)
		}
		audit, _, err := db.Audit(ctx, "org_acme", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]int{}
		for _, r := range audit {
			actions[r.Action]++
		}
		if actions["visit.check_out"] != 1 || actions["visit.check_out_repeated"] != 1 || actions["visit.check_in"] != 1 {
			t.Errorf("audit actions = %v", actions)
		}
	})
}

func TestVisitFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		db := f.db
		loc2, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "Annex", Timezone: "UTC"}, staff)
		if err != nil {
			t.Fatal(err)
		}
		day := f.clock.Now()
		var ids []string
		for i := 0; i < 6; i++ {
			loc := f.loc.ID
			if i%2 == 1 {
				loc = loc2.ID
			}
			v, err := db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc, Visitor: visitor.Person{Name: fmt.Sprintf("V%d", i)},
				CheckedInAt: day.Add(time.Duration(i) * 6 * time.Hour)}, staff)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, v.ID)
		}
		if _, _, err := db.CheckOut(ctx, "org_acme", ids[0], time.Time{}, visitor.SourceStaff, staff); err != nil {
			t.Fatal(err)
		}
		count := func(fl visitor.VisitFilter) int {
			vs, _, err := db.Visits(ctx, "org_acme", fl)
			if err != nil {
				t.Fatal(err)
			}
			return len(vs)
		}
		tests := []struct {
			name string
			f    visitor.VisitFilter
			want int
		}{
			{"all", visitor.VisitFilter{}, 6},
			{"location", visitor.VisitFilter{LocationID: loc2.ID}, 3},
			{"on site", visitor.VisitFilter{Status: visitor.VisitCheckedIn}, 5},
			{"checked out", visitor.VisitFilter{Status: visitor.VisitCheckedOut}, 1},
			{"first day", visitor.VisitFilter{From: day, To: day.Add(15 * time.Hour)}, 3},
			{"second day", visitor.VisitFilter{From: day.Add(15 * time.Hour), To: day.Add(48 * time.Hour)}, 3},
		}
		for _, tt := range tests {
			if got := count(tt.f); got != tt.want {
				t.Errorf("%s: %d visits, want %d", tt.name, got, tt.want)
			}
		}
		if got := count(visitor.VisitFilter{LocationID: f.otherLoc.ID}); got != 0 {
			t.Errorf("other tenant's location leaks %d visits", got)
		}
		n, err := db.ActiveLocations(ctx, "org_acme", day.AddDate(0, 0, -1), day.AddDate(0, 1, 0))
		if err != nil || n != 2 {
			t.Errorf("ActiveLocations = %d, %v; want 2", n, err)
		}
		if n, _ := db.ActiveLocations(ctx, "org_acme", day.AddDate(0, 1, 0), day.AddDate(0, 2, 0)); n != 0 {
			t.Errorf("ActiveLocations next month = %d, want 0", n)
		}
	})
}

func TestConsumeTokenIsAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, errs := 0, 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := f.db.ConsumeToken(ctx, "jti-1", f.clock.Now().Add(5*time.Minute))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs++
				}
				if ok {
					wins++
				}
			}()
		}
		wg.Wait()
		if wins != 1 || errs != 0 {
			t.Errorf("50 concurrent consumptions: %d won, %d errors; want exactly 1 and 0", wins, errs)
		}
		// Kept until expiry plus leeway, then purged.
		f.clock.Add(5*time.Minute + 30*time.Second)
		f.db.PurgeExpired(ctx, time.Minute)
		if ok, _ := f.db.ConsumeToken(ctx, "jti-1", f.clock.Now()); ok {
			t.Error("token id purged before expiry + leeway")
		}
		f.clock.Add(time.Minute)
		if n, err := f.db.PurgeExpired(ctx, time.Minute); err != nil || n < 1 {
			t.Errorf("purge removed %d rows, %v", n, err)
		}
	})
}

func TestSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		now := f.clock.Now()
		s := visitor.Session{ID: "raw-session-id-0123456789abcdef", UserID: "u_admin", TenantID: "org_new", TenantName: "New Org",
			Name: "Admin", Email: "admin@new.example", Permissions: []visitor.Permission{visitor.PermAdminKiosk},
			CreatedAt: now, ExpiresAt: now.Add(8 * time.Hour)}
		if err := f.db.CreateSession(ctx, store.LoginSuccess{Session: s, IP: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		if tn, err := f.db.Tenant(ctx, "org_new"); err != nil || tn.Name != "New Org" {
			t.Errorf("tenant from login = %+v, %v", tn, err)
		}
		got, err := f.db.Session(ctx, s.ID)
		if err != nil || got.UserID != "u_admin" || !got.Has(visitor.PermAdminKiosk) || got.Has(visitor.PermAdminSettings) {
			t.Errorf("Session = %+v, %v", got, err)
		}
		if n := len(eventsOfType(t, f.db, "org_new", visitor.EventSSOLogin)); n != 1 {
			t.Errorf("%d login events, want 1", n)
		}
		// Absolute expiry.
		f.clock.Add(8*time.Hour - time.Second)
		if _, err := f.db.Session(ctx, s.ID); err != nil {
			t.Errorf("session ended early: %v", err)
		}
		f.clock.Add(time.Second)
		if _, err := f.db.Session(ctx, s.ID); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("session after 8 h: %v, want ENOTFOUND", err)
		}
		// Logout.
		s2 := s
		s2.ID, s2.CreatedAt, s2.ExpiresAt = "another-raw-session-id-0123456789", f.clock.Now(), f.clock.Now().Add(time.Hour)
		if err := f.db.CreateSession(ctx, store.LoginSuccess{Session: s2}); err != nil {
			t.Fatal(err)
		}
		if err := f.db.DeleteSession(ctx, s2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.Session(ctx, s2.ID); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("session after logout: %v", err)
		}
		// A failed login is an event and, for a known tenant, an audit record.
		if err := f.db.RecordLoginFailure(ctx, store.LoginFailure{TenantID: "org_acme", Reason: "token_replayed", IP: "10.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		fails := eventsOfType(t, f.db, "org_acme", visitor.EventLoginFailed)
		if len(fails) != 1 || fails[0].Subject != "anonymous" || !strings.Contains(string(fails[0].Data), "token_replayed") {
			t.Errorf("login_failed events = %+v", fails)
		}
	})
}

func TestAuditDedupe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		rec := visitor.AuditRecord{ActorType: store.ActorIntegration, ActorID: "k1", Action: "webhook.received",
			Details: json.RawMessage(`{"type":"x"}`), DedupeKey: "evt-1"}
		id1, created1, err := f.db.AppendAudit(ctx, "org_acme", rec)
		if err != nil || !created1 {
			t.Fatal(created1, err)
		}
		id2, created2, err := f.db.AppendAudit(ctx, "org_acme", rec)
		if err != nil || created2 || id2 != id1 {
			t.Errorf("second append: id %s created %v err %v; want %s, false", id2, created2, err, id1)
		}
		// The same key in another tenant is another record.
		if _, created, err := f.db.AppendAudit(ctx, "org_globex", rec); err != nil || !created {
			t.Errorf("other tenant: created %v err %v", created, err)
		}
	})
}

func TestIntegrationKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		secret := "vk_0123456789abcdef0123456789abcdef"
		k, err := f.db.CreateIntegrationKey(ctx, "org_acme", "Door controller", secret, staff)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.db.IntegrationKeyByHash(ctx, store.HashIntegrationKey(secret))
		if err != nil || got.TenantID != "org_acme" || got.ID != k.ID {
			t.Errorf("lookup = %+v, %v", got, err)
		}
		if _, err := f.db.IntegrationKeyByHash(ctx, store.HashIntegrationKey(secret+"x")); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("wrong key: %v", err)
		}
		if err := f.db.RevokeIntegrationKey(ctx, "org_globex", k.ID, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("cross-tenant revoke: %v", err)
		}
		if err := f.db.RevokeIntegrationKey(ctx, "org_acme", k.ID, staff); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.IntegrationKeyByHash(ctx, store.HashIntegrationKey(secret)); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("revoked key still found: %v", err)
		}
		keys, err := f.db.IntegrationKeys(ctx, "org_acme")
		if err != nil || len(keys) != 1 || keys[0].RevokedAt.IsZero() || keys[0].Prefix != secret[:8] {
			t.Errorf("keys = %+v, %v", keys, err)
		}
	})
}

func TestBillingReportsAndLeases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		r := visitor.BillingReport{IdempotencyKey: "visitor:active_locations:org_acme:2026-03-14", TenantID: "org_acme",
			Period: "2026-03", Quantity: 3, AsOf: f.clock.Now()}
		got, created, err := f.db.ClaimBillingReport(ctx, r)
		if err != nil || !created || got.Quantity != 3 {
			t.Fatalf("first claim = %+v, %v, %v", got, created, err)
		}
		r.Quantity = 7
		got, created, err = f.db.ClaimBillingReport(ctx, r)
		if err != nil || created || got.Quantity != 3 {
			t.Errorf("second claim = %+v, %v, %v; want the first figure kept", got, created, err)
		}
		if err := f.db.MarkBillingReport(ctx, r.IdempotencyKey, fmt.Errorf("hub: 503")); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.db.BillingReport(ctx, r.IdempotencyKey); got.LastError != "hub: 503" || !got.SentAt.IsZero() {
			t.Errorf("after failure: %+v", got)
		}
		if err := f.db.MarkBillingReport(ctx, r.IdempotencyKey, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.db.BillingReport(ctx, r.IdempotencyKey); got.LastError != "" || got.SentAt.IsZero() {
			t.Errorf("after success: %+v", got)
		}

		ok, err := f.db.AcquireLease(ctx, "billing", "a", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if ok, _ := f.db.AcquireLease(ctx, "billing", "b", time.Minute); ok {
			t.Error("b took a held lease")
		}
		if ok, _ := f.db.AcquireLease(ctx, "billing", "a", time.Minute); !ok {
			t.Error("a could not renew its lease")
		}
		f.clock.Add(2 * time.Minute)
		if ok, _ := f.db.AcquireLease(ctx, "billing", "b", time.Minute); !ok {
			t.Error("b could not take an expired lease")
		}
		if err := f.db.ReleaseLease(ctx, "billing", "b"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := f.db.AcquireLease(ctx, "billing", "a", time.Minute); !ok {
			t.Error("a could not take a released lease")
		}
	})
}

func TestDevicesBadgesPreregistrationsAndFeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		db := f.db
		pub, _, _ := ed25519.GenerateKey(nil)
		d, err := db.ProvisionDevice(ctx, "org_acme", f.loc.ID, "Front desk", pub, staff)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ProvisionDevice(ctx, "org_globex", f.loc.ID, "x", pub, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("device at another tenant's location: %v", err)
		}
		got, err := db.DeviceByID(ctx, d.ID)
		if err != nil || got.TenantID != "org_acme" || !ed25519.PublicKey(got.PublicKey).Equal(pub) || got.Status != visitor.DeviceActive {
			t.Errorf("DeviceByID = %+v, %v", got, err)
		}
		if _, err := db.SetDeviceStatus(ctx, "org_acme", d.ID, visitor.DeviceRevoked, staff); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetDeviceStatus(ctx, "org_acme", d.ID, visitor.DeviceUnpaired, staff); visitor.ErrorCode(err) != visitor.ECONFLICT {
			t.Errorf("un-revoking by unpair: %v, want ECONFLICT", err)
		}

		b, err := db.AddBadge(ctx, "org_acme", f.loc.ID, "B-001", staff)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddBadge(ctx, "org_acme", f.loc.ID, "B-001", staff); visitor.ErrorCode(err) != visitor.ECONFLICT {
			t.Errorf("duplicate badge: %v", err)
		}
		if _, err := db.SetBadgeStatus(ctx, "org_acme", b.ID, visitor.BadgeAssigned, "", staff); visitor.ErrorCode(err) != visitor.EINVALID {
			t.Errorf("assign without visit: %v", err)
		}
		if _, err := db.SetBadgeStatus(ctx, "org_acme", b.ID, visitor.BadgeRetired, "", staff); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetBadgeStatus(ctx, "org_acme", b.ID, visitor.BadgeAvailable, "", staff); visitor.ErrorCode(err) != visitor.ECONFLICT {
			t.Errorf("retired badge came back: %v", err)
		}

		p, err := db.CreatePreregistration(ctx, "org_acme", visitor.Preregistration{LocationID: f.loc.ID, HostID: f.host.ID,
			Visitor: visitor.Person{Name: "Expected Guest"}, InviteCode: "abc123"}, staff)
		if err != nil || p.InviteCode != "ABC123" || p.Status != visitor.PreregPending {
			t.Fatalf("prereg = %+v, %v", p, err)
		}
		if _, err := db.CreatePreregistration(ctx, "org_acme", visitor.Preregistration{LocationID: f.loc.ID,
			Visitor: visitor.Person{Name: "Other"}, InviteCode: "ABC123"}, staff); visitor.ErrorCode(err) != visitor.ECONFLICT {
			t.Errorf("duplicate invite code: %v", err)
		}

		// The feed for this location has the location, host, badge and
		// pre-registration; the other tenant's feed has none of them.
		changes, err := db.Changes(ctx, "org_acme", f.loc.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var entities []string
		last := int64(0)
		for _, c := range changes {
			if c.Seq <= last {
				t.Errorf("feed out of order: %d after %d", c.Seq, last)
			}
			last = c.Seq
			entities = append(entities, c.Entity)
		}
		sort.Strings(entities)
		want := "badge,badge,host,location,preregistration"
		if strings.Join(entities, ",") != want {
			t.Errorf("feed entities = %v, want %s", entities, want)
		}
		if more, _ := db.Changes(ctx, "org_acme", f.loc.ID, last, 0); len(more) != 0 {
			t.Errorf("feed after the last cursor has %d entries", len(more))
		}
		if other, _ := db.Changes(ctx, "org_globex", f.loc.ID, 0, 0); len(other) != 0 {
			t.Errorf("other tenant's feed has %d acme entries", len(other))
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		url := storetest.URL(t, engine)
		db, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.EnsureTenant(ctx, "org_acme", "Acme"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db, err = store.Open(ctx, url, store.Options{}) // migrations are idempotent
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if tn, err := db.Tenant(ctx, "org_acme"); err != nil || tn.Name != "Acme" {
			t.Errorf("after reopen: %+v, %v", tn, err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestSchemasMatch keeps the two migration sets in step: the same tables
// with the same columns on both engines.
func TestSchemasMatch(t *testing.T) {
	ctx := context.Background()
	lite := storetest.Open(t, storetest.SQLite, store.Options{})
	pg := storetest.Open(t, storetest.Postgres, store.Options{})
	columns := func(db *store.DB, q string) map[string][]string {
		rows, err := db.SQL().QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][]string{}
		for rows.Next() {
			var table, col string
			if err := rows.Scan(&table, &col); err != nil {
				t.Fatal(err)
			}
			if table == "goose_db_version" || table == "sqlite_sequence" {
				continue
			}
			out[table] = append(out[table], col)
		}
		for _, cols := range out {
			sort.Strings(cols)
		}
		return out
	}
	a := columns(lite, `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'`)
	b := columns(pg, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`)
	if len(a) == 0 {
		t.Fatal("no tables found")
	}
	for table, cols := range a {
		if strings.Join(cols, ",") != strings.Join(b[table], ",") {
			t.Errorf("table %s: sqlite %v, postgres %v", table, cols, b[table])
		}
	}
	for table := range b {
		if _, ok := a[table]; !ok {
			t.Errorf("table %s only on postgres", table)
		}
	}
}
