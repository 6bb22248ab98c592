package edge_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/printq"
	"github.com/theonestack/visitor/syncproto"
)

func TestCheckInQueuesBadge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openEngine(t, dir, "", edge.Options{PrintBadges: true, Print: printq.Options{BackoffBase: 10 * time.Millisecond}})
	defer e.Close()
	provision(t, e)
	v, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Grace Hopper", Company: "Navy"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.BadgeJob(ctx, v.ID)
	if err != nil || j.State != printq.StateQueued {
		t.Fatalf("badge job %+v, %v; want queued right after check-in", j, err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- e.RunPrinter(rctx) }()
	waitFor(t, "badge printed", func() bool {
		j, err := e.BadgeJob(ctx, v.ID)
		return err == nil && j.State == printq.StatePrinted
	})
	cancel()
	<-done

	kinds := map[string]int{}
	for _, r := range outbox(t, e.Store()) {
		kinds[r.Kind]++
	}
	if kinds[syncproto.KindPrintStatus] != 1 {
		t.Errorf("outbox kinds %v; want one print.status", kinds)
	}
}

func TestBadgeFailureNeverFailsCheckIn(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir(), "", edge.Options{PrintBadges: true})
	defer e.Close()
	provision(t, e)
	// Break the queue's table: enqueueing fails, the check-in must not.
	if err := e.Store().Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`ALTER TABLE print_jobs RENAME TO print_jobs_broken`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	v, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Grace Hopper"})
	if err != nil {
		t.Fatalf("check-in failed because its badge could not be queued: %v", err)
	}
	if got, err := e.Store().Visit(ctx, v.ID); err != nil || got.Status != visitor.VisitCheckedIn {
		t.Fatalf("visit %+v, %v; want committed", got, err)
	}
	if _, err := e.BadgeJob(ctx, v.ID); err == nil {
		t.Error("a badge job exists for a check-in whose badge could not be queued")
	}
}
