package billing_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/billing"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/devhub/devhubtest"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

const hubKey = "hub-integration-key-0123456789"

func startHub(t *testing.T) (*devhub.Hub, string) {
	t.Helper()
	return devhubtest.Start(t, devhub.Config{HubIntegrationKey: hubKey})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var actor = store.Actor{Type: store.ActorSystem, ID: "test"}

// checkIn records a visit at a location at t.
func checkIn(t *testing.T, db *store.DB, tenant, loc string, at time.Time) {
	t.Helper()
	if _, err := db.CheckIn(context.Background(), tenant, visitor.Visit{LocationID: loc, Visitor: visitor.Person{Name: "G"}, CheckedInAt: at}, actor); err != nil {
		t.Fatal(err)
	}
}

func location(t *testing.T, db *store.DB, tenant, name string) string {
	t.Helper()
	l, err := db.CreateLocation(context.Background(), tenant, visitor.Location{Name: name, Timezone: "UTC"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}

func keys(hub *devhub.Hub) []string {
	var out []string
	for _, r := range hub.Billing() {
		out = append(out, r.IdempotencyKey)
	}
	sort.Strings(out)
	return out
}

func TestCatchUpAcrossAMonthBoundaryAfterMissedDays(t *testing.T) {
	ctx := context.Background()
	hub, hubURL := startHub(t)
	c := &clock{t: time.Date(2026, 10, 29, 12, 0, 0, 0, time.UTC)}
	db := storetest.Open(t, storetest.SQLite, store.Options{Now: c.Now})
	db.EnsureTenant(ctx, "org_acme", "Acme")
	a, b := location(t, db, "org_acme", "A"), location(t, db, "org_acme", "B")
	checkIn(t, db, "org_acme", a, time.Date(2026, 10, 3, 9, 0, 0, 0, time.UTC))
	checkIn(t, db, "org_acme", b, time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC)) // the month's last evening
	checkIn(t, db, "org_acme", a, time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC))

	r := billing.New(db, hubURL, hubKey, billing.Options{Now: c.Now, Holder: "one"})
	// The service was down from the 29th; it starts on Nov 1st at 10:00.
	c.Set(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC))
	if err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	got := keys(hub)
	// The look-back window covers Oct 26 … Nov 1: seven daily reports plus October's final.
	if len(got) != 8 {
		t.Fatalf("reports = %v; want 7 daily and 1 final", got)
	}
	quantity := map[string]int64{}
	for _, rep := range hub.Billing() {
		quantity[rep.IdempotencyKey] = rep.Quantity
	}
	if q := quantity["visitor:active_locations:org_acme:2026-10:final"]; q != 2 {
		t.Errorf("October final = %d, want 2 (the 31st's check-in billed)", q)
	}
	if q := quantity["visitor:active_locations:org_acme:2026-11-01"]; q != 1 {
		t.Errorf("Nov 1 daily = %d, want 1", q)
	}
	// A restart the same day sends nothing new.
	r2 := billing.New(db, hubURL, hubKey, billing.Options{Now: c.Now, Holder: "one"})
	if err := r2.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rep := range hub.Billing() {
		if rep.Duplicates != 0 {
			t.Errorf("report %s sent %d extra times", rep.IdempotencyKey, rep.Duplicates)
		}
	}
	if len(keys(hub)) != 8 {
		t.Errorf("restart sent new reports: %v", keys(hub))
	}
}

func TestBeforeReportTimeNothingIsDue(t *testing.T) {
	ctx := context.Background()
	hub, hubURL := startHub(t)
	c := &clock{t: time.Date(2026, 11, 24, 0, 57, 59, 0, time.UTC)}
	db := storetest.Open(t, storetest.SQLite, store.Options{Now: c.Now})
	db.EnsureTenant(ctx, "org_acme", "Acme")
	r := billing.New(db, hubURL, hubKey, billing.Options{Now: c.Now})
	r.CatchUp(ctx)
	for _, k := range keys(hub) {
		if k == "visitor:active_locations:org_acme:2026-11-24" {
			t.Error("today's report sent before 00:58")
		}
	}
	c.Set(time.Date(2026, 11, 24, 0, 58, 0, 0, time.UTC))
	r.CatchUp(ctx)
	found := false
	for _, k := range keys(hub) {
		found = found || k == "visitor:active_locations:org_acme:2026-11-24"
	}
	if !found {
		t.Error("today's report not sent at 00:58")
	}
}

func TestHubDownThenUpResendsTheSameFigure(t *testing.T) {
	ctx := context.Background()
	hub, hubURL := startHub(t)
	c := &clock{t: time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)}
	db := storetest.Open(t, storetest.SQLite, store.Options{Now: c.Now})
	db.EnsureTenant(ctx, "org_acme", "Acme")
	loc := location(t, db, "org_acme", "A")
	checkIn(t, db, "org_acme", loc, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	hub.SetFaults(devhub.Faults{HubDown: true})
	r := billing.New(db, hubURL, hubKey, billing.Options{Now: c.Now})
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	if err := r.RunDay(ctx, day); err == nil {
		t.Fatal("RunDay with Hub down reported success")
	}
	// A second location becomes active meanwhile; the claimed figure stays 1.
	loc2 := location(t, db, "org_acme", "B")
	checkIn(t, db, "org_acme", loc2, time.Date(2026, 11, 24, 0, 59, 0, 0, time.UTC))
	hub.SetFaults(devhub.Faults{})
	if err := r.RunDay(ctx, day); err != nil {
		t.Fatal(err)
	}
	reps := hub.Billing()
	if len(reps) != 1 || reps[0].Quantity != 1 || reps[0].IdempotencyKey != billing.DailyKey("org_acme", day) {
		t.Errorf("reports = %+v", reps)
	}
}

// TestTwoInstancesOneReport runs two reporters on one database (PostgreSQL
// and SQLite) at the same moment: each tenant's day is reported once.
func TestTwoInstancesOneReport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		hub, hubURL := startHub(t)
		c := &clock{t: time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)}
		url := storetest.URL(t, engine)
		var reporters []*billing.Reporter
		for _, name := range []string{"a", "b"} {
			db, err := store.Open(ctx, url, store.Options{Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, tenant := range []string{"org_acme", "org_globex"} {
				db.EnsureTenant(ctx, tenant, tenant)
			}
			reporters = append(reporters, billing.New(db, hubURL, hubKey, billing.Options{Now: c.Now, Holder: name}))
		}
		var wg sync.WaitGroup
		for _, r := range reporters {
			wg.Add(1)
			go func() { defer wg.Done(); r.CatchUp(ctx) }()
		}
		wg.Wait()
		perKey := map[string]int{}
		for _, rep := range hub.Billing() {
			perKey[rep.IdempotencyKey] += 1 + int(rep.Duplicates)
		}
		for _, tenant := range []string{"org_acme", "org_globex"} {
			k := billing.DailyKey(tenant, c.Now())
			if perKey[k] != 1 {
				t.Errorf("%s posted %d times, want 1", k, perKey[k])
			}
		}
	})
}

func TestParseDay(t *testing.T) {
	if _, err := billing.ParseDay("2026-13-01"); visitor.ErrorCode(err) != visitor.EINVALID {
		t.Errorf("bad month: %v", err)
	}
	d, err := billing.ParseDay("2026-11-24")
	if err != nil || d.Day() != 24 {
		t.Errorf("ParseDay = %v, %v", d, err)
	}
}
