package edge_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

// fakeCloud is a test double of the network peer: a sync server built
// directly on syncproto that applies ops into a map, with knobs for the
// faults a real link and cloud produce.
type fakeCloud struct {
	t   *testing.T
	pub ed25519.PublicKey

	mu          sync.Mutex
	last        int64
	applied     map[string]int // op id → times applied
	kinds       map[int64]string
	conns       int
	cursors     []string // changes_ack cursors received
	helloCursor []string

	rejectSeq   map[int64]bool                      // ops rejected as poison
	dupAcks     bool                                // send every ack twice
	gapBatch    int64                               // on the first connection, drop this batch's first op (a gap)
	dropAfter   int                                 // drop connection n (1-based) right after its welcome
	loseAckConn int                                 // on connection n, apply the first push then hang up without acking
	onConnect   func(n int, c *syncproto.Conn) bool // after welcome; false ends the connection
	live        *syncproto.Conn                     // the latest connection
}

func newFakeCloud(t *testing.T) (*fakeCloud, string) {
	fc := &fakeCloud{t: t, pub: testKey(t).Public().(ed25519.PublicKey), applied: map[string]int{}, kinds: map[int64]string{}, rejectSeq: map[int64]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/sync" {
			http.NotFound(w, r)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		fc.serve(ctx, syncproto.NewWebSocketTransport(ws, 0))
	}))
	t.Cleanup(func() { cancel(); srv.Close(); wg.Wait() })
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("fake cloud not on loopback: %s", srv.URL)
	}
	return fc, srv.URL
}

func (fc *fakeCloud) serve(ctx context.Context, tr syncproto.Transport) {
	defer tr.Close()
	fc.mu.Lock()
	fc.conns++
	n := fc.conns
	last := fc.last
	fc.mu.Unlock()
	const hb = 200 * time.Millisecond
	h, _, err := syncproto.ServerHandshake(ctx, tr, syncproto.ServerParams{HeartbeatInterval: hb},
		func(_ context.Context, h *syncproto.Hello, nonce []byte) (syncproto.WelcomeParams, error) {
			if h.DeviceID != testDevice || !pairing.VerifyChallenge(fc.pub, h.DeviceID, nonce, h.Proof) {
				return syncproto.WelcomeParams{}, syncproto.NewError(syncproto.CodeUnauthorized, "bad proof")
			}
			return syncproto.WelcomeParams{TenantID: testTenant, LocationID: testLocation, LastAppliedSeq: last}, nil
		})
	if err != nil {
		return
	}
	fc.mu.Lock()
	fc.helloCursor = append(fc.helloCursor, h.Cursor)
	fc.mu.Unlock()
	c := syncproto.NewConn(tr, syncproto.Options{HeartbeatInterval: hb})
	defer c.Close()
	fc.mu.Lock()
	fc.live = c
	fc.mu.Unlock()
	if n == fc.dropAfter {
		return
	}
	if fc.onConnect != nil && !fc.onConnect(n, c) {
		return
	}
	for {
		f, err := c.Recv(ctx)
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *syncproto.Push:
			if n == 1 && f.Batch == fc.gapBatch {
				f.Ops = f.Ops[1:] // the first op went missing on the way
				if len(f.Ops) == 0 {
					f.Ops = []syncproto.Op{{Seq: 1 << 40}}
				}
			}
			fc.mu.Lock()
			plan := syncproto.PlanPush(fc.last, f)
			var rejected []syncproto.OpResult
			for _, op := range plan.Apply {
				if fc.rejectSeq[op.Seq] {
					rejected = append(rejected, syncproto.OpResult{Seq: op.Seq, OpID: op.OpID, Status: syncproto.StatusRejected, Code: "invalid", Reason: "poison"})
				} else {
					fc.applied[op.OpID]++
					fc.kinds[op.Seq] = op.Kind
				}
				fc.last = op.Seq
			}
			ack := plan.Ack(f.Batch, fc.last, rejected)
			fc.mu.Unlock()
			if n == fc.loseAckConn {
				return // committed, but the ack never leaves
			}
			c.Send(ctx, ack)
			if fc.dupAcks {
				c.Send(ctx, ack)
			}
		case *syncproto.ChangesAck:
			fc.mu.Lock()
			fc.cursors = append(fc.cursors, f.Cursor)
			fc.mu.Unlock()
		}
	}
}

func (fc *fakeCloud) state() (last int64, applied map[string]int, conns int) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	cp := map[string]int{}
	for k, v := range fc.applied {
		cp[k] = v
	}
	return fc.last, cp, fc.conns
}

// startSync runs the engine's sync client until the test ends.
func startSync(t *testing.T, e *edge.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.RunSync(ctx) }()
	t.Cleanup(func() { cancel(); <-done; e.Close() })
}

