package edge_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

const (
	testDevice   = "dev_01"
	testTenant   = "org_1"
	testLocation = "loc_1"
)

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := pairing.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// testClock is a fixed, settable wall clock safe for concurrent use.
type testClock struct{ ms atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ms.Store(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixMilli())
	return c
}
func (c *testClock) Now() time.Time { return time.UnixMilli(c.ms.Add(1)) }

// openEngine opens an engine over dir with a test clock; cloudURL "" means
// a cloud that is never reached (RunSync is not started).
func openEngine(t *testing.T, dir, cloudURL string, opts edge.Options) *edge.Engine {
	t.Helper()
	if cloudURL == "" {
		cloudURL = "http://127.0.0.1:1"
	}
	if opts.Now == nil {
		opts.Now = newTestClock().Now
	}
	e, err := edge.Open(context.Background(), edge.Config{DataDir: dir, CloudURL: cloudURL, LocalAPIAddr: "127.0.0.1:0"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func provision(t *testing.T, e *edge.Engine) {
	t.Helper()
	if err := e.Provision(context.Background(), testDevice, testTenant, testLocation, testKey(t)); err != nil {
		t.Fatal(err)
	}
}

// feed applies down-feed upserts as the sync client would.
func feed(t *testing.T, e *edge.Engine, cursor string, items ...syncproto.Change) {
	t.Helper()
	if err := e.Store().ApplyChanges(context.Background(), items, cursor); err != nil {
		t.Fatal(err)
	}
}

func upsert(t *testing.T, entity, id string, v any) syncproto.Change {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return syncproto.Change{Entity: entity, ID: id, Op: syncproto.ChangeUpsert, Data: data}
}

type outboxRow struct {
	Seq     int64
	Kind    string
	State   string
	Payload string
}

func outbox(t *testing.T, db *store.DB) []outboxRow {
	t.Helper()
	rows, err := db.Read().Query(`SELECT seq, kind, state, payload FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.Seq, &r.Kind, &r.State, &r.Payload); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// checkGapless fails unless the outbox seqs are exactly 1..n.
func checkGapless(t *testing.T, rows []outboxRow, n int) {
	t.Helper()
	if len(rows) != n {
		t.Fatalf("outbox has %d ops, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			t.Fatalf("outbox op %d has seq %d, want %d (seqs must be gapless)", i, r.Seq, i+1)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(query, args...).Scan(&n); err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return n
}
