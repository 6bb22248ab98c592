package syncserver_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/cloud/syncserver"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

const tenant = "org_acme"

var admin = store.Actor{Type: store.ActorUser, ID: "u_admin"}

// env is a real store and sync server on a loopback HTTP server.
type env struct {
	db   *store.DB
	srv  *syncserver.Server
	url  string
	loc  visitor.Location
	host visitor.Host
}

func newEnv(t *testing.T, engine storetest.Engine) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, engine, store.Options{})
	if err := db.EnsureTenant(ctx, tenant, "Acme"); err != nil {
		t.Fatal(err)
	}
	loc, err := db.CreateLocation(ctx, tenant, visitor.Location{Name: "HQ Lobby", Timezone: "Europe/Paris"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	host, err := db.CreateHost(ctx, tenant, visitor.Host{Name: "Ada Lovelace"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	srv := syncserver.New(db, syncserver.Options{
		HeartbeatInterval: 2 * time.Second,
		PollInterval:      300 * time.Millisecond,
		StatusInterval:    300 * time.Millisecond,
		DrainQuiet:        300 * time.Millisecond,
		WriteTimeout:      2 * time.Second,
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return &env{db: db, srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http"), loc: loc, host: host}
}

// kiosk is the test double of an edge: a paired device's id and key.
type kiosk struct {
	id   string
	priv ed25519.PrivateKey
}

func (e *env) pair(t *testing.T) kiosk {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.db.ProvisionDevice(context.Background(), tenant, e.loc.ID, "Lobby", pub, admin)
	if err != nil {
		t.Fatal(err)
	}
	return kiosk{id: d.ID, priv: priv}
}

func (k kiosk) signer() func([]byte) ([]byte, error) {
	return func(nonce []byte) ([]byte, error) { return pairing.SignChallenge(k.priv, k.id, nonce), nil }
}

// dial connects and handshakes as the kiosk; sign defaults to k's key.
func (e *env) dial(t *testing.T, k kiosk, cursor string, sign func([]byte) ([]byte, error)) (*syncproto.Conn, *syncproto.Welcome, error) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(e.url, nil)
	if err != nil {
		return nil, nil, err
	}
	tr := syncproto.NewWebSocketTransport(ws, 0)
	if sign == nil {
		sign = k.signer()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, _, err := syncproto.ClientHandshake(ctx, tr, syncproto.HelloParams{
		DeviceID: k.id, BootID: "boot-1", Mono: func() int64 { return 100_000 }, Cursor: cursor,
	}, sign)
	if err != nil {
		tr.Close()
		return nil, nil, err
	}
	c := syncproto.NewConn(tr, syncproto.Options{HeartbeatInterval: w.Heartbeat()})
	t.Cleanup(func() { c.Close() })
	return c, w, nil
}

func (e *env) connect(t *testing.T, k kiosk, cursor string) (*syncproto.Conn, *syncproto.Welcome) {
	t.Helper()
	c, w, err := e.dial(t, k, cursor, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return c, w
}

func recv(t *testing.T, c *syncproto.Conn, within time.Duration) syncproto.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	f, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return f
}

// recvAck returns the next ack, acknowledging the live feed frames that
// arrive before it (the kiosk's own check-ins come back down the feed as
// visit changes).
func recvAck(t *testing.T, c *syncproto.Conn, within time.Duration) (*syncproto.Ack, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f := recv(t, c, time.Until(deadline))
		switch f := f.(type) {
		case *syncproto.Ack:
			return f, true
		case *syncproto.Changes:
			if err := c.Send(context.Background(), &syncproto.ChangesAck{Cursor: f.Cursor}); err != nil {
				t.Fatal(err)
			}
		default:
			return nil, false
		}
	}
}

// readSnapshot reads a whole snapshot and acks it; it returns the items.
func readSnapshot(t *testing.T, c *syncproto.Conn) ([]syncproto.Change, string) {
	t.Helper()
	if f, ok := recv(t, c, 5*time.Second).(*syncproto.SnapshotBegin); !ok {
		t.Fatalf("want snapshot_begin, got %T", f)
	}
	var items []syncproto.Change
	for {
		switch f := recv(t, c, 5*time.Second).(type) {
		case *syncproto.Changes:
			if !f.Snapshot {
				t.Fatalf("live changes inside a snapshot")
			}
			items = append(items, f.Items...)
		case *syncproto.SnapshotEnd:
			if err := c.Send(context.Background(), &syncproto.ChangesAck{Cursor: f.Cursor}); err != nil {
				t.Fatal(err)
			}
			return items, f.Cursor
		default:
			t.Fatalf("unexpected %T in snapshot", f)
		}
	}
}

func checkInOp(t *testing.T, seq int64, locationID string) (syncproto.Op, string) {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	raw, _ := json.Marshal(syncproto.CheckInPayload{VisitID: id, LocationID: locationID,
		Visitor: syncproto.PersonPayload{Name: fmt.Sprintf("Visitor %d", seq)}})
	return syncproto.Op{Seq: seq, OpID: uuid.NewString(), Kind: syncproto.KindVisitCheckIn,
		TimeMs: time.Now().Add(12 * time.Hour).UnixMilli(), BootID: "boot-1", MonoMs: 100_000, Payload: raw}, id
}

func TestHandshake(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	good := e.pair(t)
	revoked := e.pair(t)
	if _, err := e.db.SetDeviceStatus(context.Background(), tenant, revoked.id, visitor.DeviceRevoked, admin); err != nil {
		t.Fatal(err)
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	var captured []byte
	recordProof := func(nonce []byte) ([]byte, error) {
		captured = pairing.SignChallenge(good.priv, good.id, nonce)
		return captured, nil
	}
	tests := []struct {
		name     string
		k        kiosk
		sign     func([]byte) ([]byte, error)
		wantCode syncproto.Code
	}{
		{"good key", good, recordProof, 0},
		{"replayed proof on a new connection", good, func([]byte) ([]byte, error) { return captured, nil }, syncproto.CodeUnauthorized},
		{"wrong key", kiosk{id: good.id, priv: stranger}, nil, syncproto.CodeUnauthorized},
		{"unknown device", kiosk{id: "no-such-device", priv: good.priv}, nil, syncproto.CodeUnauthorized},
		{"revoked device", revoked, nil, syncproto.CodeRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, w, err := e.dial(t, tc.k, "", tc.sign)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				if w.TenantID != tenant || w.LocationID != e.loc.ID || w.DeviceID != good.id || w.LastAppliedSeq != 0 {
					t.Errorf("welcome %+v", w)
				}
				c.Close()
				return
			}
			if got := syncproto.CodeOf(err); got != tc.wantCode {
				t.Fatalf("err %v (code %v), want %v", err, got, tc.wantCode)
			}
			var pe *syncproto.Error
			if errors.As(err, &pe) && pe.Retryable {
				t.Errorf("refusal %v is retryable", pe)
			}
		})
	}
	t.Run("browser origin", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Origin": {"https://evil.example"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("err %v, resp %v; want 403", err, resp)
		}
	})
}

func TestPushAck(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		e := newEnv(t, engine)
		ctx := context.Background()
		k := e.pair(t)
		c, _ := e.connect(t, k, "")
		readSnapshot(t, c)
		var ops []syncproto.Op
		var ids []string
		for i := int64(1); i <= 3; i++ {
			o, id := checkInOp(t, i, e.loc.ID)
			ops, ids = append(ops, o), append(ids, id)
		}
		// A poison op in the batch is rejected and the rest applied.
		bad := syncproto.Op{Seq: 4, OpID: uuid.NewString(), Kind: "visit.unknown", BootID: "boot-1", MonoMs: 1, Payload: json.RawMessage(`{}`)}
		ops = append(ops, bad)
		if err := c.Send(ctx, &syncproto.Push{Batch: 1, MonoMs: 100_500, Ops: ops}); err != nil {
			t.Fatal(err)
		}
		ack, ok := recvAck(t, c, 5*time.Second)
		if !ok || ack.Batch != 1 || ack.UpToSeq != 4 || ack.ExpectedSeq != 0 || len(ack.Results) != 1 || ack.Results[0].Status != syncproto.StatusRejected {
			t.Fatalf("ack %+v", ack)
		}
		for _, id := range ids {
			v, err := e.db.Visit(ctx, tenant, id)
			if err != nil {
				t.Fatalf("visit after ack: %v", err)
			}
			// Kiosk clock 12 h fast; the mono anchor puts the visit 0.5 s before the push.
			if d := time.Since(v.CheckedInAt); d < 0 || d > 10*time.Second || v.Source != visitor.SourceKiosk || v.DeviceID != k.id {
				t.Errorf("visit %+v", v)
			}
		}
		// The same batch again (a lost ack) is all duplicates.
		if err := c.Send(ctx, &syncproto.Push{Batch: 2, MonoMs: 100_600, Ops: ops}); err != nil {
			t.Fatal(err)
		}
		ack, _ = recvAck(t, c, 5*time.Second)
		if ack.UpToSeq != 4 || len(ack.Results) != 4 || ack.Results[0].Status != syncproto.StatusDuplicate {
			t.Fatalf("resend ack %+v", ack)
		}
		// A batch after a gap is refused with the seq to resend from.
		o, _ := checkInOp(t, 9, e.loc.ID)
		if err := c.Send(ctx, &syncproto.Push{Batch: 3, MonoMs: 100_700, Ops: []syncproto.Op{o}}); err != nil {
			t.Fatal(err)
		}
		ack, _ = recvAck(t, c, 5*time.Second)
		if ack.UpToSeq != 4 || ack.ExpectedSeq != 5 {
			t.Fatalf("gap ack %+v", ack)
		}
		// A reconnect is welcomed with the applied seq.
		c.Close()
		_, w := e.connect(t, k, "")
		if w.LastAppliedSeq != 4 {
			t.Errorf("welcome last_applied_seq %d, want 4", w.LastAppliedSeq)
		}
	})
}