func syncEngine(t *testing.T, url string) *edge.Engine {
	t.Helper()
	opts := edge.Options{}
	opts.Sync.BackoffBase, opts.Sync.BackoffCap = 10*time.Millisecond, 50*time.Millisecond
	e := openEngine(t, t.TempDir(), url, opts)
	provision(t, e)
	return e
}

func checkIns(t *testing.T, e *edge.Engine, n int) {
	t.Helper()
	for i := range n {
		if _, err := e.CheckIn(context.Background(), edge.CheckInRequest{Name: "Visitor " + string(rune('A'+i%26))}); err != nil {
			t.Fatal(err)
		}
	}
}

func waitDrained(t *testing.T, e *edge.Engine, fc *fakeCloud, want int64) edge.Status {
	t.Helper()
	var st edge.Status
	waitFor(t, "outbox drained", func() bool {
		var err error
		st, err = e.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		last, _, _ := fc.state()
		return st.PendingOps == 0 && last == want
	})
	return st
}

func checkExactlyOnce(t *testing.T, fc *fakeCloud, want int) {
	t.Helper()
	_, applied, _ := fc.state()
	if len(applied) != want {
		t.Errorf("cloud applied %d distinct ops, want %d", len(applied), want)
	}
	for id, n := range applied {
		if n != 1 {
			t.Errorf("op %s applied %d times", id, n)
		}
	}
}

func TestSyncPushesEverythingOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(fc *fakeCloud)
	}{
		{"plain", func(*fakeCloud) {}},
		{"duplicate acks", func(fc *fakeCloud) { fc.dupAcks = true }},
		{"gap repaired", func(fc *fakeCloud) { fc.gapBatch = 1 }},
		{"reconnect after drop", func(fc *fakeCloud) { fc.dropAfter = 1 }},
		{"lost ack", func(fc *fakeCloud) { fc.loseAckConn = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc, url := newFakeCloud(t)
			tc.set(fc)
			e := syncEngine(t, url)
			checkIns(t, e, 30) // queued offline, before the first connection
			startSync(t, e)
			waitFor(t, "online", func() bool { st, _ := e.Status(context.Background()); return st.Online })
			checkIns(t, e, 20) // while online
			st := waitDrained(t, e, fc, 50)
			checkExactlyOnce(t, fc, 50)
			if st.RejectedOps != 0 || st.LastSyncAt == nil || !st.Paired {
				t.Errorf("status = %+v", st)
			}
			if rows := outbox(t, e.Store()); rows[49].State != "acked" {
				t.Errorf("last op state %q, want acked", rows[49].State)
			}
			if _, _, conns := fc.state(); (tc.name == "plain" || tc.name == "duplicate acks" || tc.name == "gap repaired") && conns != 1 {
				t.Errorf("%d connections, want 1", conns)
			}
		})
	}
}

func TestSyncRejectedOpDoesNotBlockQueue(t *testing.T) {
	fc, url := newFakeCloud(t)
	fc.rejectSeq[2] = true
	e := syncEngine(t, url)
	checkIns(t, e, 5)
	startSync(t, e)
	st := waitDrained(t, e, fc, 5)
	if st.RejectedOps != 1 {
		t.Errorf("rejected_ops = %d, want 1", st.RejectedOps)
	}
	checkExactlyOnce(t, fc, 4)
	rows := outbox(t, e.Store())
	if rows[1].State != "rejected" || rows[4].State != "acked" {
		t.Errorf("states = %s, %s; want rejected, acked", rows[1].State, rows[4].State)
	}
	var code, reason string
	e.Store().Read().QueryRow(`SELECT code, reason FROM outbox WHERE seq = 2`).Scan(&code, &reason)
	if code != "invalid" || reason != "poison" {
		t.Errorf("rejection recorded as %q/%q", code, reason)
	}
}

func sendAll(ctx context.Context, c *syncproto.Conn, frames ...syncproto.Frame) bool {
	for _, f := range frames {
		if err := c.Send(ctx, f); err != nil {
			return false
		}
	}
	return true
}

func hostJSON(name string) json.RawMessage {
	b, _ := json.Marshal(visitor.Host{Name: name, Active: true})
	return b
}

