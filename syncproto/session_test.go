package syncproto

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testDevice is a paired device as both ends know it.
type testDevice struct {
	id   string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newTestDevice(t *testing.T) testDevice {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "test device seed, not a secret")
	priv := ed25519.NewKeyFromSeed(seed)
	return testDevice{id: "dev_01", pub: priv.Public().(ed25519.PublicKey), priv: priv}
}

// signed is the message the test device signs; the pairing package does the
// same with its own domain separation.
func signed(deviceID string, nonce []byte) []byte {
	return append([]byte("test-proof\x00"+deviceID+"\x00"), nonce...)
}

func (d testDevice) sign(nonce []byte) ([]byte, error) {
	return ed25519.Sign(d.priv, signed(d.id, nonce)), nil
}

// verifier returns a VerifyFunc accepting d with the given last applied seq.
func (d testDevice) verifier(last int64) VerifyFunc {
	return func(_ context.Context, h *Hello, nonce []byte) (WelcomeParams, error) {
		if h.DeviceID != d.id || !ed25519.Verify(d.pub, signed(h.DeviceID, nonce), h.Proof) {
			return WelcomeParams{}, NewError(CodeUnauthorized, "unknown device or bad proof")
		}
		return WelcomeParams{TenantID: "org_1", LocationID: "loc_1", LastAppliedSeq: last}, nil
	}
}

// pipePair returns both ends of a net.Pipe as stream transports; wrap, if
// set, wraps each end (to slow it down).
func pipePair(t *testing.T, wrap func(net.Conn) net.Conn) (client, server Transport) {
	t.Helper()
	a, b := net.Pipe()
	if wrap != nil {
		a, b = wrap(a), wrap(b)
	}
	ct, st := NewStreamTransport(a, 0), NewStreamTransport(b, 0)
	t.Cleanup(func() { ct.Close(); st.Close() })
	return ct, st
}

// dribble makes every write and read move at most n bytes at a time.
func dribble(n int) func(net.Conn) net.Conn {
	return func(c net.Conn) net.Conn { return &dribbleConn{Conn: c, n: n} }
}

type dribbleConn struct {
	net.Conn
	n int
}

func (d *dribbleConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(d.n, len(p))
		m, err := d.Conn.Write(p[:k])
		written += m
		if err != nil {
			return written, err
		}
		p = p[k:]
	}
	return written, nil
}

func (d *dribbleConn) Read(p []byte) (int, error) {
	return d.Conn.Read(p[:min(d.n, len(p))])
}