func TestLiveChanges(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	ctx := context.Background()
	k := e.pair(t)
	c, _ := e.connect(t, k, "")
	items, cursor := readSnapshot(t, c)
	entities := map[string]int{}
	for _, it := range items {
		entities[it.Entity]++
	}
	if entities[syncproto.EntityLocation] != 1 || entities[syncproto.EntitySettings] != 1 || entities[syncproto.EntityHost] != 1 {
		t.Fatalf("snapshot entities %v", entities)
	}
	expectHost := func(name string, within time.Duration) {
		t.Helper()
		f := recv(t, c, within)
		ch, ok := f.(*syncproto.Changes)
		if !ok || ch.Snapshot || ch.FromCursor != cursor || len(ch.Items) != 1 || ch.Items[0].Entity != syncproto.EntityHost ||
			!strings.Contains(string(ch.Items[0].Data), name) {
			t.Fatalf("want live host %s, got %#v", name, f)
		}
		cursor = ch.Cursor
		if err := c.Send(ctx, &syncproto.ChangesAck{Cursor: cursor}); err != nil {
			t.Fatal(err)
		}
	}
	// Notified: within a second (well under the poll interval's help).
	start := time.Now()
	if _, err := e.db.CreateHost(ctx, tenant, visitor.Host{Name: "Grace Hopper"}, admin); err != nil {
		t.Fatal(err)
	}
	e.srv.Notify(tenant)
	expectHost("Grace Hopper", time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("live change took %v", d)
	}
	// Not notified: the poll fallback delivers it.
	if _, err := e.db.CreateHost(ctx, tenant, visitor.Host{Name: "Katherine Johnson"}, admin); err != nil {
		t.Fatal(err)
	}
	expectHost("Katherine Johnson", 3*time.Second)
	// Another tenant's change never reaches this kiosk.
	if err := e.db.EnsureTenant(ctx, "org_globex", "Globex"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CreateHost(ctx, "org_globex", visitor.Host{Name: "Hank Scorpio"}, admin); err != nil {
		t.Fatal(err)
	}
	e.srv.Notify("org_globex")
	rctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	if f, err := c.Recv(rctx); err == nil {
		t.Fatalf("got %#v for another tenant's change", f)
	}
}

func TestCursorResume(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	ctx := context.Background()
	k := e.pair(t)
	latest, err := e.db.LatestChangeSeq(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CreateHost(ctx, tenant, visitor.Host{Name: "Grace Hopper"}, admin); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		cursor       string
		wantSnapshot bool
	}{
		{"current cursor resumes", store.FormatCursor(latest), false},
		{"cursor from the future", store.FormatCursor(latest + 1_000_000), true},
		{"unparsable cursor", "not-a-cursor", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := e.connect(t, k, tc.cursor)
			defer c.Close()
			f := recv(t, c, 5*time.Second)
			switch f := f.(type) {
			case *syncproto.SnapshotBegin:
				if !tc.wantSnapshot {
					t.Fatal("snapshot for a good cursor")
				}
			case *syncproto.Changes:
				if tc.wantSnapshot || f.Snapshot || f.FromCursor != tc.cursor || len(f.Items) != 1 {
					t.Fatalf("changes %+v", f)
				}
			default:
				t.Fatalf("unexpected %T", f)
			}
		})
	}
	t.Run("pruned cursor", func(t *testing.T) {
		if _, err := e.db.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c, _ := e.connect(t, k, store.FormatCursor(latest))
		if _, ok := recv(t, c, 5*time.Second).(*syncproto.SnapshotBegin); !ok {
			t.Fatal("a pruned cursor did not get a snapshot")
		}
	})
}