func TestSyncDownFeedAndSnapshot(t *testing.T) {
	fc, url := newFakeCloud(t)
	ctx := context.Background()
	fc.onConnect = func(n int, c *syncproto.Conn) bool {
		switch n {
		case 1: // a live frame whose second item is broken: nothing of it may land
			sendAll(ctx, c, &syncproto.Changes{FromCursor: "c0", Cursor: "c1", Items: []syncproto.Change{
				{Entity: syncproto.EntityHost, ID: "h_new", Op: syncproto.ChangeUpsert, Data: hostJSON("New Host")},
				{Entity: syncproto.EntityHost, ID: "h_bad", Op: syncproto.ChangeUpsert, Data: json.RawMessage(`{"name":1}`)},
			}})
			return true
		case 2: // the cursor is too old: a snapshot replaces the hosts
			return sendAll(ctx, c,
				&syncproto.SnapshotBegin{Entities: []string{syncproto.EntityHost}},
				&syncproto.Changes{Snapshot: true, More: true, Items: []syncproto.Change{{Entity: syncproto.EntityHost, ID: "h1", Op: syncproto.ChangeUpsert, Data: hostJSON("Ada")}}},
				&syncproto.Changes{Snapshot: true, Items: []syncproto.Change{{Entity: syncproto.EntityHost, ID: "h2", Op: syncproto.ChangeUpsert, Data: hostJSON("Grace")}}},
				&syncproto.SnapshotEnd{Cursor: "s1"},
				&syncproto.Changes{FromCursor: "s1", Cursor: "s2", Items: []syncproto.Change{
					{Entity: syncproto.EntityHost, ID: "h1", Op: syncproto.ChangeDelete},
					{Entity: syncproto.EntityHost, ID: "h3", Op: syncproto.ChangeUpsert, Data: hostJSON("Linus")},
				}})
		}
		return true
	}
	e := syncEngine(t, url)
	feed(t, e, "c0", upsert(t, syncproto.EntityHost, "h_old", visitor.Host{Name: "Old Host", Active: true}))
	checkIns(t, e, 3)
	startSync(t, e)
	waitFor(t, "cursor s2 acknowledged", func() bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		return len(fc.cursors) > 0 && fc.cursors[len(fc.cursors)-1] == "s2"
	})
	fc.mu.Lock()
	hellos := append([]string{}, fc.helloCursor...)
	acks := append([]string{}, fc.cursors...)
	fc.mu.Unlock()
	if len(hellos) < 2 || hellos[0] != "c0" || hellos[1] != "c0" {
		t.Errorf("hello cursors %v: the broken frame must not advance the cursor", hellos)
	}
	if strings.Join(acks, ",") != "s1,s2" {
		t.Errorf("changes_ack cursors %v, want s1,s2", acks)
	}
	hosts, err := e.Hosts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hosts {
		names = append(names, h.ID)
	}
	if strings.Join(names, ",") != "h2,h3" {
		t.Errorf("hosts after snapshot and live change = %v, want h2,h3 (h_old and h_new gone)", names)
	}
	if cur, _ := e.Store().Cursor(ctx); cur != "s2" {
		t.Errorf("cursor %q, want s2", cur)
	}
	waitDrained(t, e, fc, 3) // the snapshot leaves the outbox alone
	checkExactlyOnce(t, fc, 3)
}

func TestSyncRevokedByBye(t *testing.T) {
	fc, url := newFakeCloud(t)
	fc.onConnect = func(n int, c *syncproto.Conn) bool {
		c.CloseWith(context.Background(), &syncproto.Bye{Reason: syncproto.ByeRevoked})
		return false
	}
	e := syncEngine(t, url)
	startSync(t, e)
	ctx := context.Background()
	waitFor(t, "revoked", func() bool { st, _ := e.Status(ctx); return st.Revoked })
	st, _ := e.Status(ctx)
	if st.Paired || !st.Revoked || st.Online {
		t.Errorf("status after revoke = %+v", st)
	}
	if _, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Ada"}); visitor.ErrorCode(err) != visitor.ENOTPAIRED {
		t.Errorf("check-in after revoke: %v, want not_paired", err)
	}
	time.Sleep(200 * time.Millisecond) // several backoff caps
	if _, _, conns := fc.state(); conns != 1 {
		t.Errorf("a revoked kiosk reconnected: %d connections", conns)
	}
}

func TestSyncUnpairedWipes(t *testing.T) {
	fc, url := newFakeCloud(t)
	e := syncEngine(t, url)
	checkIns(t, e, 2)
	startSync(t, e)
	waitDrained(t, e, fc, 2)
	// The cloud saw the outbox drained and ends the pairing.
	fc.mu.Lock()
	live := fc.live
	fc.mu.Unlock()
	live.CloseWith(context.Background(), &syncproto.Bye{Reason: syncproto.ByeUnpaired})
	ctx := context.Background()
	waitFor(t, "unpaired", func() bool {
		st, _ := e.Status(ctx)
		return !st.Paired && st.DeviceID == ""
	})
	for _, table := range []string{"visits", "outbox", "identity"} {
		if n := count(t, e.Store(), `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%d %s rows kept after unpair", n, table)
		}
	}
	st, _ := e.Status(ctx)
	if st.Revoked || st.PendingOps != 0 || st.Paired {
		t.Errorf("status after unpair = %+v", st)
	}
	if _, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Ada"}); visitor.ErrorCode(err) != visitor.ENOTPAIRED {
		t.Errorf("check-in after unpair: %v, want not_paired", err)
	}
	// Pairing again starts a new device at seq 1.
	provision(t, e)
	checkIns(t, e, 1)
	checkGapless(t, outbox(t, e.Store()), 1)
}
