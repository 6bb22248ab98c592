package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/edgeapi"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

// 5. The kiosk's clock is 12 hours fast, or at 1970 (no RTC, booted
// offline): the cloud stores the real times, and orders by device
// sequence.
func TestKioskClockSkew(t *testing.T) {
	short(t)
	for name, skew := range map[string]func(time.Time) time.Time{
		"12 hours fast": func(t time.Time) time.Time { return t.Add(12 * time.Hour) },
		"at 1970":       func(t time.Time) time.Time { return time.Unix(0, 0).Add(t.Sub(t.Truncate(time.Hour))) },
	} {
		t.Run(name, func(t *testing.T) {
			s := newSystem(t)
			s.edge.kill() // this kiosk runs in-process, with its clock skewed
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			eng, err := edge.Open(ctx, edge.Config{DataDir: s.edgeDir, CloudURL: "http://" + s.proxy.Listen, LocalAPIAddr: s.edgeAddr},
				edge.Options{Now: func() time.Time { return skew(time.Now()) }})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			s.partition() // the visits happen offline, before any skew is measured
			var ids []string
			var real []time.Time
			for i := 0; i < 3; i++ {
				v, err := eng.CheckIn(ctx, edgeapi.CheckInRequest{Name: fmt.Sprintf("Skewed %d", i)})
				if err != nil {
					t.Fatal(err)
				}
				ids, real = append(ids, v.ID), append(real, time.Now())
				time.Sleep(200 * time.Millisecond)
			}
			s.heal()
			go eng.RunSync(ctx)
			deadline := time.Now().Add(30 * time.Second)
			for len(s.cloudCounts().visits) < len(ids) {
				if time.Now().After(deadline) {
					t.Fatal("visits did not sync")
				}
				time.Sleep(50 * time.Millisecond)
			}
			var prev time.Time
			for i, id := range ids {
				v, err := s.db.Visit(ctx, tenant, id)
				if err != nil {
					t.Fatal(err)
				}
				if d := v.CheckedInAt.Sub(real[i]); d < -2*time.Second || d > 2*time.Second {
					t.Errorf("visit %d stored at %s, happened at %s (off by %s)", i, v.CheckedInAt, real[i], d)
				}
				if !v.CheckedInAt.After(prev) {
					t.Errorf("visit %d is not after visit %d", i, i-1)
				}
				prev = v.CheckedInAt
			}
		})
	}
}

// 6. Duplicated and reordered frames from a device: the effect is
// idempotent, and a sequence gap is detected and repaired.
func TestDuplicatedAndReorderedFrames(t *testing.T) {
	short(t)
	s := newSystem(t)
	s.edge.kill() // this test speaks the protocol itself, as the device
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+s.cloudAddr+"/api/sync", http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	tr := syncproto.NewWebSocketTransport(ws, syncproto.DefaultMaxFrame)
	start := time.Now()
	mono := func() int64 { return time.Since(start).Milliseconds() }
	welcome, _, err := syncproto.ClientHandshake(ctx, tr, syncproto.HelloParams{DeviceID: s.deviceID, BootID: "boot-1", Mono: mono},
		func(nonce []byte) ([]byte, error) { return pairing.SignChallenge(s.priv, s.deviceID, nonce), nil })
	if err != nil {
		t.Fatal(err)
	}
	conn := syncproto.NewConn(tr, syncproto.Options{HeartbeatInterval: welcome.Heartbeat()})
	defer conn.Close()

	ops := make([]syncproto.Op, 10)
	for i := range ops {
		payload, _ := json.Marshal(syncproto.CheckInPayload{VisitID: uuid.Must(uuid.NewV7()).String(), LocationID: s.location.ID,
			Visitor: syncproto.PersonPayload{Name: fmt.Sprintf("Frame %d", i)}})
		ops[i] = syncproto.Op{Seq: int64(i + 1), OpID: uuid.NewString(), Kind: syncproto.KindVisitCheckIn,
			TimeMs: time.Now().UnixMilli(), BootID: "boot-1", MonoMs: mono(), Payload: payload}
	}
	batch := int64(0)
	push := func(from, to int) *syncproto.Ack {
		t.Helper()
		batch++
		if err := conn.Send(ctx, &syncproto.Push{Batch: batch, MonoMs: mono(), Ops: ops[from:to]}); err != nil {
			t.Fatal(err)
		}
		for {
			f, err := conn.Recv(ctx)
			if err != nil {
				t.Fatalf("recv: %v", err)
			}
			if ack, ok := f.(*syncproto.Ack); ok {
				if ack.Batch != batch {
					t.Fatalf("ack for batch %d, want %d", ack.Batch, batch)
				}
				return ack
			}
		}
	}
	if ack := push(0, 4); ack.UpToSeq != 4 {
		t.Fatalf("first batch ack %+v", ack)
	}
	if ack := push(0, 4); ack.UpToSeq != 4 { // duplicated frame
		t.Errorf("duplicate batch ack %+v", ack)
	}
	if ack := push(6, 10); ack.ExpectedSeq != 5 { // reordered: 7..10 before 5..6
		t.Errorf("gap not detected: %+v", ack)
	}
	if ack := push(4, 6); ack.UpToSeq != 6 {
		t.Errorf("repair ack %+v", ack)
	}
	if ack := push(2, 10); ack.UpToSeq != 10 { // overlapping resend
		t.Errorf("overlap ack %+v", ack)
	}
	c := s.cloudCounts()
	if len(c.visits) != 10 {
		t.Errorf("cloud has %d visits, want 10", len(c.visits))
	}
	for id, n := range c.checkedIn {
		if n != 1 {
			t.Errorf("visit %s has %d events", id, n)
		}
	}
	if d, err := s.db.Device(ctx, tenant, s.deviceID); err != nil || d.LastAppliedSeq != 10 {
		t.Errorf("device last applied = %d, %v", d.LastAppliedSeq, err)
	}
}

// 7. The kiosk's cursor is older than what the cloud keeps: it gets a
// snapshot, and its outbox survives.
func TestCursorTooOldGetsSnapshot(t *testing.T) {
	short(t)
	s := newSystem(t)
	ctx := context.Background()
	admin := store.Actor{Type: store.ActorUser, ID: "u_admin"}
	s.waitSynced(nil, 20*time.Second)
	s.partition()
	var acked []string
	for i := 0; i < 20; i++ {
		acked = append(acked, s.checkIn(fmt.Sprintf("Before Snapshot %02d", i)))
	}
	if _, err := s.db.CreateHost(ctx, tenant, visitor.Host{Name: "Zelda Newhost"}, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.heal()
	s.waitSynced(acked, 30*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + s.edgeAddr + "/v1/hosts?q=zel")
		if err == nil {
			var body struct {
				Hosts []visitor.Host `json:"hosts"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if len(body.Hosts) == 1 && strings.Contains(body.Hosts[0].Name, "Zelda") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot did not bring the new host to the kiosk\n%s", tail(s.edge.logs.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
