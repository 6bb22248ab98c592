package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/bus"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/devhub/devhubtest"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

const sdkKey = "bus-sdk-key-for-tests-0123456789"

func startHub(t *testing.T) (*devhub.Hub, string) {
	t.Helper()
	return devhubtest.Start(t, devhub.Config{BusSDKKey: sdkKey})
}

// seed makes n check-ins (n visitor.checked_in events) in one tenant.
func seed(t *testing.T, db *store.DB, n int) []string {
	t.Helper()
	ctx := context.Background()
	actor := store.Actor{Type: store.ActorUser, ID: "u_admin"}
	if err := db.EnsureTenant(ctx, "org_acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	loc, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ", Timezone: "UTC"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < n; i++ {
		v, err := db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: "Guest"}}, actor)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	return ids
}

func deliveredTypes(hub *devhub.Hub) map[string]int {
	out := map[string]int{}
	for _, e := range hub.Events() {
		out[e.Type]++
	}
	return out
}

func TestBusDownThenUpDeliversEverythingOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		hub, hubURL := startHub(t)
		now := time.Now()
		clock := func() time.Time { return now }
		db := storetest.Open(t, engine, store.Options{Now: func() time.Time { return clock() }})
		seed(t, db, 30)
		relay := bus.New(db, hubURL, sdkKey, bus.Options{Now: func() time.Time { return clock() }, Batch: 10, Rand: func() float64 { return 0 }})

		// The Bus is down: nothing is delivered, everything is rescheduled.
		if err := hub.SetFaults(devhub.Faults{BusStatus: 503}); err != nil {
			t.Fatal(err)
		}
		if n, err := relay.Deliver(ctx); err != nil || n != 0 {
			t.Fatalf("deliver while down = %d, %v", n, err)
		}
		due, _ := db.DueEvents(ctx, 100)
		if len(due) != 0 {
			t.Errorf("%d events due right after a failure; want them backed off", len(due))
		}
		if h, _ := db.Health(ctx); len(h) != 1 || h[0].LastError == "" {
			t.Errorf("health after failure = %+v", h)
		}

		// The Bus comes back; after the backoff every event arrives exactly once.
		hub.SetFaults(devhub.Faults{})
		now = now.Add(time.Minute)
		n, err := relay.Deliver(ctx)
		if err != nil || n != 30 {
			t.Fatalf("deliver after recovery = %d, %v; want 30", n, err)
		}
		got := hub.Events()
		if len(got) != 30 {
			t.Fatalf("hub received %d distinct events, want 30", len(got))
		}
		for _, e := range got {
			if e.Deliveries != 1 || e.Type != visitor.EventCheckedIn || e.TenantID != "org_acme" {
				t.Errorf("event %+v", e)
			}
		}
		// Ids are the outbox's: stable across the failed and the good attempt.
		stored, _, _ := db.Events(ctx, "org_acme", 100, "")
		want := map[string]bool{}
		for _, e := range stored {
			want[e.ID] = true
		}
		for _, e := range got {
			if !want[e.ID] {
				t.Errorf("hub got id %s not in the outbox", e.ID)
			}
		}
		if n, _ := relay.Deliver(ctx); n != 0 {
			t.Errorf("second pass delivered %d more", n)
		}
	})
}

func TestPoisonEventIsParkedAndOthersFlow(t *testing.T) {
	ctx := context.Background()
	hub, hubURL := startHub(t)
	db := storetest.Open(t, storetest.SQLite, store.Options{})
	seed(t, db, 5)
	stored, _, _ := db.Events(ctx, "org_acme", 100, "")
	poison := stored[2].ID
	hub.SetFaults(devhub.Faults{RejectEventIDs: []string{poison}})
	relay := bus.New(db, hubURL, sdkKey, bus.Options{})
	n, err := relay.Deliver(ctx)
	if err != nil || n != 4 {
		t.Fatalf("delivered %d, %v; want 4", n, err)
	}
	parked, err := db.ParkedEvents(ctx, "org_acme", 10)
	if err != nil || len(parked) != 1 || parked[0].ID != poison || parked[0].LastError == "" {
		t.Errorf("parked = %+v, %v", parked, err)
	}
	if deliveredTypes(hub)[visitor.EventCheckedIn] != 4 {
		t.Errorf("hub has %v", deliveredTypes(hub))
	}
}

func TestOneSenderAtATime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		hub, hubURL := startHub(t)
		url := storetest.URL(t, engine)
		a, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		seed(t, a, 10)
		ra := bus.New(a, hubURL, sdkKey, bus.Options{Holder: "a"})
		rb := bus.New(b, hubURL, sdkKey, bus.Options{Holder: "b"})
		na, err := ra.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nb, err := rb.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if na != 10 || nb != 0 {
			t.Errorf("a delivered %d, b %d; want 10 and 0 (b does not hold the lease)", na, nb)
		}
		for _, e := range hub.Events() {
			if e.Deliveries != 1 {
				t.Errorf("event %s delivered %d times", e.ID, e.Deliveries)
			}
		}
	})
}

func TestMissingKeyKeepsEventsQueued(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	hub, hubURL := startHub(t)
	db := storetest.Open(t, storetest.SQLite, store.Options{})
	seed(t, db, 2)
	relay := bus.New(db, hubURL, "", bus.Options{Interval: 10 * time.Millisecond})
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if len(hub.Events()) != 0 {
		t.Error("events sent without a key")
	}
	if n, _ := db.PendingEventCount(context.Background()); n != 2 {
		t.Errorf("%d events pending, want 2", n)
	}
	h, _ := db.Health(context.Background())
	if len(h) != 1 || h[0].Name != "bus" || h[0].LastError == "" {
		t.Errorf("health = %+v; want the missing key reported", h)
	}
}