// wsPair returns a client and a server WebSocket transport connected
// through a real HTTP server on 127.0.0.1.
func wsPair(t *testing.T, maxFrame int) (client, server Transport) {
	t.Helper()
	srvc := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		srvc <- ws
	}))
	t.Cleanup(hs.Close)
	if !strings.HasPrefix(hs.URL, "http://127.0.0.1:") {
		t.Fatalf("test server not on loopback: %s", hs.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/api/sync", nil)
	if err != nil {
		t.Fatal(err)
	}
	var sws *websocket.Conn
	select {
	case sws = <-srvc:
	case <-ctx.Done():
		t.Fatal("no server connection")
	}
	ct, st := NewWebSocketTransport(cws, maxFrame), NewWebSocketTransport(sws, maxFrame)
	t.Cleanup(func() { ct.Close(); st.Close() })
	return ct, st
}

const skew = 12 * time.Hour // the test kiosk's clock is 12 h fast

// fakeCloud is a minimal sync server: it applies ops idempotently and
// serves a down feed that starts with a snapshot.
type fakeCloud struct {
	last     int64
	applied  map[int64]string // seq → op id, for ops applied (not rejected)
	rejected []int64
}

func (fc *fakeCloud) serve(ctx context.Context, t *testing.T, st Transport, dev testDevice) error {
	const hb = 20 * time.Millisecond
	h, w, err := ServerHandshake(ctx, st, ServerParams{Versions: []int{1, 2}, HeartbeatInterval: hb}, dev.verifier(fc.last))
	if err != nil {
		return fmt.Errorf("server handshake: %w", err)
	}
	if w.Version != 2 || h.AppVersion != "1.4.0" || h.LastAckedSeq != 1 || h.BootID != "boot-b" {
		return fmt.Errorf("server: unexpected hello %+v / welcome %+v", h, w)
	}
	c := NewConn(st, Options{HeartbeatInterval: hb})
	defer c.Close()
	anchor := Anchor{BootID: h.BootID, MonoMs: h.MonoMs, ServerTime: time.UnixMilli(w.ReceivedMs)}

	if h.Cursor == "" { // unknown cursor: snapshot
		snap := []Frame{
			&SnapshotBegin{Entities: []string{EntityHost}},
			&Changes{Snapshot: true, More: true, Items: []Change{{Entity: EntityHost, ID: "h1", Op: ChangeUpsert, Data: json.RawMessage(`{"name":"Ada"}`)}}},
			&Changes{Snapshot: true, Items: []Change{{Entity: EntityHost, ID: "h2", Op: ChangeUpsert, Data: json.RawMessage(`{"name":"Grace"}`)}}},
			&SnapshotEnd{Cursor: "c1"},
		}
		for _, f := range snap {
			if err := c.Send(ctx, f); err != nil {
				return err
			}
		}
	}
	downDone := false
	for {
		if fc.last == 8 && downDone {
			if s, ok := c.ClockSample(); ok {
				if d := s.Offset - skew; d < -time.Second || d > time.Second {
					return fmt.Errorf("server measured offset %v, want about %v", s.Offset, skew)
				}
				return c.CloseWith(ctx, &Bye{Reason: ByeShutdown})
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		f, at, err := c.RecvWithTime(rctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return fmt.Errorf("server recv: %w", err)
		}
		switch f := f.(type) {
		case *Push:
			anchor = Anchor{BootID: h.BootID, MonoMs: f.MonoMs, ServerTime: at}
			plan := PlanPush(fc.last, f)
			var rejected []OpResult
			for _, op := range plan.Apply {
				ct := CorrectTime(op, anchor)
				if ct.Source != TimeFromMono || ct.Time.Sub(at) > time.Second || at.Sub(ct.Time) > time.Minute {
					return fmt.Errorf("op %d corrected to %v (%s), push arrived %v", op.Seq, ct.Time, ct.Source, at)
				}
				if op.Kind == "bogus" {
					rejected = append(rejected, OpResult{Seq: op.Seq, OpID: op.OpID, Status: StatusRejected, Code: "unknown_kind", Reason: "unknown kind"})
					fc.rejected = append(fc.rejected, op.Seq)
				} else {
					if _, dup := fc.applied[op.Seq]; dup {
						return fmt.Errorf("op %d applied twice", op.Seq)
					}
					fc.applied[op.Seq] = op.OpID
				}
				fc.last = op.Seq // a poison op counts as done
			}
			if err := c.Send(ctx, plan.Ack(f.Batch, fc.last, rejected)); err != nil {
				return err
			}
		case *ChangesAck:
			switch f.Cursor {
			case "c1":
				live := &Changes{FromCursor: "c1", Cursor: "c2", Items: []Change{
					{Entity: EntityHost, ID: "h3", Op: ChangeUpsert, Data: json.RawMessage(`{"name":"Linus"}`)},
					{Entity: EntityHost, ID: "h1", Op: ChangeDelete},
				}}
				if err := c.Send(ctx, live); err != nil {
					return err
				}
			case "c2":
				downDone = true
			default:
				return fmt.Errorf("server: unexpected changes_ack %q", f.Cursor)
			}
		default:
			return fmt.Errorf("server: unexpected %s", f.FrameType())
		}
	}
}

// fakeEdge is a minimal sync client with an outbox of ops 1..8 (op 4 is
// poison) and a host directory fed by the down feed.
type fakeEdge struct {
	outbox   []Op
	acked    int64
	results  map[int64]string // seq → status reported in acks
	gapSeen  int64
	hosts    map[string]string
	staging  map[string]string
	cursor   string
	handshak ClockSample
}

func newFakeEdge(mono func() int64, now func() time.Time) *fakeEdge {
	e := &fakeEdge{results: map[int64]string{}, hosts: map[string]string{"stale": "{}"}}
	for s := int64(1); s <= 8; s++ {
		kind := KindVisitCheckIn
		if s == 4 {
			kind = "bogus"
		}
		e.outbox = append(e.outbox, Op{
			Seq: s, OpID: fmt.Sprintf("0196f7a2-0000-7000-8000-%012d", s), Kind: kind,
			TimeMs: now().UnixMilli(), BootID: "boot-b", MonoMs: mono(), Payload: json.RawMessage(`{"n":1}`),
		})
	}
	return e
}

func (e *fakeEdge) batch(n int64, from, to int64, mono func() int64) *Push {
	return &Push{Batch: n, MonoMs: mono(), Ops: slices.Clone(e.outbox[from-1 : to])}
}

func (e *fakeEdge) run(ctx context.Context, ct Transport, dev testDevice, now func() time.Time, mono func() int64) error {
	w, sample, err := ClientHandshake(ctx, ct, HelloParams{
		DeviceID: dev.id, BootID: "boot-b", Mono: mono, LastAckedSeq: 1,
		AppVersion: "1.4.0", Versions: []int{1, 2, 3}, Now: now,
	}, dev.sign)
	if err != nil {
		return fmt.Errorf("client handshake: %w", err)
	}
	e.handshak = sample
	if w.Version != 2 || w.LastAppliedSeq != 2 || w.TenantID != "org_1" || w.Heartbeat() != 20*time.Millisecond {
		return fmt.Errorf("client: unexpected welcome %+v", w)
	}
	c := NewConn(ct, Options{HeartbeatInterval: w.Heartbeat(), Now: now})
	defer c.Close()
	// Batch 1 overlaps what the cloud already has (seq 2: duplicate) and
	// holds the poison op 4. Batch 2 skips 5 and 6: a gap.
	if err := c.Send(ctx, e.batch(1, 2, 4, mono)); err != nil {
		return err
	}
	if err := c.Send(ctx, e.batch(2, 7, 8, mono)); err != nil {
		return err
	}
	next := int64(3)
	for {
		f, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *Ack:
			for _, r := range f.Results {
				e.results[r.Seq] = r.Status
			}
			e.acked = max(e.acked, f.UpToSeq)
			if f.ExpectedSeq != 0 {
				e.gapSeen = f.ExpectedSeq
				if err := c.Send(ctx, e.batch(next, f.ExpectedSeq, 8, mono)); err != nil {
					return err
				}
				next++
			}
		case *SnapshotBegin:
			e.staging = map[string]string{}
		case *Changes:
			if f.Snapshot {
				for _, it := range f.Items {
					e.staging[it.ID] = string(it.Data)
				}
				continue
			}
			if f.FromCursor != e.cursor {
				return fmt.Errorf("client: changes from %q, at %q", f.FromCursor, e.cursor)
			}
			for _, it := range f.Items {
				if it.Op == ChangeDelete {
					delete(e.hosts, it.ID)
				} else {
					e.hosts[it.ID] = string(it.Data)
				}
			}
			e.cursor = f.Cursor
			if err := c.Send(ctx, &ChangesAck{Cursor: e.cursor}); err != nil {
				return err
			}
		case *SnapshotEnd:
			e.hosts, e.staging, e.cursor = e.staging, nil, f.Cursor
			if err := c.Send(ctx, &ChangesAck{Cursor: e.cursor}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("client: unexpected %s", f.FrameType())
		}
	}
}

func runSession(t *testing.T, ct, st Transport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev := newTestDevice(t)
	start := time.Now()
	now := func() time.Time { return time.Now().Add(skew) }
	mono := MonoClock(start)

	cloud := &fakeCloud{last: 2, applied: map[int64]string{}}
	edge := newFakeEdge(mono, now)
	var wg sync.WaitGroup
	var serr error
	wg.Go(func() { serr = cloud.serve(ctx, t, st, dev) })
	cerr := edge.run(ctx, ct, dev, now, mono)
	wg.Wait()

	if serr != nil {
		t.Fatalf("server: %v", serr)
	}
	var bye *ByeError
	if !errors.As(cerr, &bye) || bye.Reason != ByeShutdown {
		t.Fatalf("client ended with %v, want bye shutdown", cerr)
	}
	if d := edge.handshak.Offset + skew; d < -time.Second || d > time.Second {
		t.Errorf("handshake offset %v, want about %v", edge.handshak.Offset, -skew)
	}
	if got := slices.Sorted(maps.Keys(cloud.applied)); !slices.Equal(got, []int64{3, 5, 6, 7, 8}) {
		t.Errorf("cloud applied %v", got)
	}
	if !slices.Equal(cloud.rejected, []int64{4}) || cloud.last != 8 {
		t.Errorf("cloud rejected %v, last %d", cloud.rejected, cloud.last)
	}
	if edge.acked != 8 || edge.gapSeen != 5 || edge.results[2] != StatusDuplicate || edge.results[4] != StatusRejected {
		t.Errorf("edge acked %d gap %d results %v", edge.acked, edge.gapSeen, edge.results)
	}
	if edge.cursor != "c2" || !slices.Equal(slices.Sorted(maps.Keys(edge.hosts)), []string{"h2", "h3"}) {
		t.Errorf("edge cursor %q hosts %v", edge.cursor, edge.hosts)
	}
}

func TestSessionOverPipe(t *testing.T) {
	ct, st := pipePair(t, nil)
	runSession(t, ct, st)
}

func TestSessionOverSlowPipe(t *testing.T) {
	ct, st := pipePair(t, dribble(3))
	runSession(t, ct, st)
}

func TestSessionOverWebSocket(t *testing.T) {
	ct, st := wsPair(t, 0)
	runSession(t, ct, st)
}