func TestRevokeLiveConnection(t *testing.T) {
	tests := []struct {
		name   string
		notify bool // call Revoke, or rely on the status poll
	}{
		{"Revoke", true},
		{"status poll", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, storetest.SQLite)
			k := e.pair(t)
			c, _ := e.connect(t, k, "")
			readSnapshot(t, c)
			if !e.srv.Online(k.id) {
				t.Fatal("device not online")
			}
			start := time.Now()
			if _, err := e.db.SetDeviceStatus(context.Background(), tenant, k.id, visitor.DeviceRevoked, admin); err != nil {
				t.Fatal(err)
			}
			if tc.notify {
				e.srv.Revoke(k.id)
			}
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("connection still open 5 s after revoke")
			}
			var bye *syncproto.ByeError
			if !errors.As(c.Err(), &bye) || bye.Reason != syncproto.ByeRevoked {
				t.Errorf("connection ended with %v, want bye revoked", c.Err())
			}
			t.Logf("closed %v after revoke", time.Since(start))
			if _, _, err := e.dial(t, k, "", nil); syncproto.CodeOf(err) != syncproto.CodeRevoked {
				t.Errorf("reconnect: %v, want revoked", err)
			}
		})
	}
}

func TestUnpairedDrainsThenBye(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	ctx := context.Background()
	k := e.pair(t)
	if _, err := e.db.SetDeviceStatus(ctx, tenant, k.id, visitor.DeviceUnpaired, admin); err != nil {
		t.Fatal(err)
	}
	c, _ := e.connect(t, k, "")
	o, id := checkInOp(t, 1, e.loc.ID)
	if err := c.Send(ctx, &syncproto.Push{Batch: 1, MonoMs: 100_000, Ops: []syncproto.Op{o}}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		f, err := c.Recv(rctx)
		if err != nil {
			break
		}
		if a, ok := f.(*syncproto.Ack); ok && a.UpToSeq != 1 {
			t.Fatalf("ack %+v", a)
		}
	}
	var bye *syncproto.ByeError
	if !errors.As(c.Err(), &bye) || bye.Reason != syncproto.ByeUnpaired {
		t.Fatalf("ended with %v, want bye unpaired", c.Err())
	}
	if _, err := e.db.Visit(ctx, tenant, id); err != nil {
		t.Errorf("drained visit: %v", err)
	}
}

func TestShutdownSaysBye(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	k := e.pair(t)
	c, _ := e.connect(t, k, "")
	readSnapshot(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	var bye *syncproto.ByeError
	if !errors.As(c.Err(), &bye) || bye.Reason != syncproto.ByeShutdown {
		t.Errorf("ended with %v, want bye shutdown", c.Err())
	}
	if _, _, err := e.dial(t, k, "", nil); err == nil {
		t.Error("connected after shutdown")
	}
}

func TestReplacedConnection(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	k := e.pair(t)
	old, _ := e.connect(t, k, "")
	readSnapshot(t, old)
	fresh, _ := e.connect(t, k, "")
	readSnapshot(t, fresh)
	select {
	case <-old.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("old connection not replaced")
	}
	if syncproto.CodeOf(old.Err()) != syncproto.CodeReplaced {
		t.Errorf("old ended with %v, want replaced", old.Err())
	}
	if !e.srv.Online(k.id) || e.srv.Connected() != 1 {
		t.Errorf("online=%v connected=%d", e.srv.Online(k.id), e.srv.Connected())
	}
}
