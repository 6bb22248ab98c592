package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

func short(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-system fault test")
	}
}

// 1. Partition: the cloud is unreachable while 500 visitors check in at
// the kiosk (all succeed locally); after the link heals every one is in
// the cloud exactly once within 30 s.
func TestPartitionThenHeal(t *testing.T) {
	short(t)
	s := newSystem(t)
	s.partition()
	var acked []string
	for i := 0; i < 500; i++ {
		acked = append(acked, s.checkIn(fmt.Sprintf("Partitioned Visitor %03d", i)))
	}
	if st, _ := s.status(); st.PendingOps != 500 || st.Online {
		t.Errorf("while partitioned: %+v; want 500 pending, offline", st)
	}
	s.heal()
	s.waitSynced(acked, 30*time.Second)
}

// 2. Lost ack: acks from the cloud never reach the kiosk (the cloud has
// committed the batch), then the link is reset: the kiosk resends, the
// cloud recognises the ops, nothing is duplicated.
func TestLostAck(t *testing.T) {
	short(t)
	s := newSystem(t)
	s.waitSynced(nil, 20*time.Second) // connected, nothing pending
	s.toxic(`{"name":"no_acks","type":"timeout","stream":"downstream","toxicity":1,"attributes":{"timeout":0}}`)
	var acked []string
	for i := 0; i < 50; i++ {
		acked = append(acked, s.checkIn(fmt.Sprintf("Lost Ack %02d", i)))
	}
	// The cloud commits batches whose acks never arrive; the kiosk stops
	// after its window of unacknowledged batches (SPEC.md flow control).
	deadline := time.Now().Add(15 * time.Second)
	for len(s.cloudCounts().visits) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("cloud applied nothing while acks were cut")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if st, _ := s.status(); st.PendingOps != int64(len(acked)) {
		t.Fatalf("kiosk saw acks through the cut: %+v", st)
	}
	applied := len(s.cloudCounts().visits)
	t.Logf("cloud committed %d ops whose acks were lost", applied)
	s.clearToxics()
	s.partition() // drop the stalled connection
	s.heal()
	s.waitSynced(acked, 30*time.Second)
}

// 3. The kiosk process is killed with SIGKILL twenty times at random
// moments while it drains a backlog: lost = 0, duplicated = 0.
func TestEdgeKilledDuringDrain(t *testing.T) {
	short(t)
	s := newSystem(t)
	s.partition()
	var acked []string
	for i := 0; i < 600; i++ {
		acked = append(acked, s.checkIn(fmt.Sprintf("Kill Edge %03d", i)))
	}
	// A thin uplink makes the drain take seconds, so every kill lands in it.
	s.toxic(`{"name":"thin","type":"bandwidth","stream":"upstream","toxicity":1,"attributes":{"rate":24}}`)
	s.heal()
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 20; i++ {
		time.Sleep(time.Duration(20+r.IntN(180)) * time.Millisecond)
		st, err := s.status()
		if err != nil || st.PendingOps == 0 {
			t.Fatalf("kill %d: the drain is over already (%+v, %v); the test would prove nothing", i, st, err)
		}
		s.edge.kill()
		s.startEdge()
		if i%5 == 4 { // keep the lobby busy between kills
			acked = append(acked, s.checkIn(fmt.Sprintf("Between Kills %02d", i)))
		}
	}
	s.clearToxics()
	s.waitSynced(acked, 60*time.Second)
}

// 4. The cloud process is killed with SIGKILL in the middle of applying
// batches, five times: lost = 0, duplicated = 0.
func TestCloudKilledDuringApply(t *testing.T) {
	short(t)
	s := newSystem(t)
	s.partition()
	var acked []string
	for i := 0; i < 3000; i++ {
		acked = append(acked, s.checkIn(fmt.Sprintf("Kill Cloud %04d", i)))
	}
	s.heal()
	r := rand.New(rand.NewPCG(3, 5))
	midApply := 0
	for i := 0; i < 5; i++ {
		// Kill as soon as batches are seen landing, a few ms later.
		before := len(s.cloudCounts().visits)
		deadline := time.Now().Add(20 * time.Second)
		for len(s.cloudCounts().visits) == before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(r.IntN(30)) * time.Millisecond)
		s.cloud.kill()
		applied := len(s.cloudCounts().visits)
		if applied > before && applied < len(acked) {
			midApply++
		}
		t.Logf("kill %d with %d of %d applied", i, applied, len(acked))
		s.cloud.start()
		waitHTTP(t, "http://"+s.cloudAddr+"/readyz", 20*time.Second, s.cloud.logs)
	}
	if midApply == 0 {
		t.Fatal("no kill landed while batches were being applied; the test proved nothing")
	}
	s.waitSynced(acked, 90*time.Second)
}

// 8. A visit is checked out in the console and at the kiosk while the
// kiosk is offline: one visitor.checked_out event, both audited.
func TestConsoleAndKioskCheckOutOffline(t *testing.T) {
	short(t)
	s := newSystem(t)
	id := s.checkIn("Double Checkout")
	s.waitSynced([]string{id}, 20*time.Second)
	s.partition()
	ctx := context.Background()
	if _, changed, err := s.db.CheckOut(ctx, tenant, id, time.Time{}, visitor.SourceStaff, store.Actor{Type: store.ActorUser, ID: "u_reception"}); err != nil || !changed {
		t.Fatalf("console check-out: changed %v, %v", changed, err)
	}
	s.checkOut(id)
	s.heal()
	c := s.waitSynced([]string{id}, 30*time.Second)
	if c.checkedOut[id] != 1 {
		t.Errorf("%d checked_out events, want 1", c.checkedOut[id])
	}
	audit, _, err := s.db.Audit(ctx, tenant, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var first, repeated int
	for _, r := range audit {
		if r.Subject != id {
			continue
		}
		switch r.Action {
		case "visit.check_out":
			first++
		case "visit.check_out_repeated":
			repeated++
		}
	}
	if first != 1 || repeated != 1 {
		t.Errorf("audit: %d check-outs and %d repeated; want both audited once", first, repeated)
	}
	v, _ := s.db.Visit(ctx, tenant, id)
	if v.Status != visitor.VisitCheckedOut {
		t.Errorf("visit status %s", v.Status)
	}
}

// 9. A slow link — 150 ms each way and frames cut into a few bytes at a
// time — still converges, with no partial frame accepted.
func TestSlowLink(t *testing.T) {
	short(t)
	s := newSystem(t)
	s.toxic(`{"name":"lat_up","type":"latency","stream":"upstream","toxicity":1,"attributes":{"latency":150,"jitter":50}}`)
	s.toxic(`{"name":"lat_down","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":150,"jitter":50}}`)
	s.toxic(`{"name":"slice_up","type":"slicer","stream":"upstream","toxicity":1,"attributes":{"average_size":16,"size_variation":12,"delay":200}}`)
	s.toxic(`{"name":"slice_down","type":"slicer","stream":"downstream","toxicity":1,"attributes":{"average_size":16,"size_variation":12,"delay":200}}`)
	var acked []string
	for i := 0; i < 200; i++ {
		acked = append(acked, s.checkIn(fmt.Sprintf("Slow Link %03d", i)))
	}
	s.waitSynced(acked, 60*time.Second)
}
