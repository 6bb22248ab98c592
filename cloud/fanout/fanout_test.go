package fanout_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theonestack/visitor/cloud/fanout"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// recorder is a Local that records what it was asked to do.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}
func (r *recorder) Notify(t string)      { r.add("notify " + t) }
func (r *recorder) Revoke(d string)      { r.add("revoke " + d) }
func (r *recorder) Unpair(d string)      { r.add("unpair " + d) }
func (r *recorder) Online(d string) bool { return d == "online-device" }
func (r *recorder) count(call string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return countOf(r.calls, call)
}
func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}
func countOf(calls []string, c string) int {
	n := 0
	for _, x := range calls {
		if x == c {
			n++
		}
	}
	return n
}

// instance is one Notifier with its own store, as one cloud instance has.
type instance struct {
	n   *fanout.Notifier
	rec *recorder
	db  *store.DB
}

func start(t *testing.T, url string, opts fanout.Options) *instance {
	t.Helper()
	db, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := fanout.New(db, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	n.SetLocal(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5 s of cancel")
		}
		db.Close()
	})
	return &instance{n: n, rec: rec, db: db}
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !ok() {
		if time.Since(began) > within {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(began)
}

// TestEventsReachOtherInstances: each action on one instance is applied
// on the other through PostgreSQL within a second, and on the publishing
// instance exactly once (at once, not again from its own notification).
func TestEventsReachOtherInstances(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	a, b := start(t, url, fanout.Options{}), start(t, url, fanout.Options{})
	eventually(t, 5*time.Second, "both listening", func() bool { return a.n.Listening() && b.n.Listening() })

	tests := []struct {
		name string
		act  func(n *fanout.Notifier)
		call string
	}{
		{"tenant changed", func(n *fanout.Notifier) { n.Notify("org_acme") }, "notify org_acme"},
		{"device revoked", func(n *fanout.Notifier) { n.Revoke("dev-1") }, "revoke dev-1"},
		{"device unpaired", func(n *fanout.Notifier) { n.Unpair("dev-2") }, "unpair dev-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.act(a.n)
			if got := a.rec.count(tc.call); got != 1 {
				t.Fatalf("publishing instance applied %q %d times at once, want 1", tc.call, got)
			}
			took := eventually(t, time.Second, tc.call+" on the other instance", func() bool { return b.rec.count(tc.call) == 1 })
			t.Logf("%s reached the other instance in %s", tc.name, took.Round(time.Millisecond))
			time.Sleep(100 * time.Millisecond) // a second delivery or an echo would show by now
			if a.rec.count(tc.call) != 1 || b.rec.count(tc.call) != 1 {
				t.Errorf("after the round: publisher %v, other %v; want %q once each", a.rec.snapshot(), b.rec.snapshot(), tc.call)
			}
		})
	}

	// TenantChanged (the sync server's hook after a push) goes only to the others.
	a.n.TenantChanged("org_globex")
	eventually(t, time.Second, "TenantChanged on the other instance", func() bool { return b.rec.count("notify org_globex") == 1 })
	if a.rec.count("notify org_globex") != 0 {
		t.Error("TenantChanged notified the publishing instance itself")
	}
	if !a.n.Online("online-device") || a.n.Online("dev-1") {
		t.Error("Online does not answer from the local sync server")
	}
}

// TestBurstIsCoalesced: many notifications of one tenant queued together
// are published once each while pending, and every one that was published
// arrives; nothing is refused.
func TestBurstIsCoalesced(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	a, b := start(t, url, fanout.Options{}), start(t, url, fanout.Options{})
	eventually(t, 5*time.Second, "both listening", func() bool { return a.n.Listening() && b.n.Listening() })
	for range 500 {
		a.n.Notify("org_acme")
	}
	for i := range 50 {
		a.n.Revoke("dev-" + string(rune('a'+i%26)))
	}
	eventually(t, 2*time.Second, "every tenant and device reached the other instance", func() bool {
		for i := range 26 {
			if b.rec.count("revoke dev-"+string(rune('a'+i))) == 0 {
				return false
			}
		}
		return b.rec.count("notify org_acme") > 0 && b.n.Stats().Received == a.n.Stats().Published
	})
	if st := a.n.Stats(); st.Published >= 550 || st.Dropped != 0 {
		t.Errorf("stats %+v for 500 equal notifications and 50 revokes of 26 devices: not coalesced, or dropped", st)
	}
	if r := b.n.Stats().Refused; r != 0 {
		t.Errorf("refused %d payloads", r)
	}
}

// TestBadPayloadsAreRefused: notifications on the channel from anything
// but a Notifier (too large, not JSON, unknown kind) are counted and
// ignored; a well-formed one still gets through after them.
func TestBadPayloadsAreRefused(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	b := start(t, url, fanout.Options{})
	eventually(t, 5*time.Second, "listening", b.n.Listening)
	for _, p := range []string{
		strings.Repeat("x", fanout.MaxPayload+1),
		"not json",
		`{"kind":"drop_tables","tenant_id":"org_acme"}`,
		`{"kind":"tenant_changed","tenant_id":"` + strings.Repeat("t", fanout.MaxIDLen+1) + `"}`,
		`{"kind":"tenant_changed","tenant_id":"org_acme","origin":"someone"}`,
	} {
		if _, err := b.db.SQL().Exec(`SELECT pg_notify($1, $2)`, fanout.Channel, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, time.Second, "good payload applied", func() bool { return b.rec.count("notify org_acme") == 1 })
	if st := b.n.Stats(); st.Refused != 4 || st.Received != 1 {
		t.Errorf("stats = %+v, want 4 refused and 1 received", st)
	}
}

// TestListenerReconnects: when PostgreSQL ends the listening connection,
// the Notifier reconnects with backoff and events flow again.
func TestListenerReconnects(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	opts := fanout.Options{BackoffBase: 20 * time.Millisecond, BackoffCap: 200 * time.Millisecond}
	a, b := start(t, url, opts), start(t, url, opts)
	eventually(t, 5*time.Second, "both listening", func() bool { return a.n.Listening() && b.n.Listening() })
	for round := 1; round <= 2; round++ {
		var killed int
		if err := a.db.SQL().QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = 'visitor-fanout' AND datname = current_database()`).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed != 2 {
			t.Fatalf("round %d: terminated %d listeners, want 2", round, killed)
		}
		eventually(t, 5*time.Second, "listeners back", func() bool {
			return a.n.Stats().Connects == int64(round+1) && b.n.Stats().Connects == int64(round+1) && a.n.Listening() && b.n.Listening()
		})
		tenant := "org_round" + string(rune('0'+round))
		a.n.Notify(tenant)
		eventually(t, time.Second, "event after reconnect", func() bool { return b.rec.count("notify "+tenant) == 1 })
	}
}

// TestSQLiteStaysLocal: on SQLite (one process) events go to the local
// sync server only, nothing is published, and Run returns on cancel.
func TestSQLiteStaysLocal(t *testing.T) {
	a := start(t, storetest.URL(t, storetest.SQLite), fanout.Options{})
	a.n.Notify("org_acme")
	a.n.Revoke("dev-1")
	a.n.Unpair("dev-2")
	want := []string{"notify org_acme", "revoke dev-1", "unpair dev-2"}
	if got := a.rec.snapshot(); !slices.Equal(got, want) {
		t.Errorf("local calls = %v, want %v", got, want)
	}
	if st := a.n.Stats(); st != (fanout.Stats{}) || a.n.Listening() {
		t.Errorf("stats = %+v, listening %v; want nothing published or listened", st, a.n.Listening())
	}
}
