package e2e

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/perf/sim"
)

// TestSoak runs the load generator against a real visitor-cloud process:
// 200 kiosks (real edge engines, one SQLite database each) check visitors
// in for 60 s with random link cuts and offline periods, and the cloud is
// killed with SIGKILL once in the middle and started again on the same
// address and database. Every acknowledged check-in must then be in the
// cloud exactly once, with one visitor.checked_in event, and nothing else.
func TestSoak(t *testing.T) {
	short(t)
	size := struct {
		kiosks   int
		duration time.Duration
		rate     float64
	}{200, 60 * time.Second, 30}
	ctx := context.Background()
	dir := t.TempDir()
	addr := freeAddr(t)
	dbURL := "sqlite:" + filepath.Join(dir, "cloud.db")
	cloud := &proc{t: t, name: "visitor-cloud", logs: &syncBuffer{}, env: []string{
		"LISTEN_ADDR=" + addr, "DATABASE_URL=" + dbURL, "HUB_URL=http://127.0.0.1:9", "LOG_LEVEL=warn",
	}}
	cloud.start()
	t.Cleanup(cloud.kill)
	waitHTTP(t, "http://"+addr+"/readyz", 20*time.Second, cloud.logs)

	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const soakTenant = "org_soak"
	cdb := sim.NewDB(db, soakTenant, 20)

	type result struct {
		rep sim.Report
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		rep, err := sim.Run(ctx, sim.Config{
			CloudURL: "http://" + addr, Dir: filepath.Join(dir, "kiosks"),
			Kiosks: size.kiosks, Rate: size.rate, Duration: size.duration,
			OfflineProb: 0.01, OfflineFor: 4 * time.Second, DisconnectProb: 0.02, Seed: 20,
			DrainTimeout: 25 * time.Second, BackoffBase: 100 * time.Millisecond, BackoffCap: time.Second,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}, cdb, cdb)
		done <- result{rep, err}
	}()

	// Kill the cloud in the middle of the load, leave it down a moment
	// (kiosks keep checking in offline), and start it again.
	visitsOf := func() int {
		var n int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM visits WHERE tenant_id = ?`, soakTenant).Scan(&n); err != nil {
			t.Fatalf("count visits: %v", err)
		}
		return n
	}
	time.Sleep(size.duration / 2)
	before := visitsOf()
	cloud.kill()
	t.Logf("cloud killed at %s with %d visits applied", time.Since(start).Round(time.Second), before)
	time.Sleep(2 * time.Second)
	cloud.start()
	waitHTTP(t, "http://"+addr+"/readyz", 20*time.Second, cloud.logs)

	r := <-done
	rep := r.rep
	t.Logf("%s", rep)
	if r.err != nil {
		t.Fatalf("sim: %v\ncloud logs:\n%s", r.err, tail(cloud.logs.String()))
	}
	if before == 0 {
		t.Errorf("no visit reached the cloud before the kill: the restart proved nothing")
	}
	if rep.Acked < int(size.rate*size.duration.Seconds())/2 {
		t.Errorf("only %d check-ins acknowledged; the load did not run", rep.Acked)
	}
	if rep.Disconnects == 0 || rep.Offline == 0 {
		t.Errorf("faults: %d link cuts, %d offline periods; want some of each", rep.Disconnects, rep.Offline)
	}
	if !rep.Drained {
		t.Errorf("kiosks still had pending ops %s after the load ended", 25*time.Second)
	}
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.CheckInErrors != 0 {
		t.Errorf("lost = %d, duplicated = %d, refused check-ins = %d (of %d acknowledged)", rep.Lost, rep.Duplicated, rep.CheckInErrors, rep.Acked)
	}
	// Nothing the kiosks did not acknowledge reached the cloud either.
	if n := visitsOf(); n != rep.Acked {
		t.Errorf("cloud holds %d visits of the tenant, kiosks acknowledged %d", n, rep.Acked)
	}
	var events int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM outbox WHERE tenant_id = ? AND type = ?`, soakTenant, visitor.EventCheckedIn).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != rep.Acked {
		t.Errorf("cloud queued %d visitor.checked_in events, want %d", events, rep.Acked)
	}
}
