package sim_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/perf/sim"
)

// TestRunSetCheck runs a small simulation against an in-process cloud
// with frequent link cuts and offline periods, and checks the report: the
// load ran, faults happened, and every acknowledged check-in is in the
// cloud exactly once.
func TestRunSetCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kiosks against a cloud for seconds")
	}
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{
		"LISTEN_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite:" + filepath.Join(dir, "cloud.db"), "HUB_URL": "http://127.0.0.1:9",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cloud.Start(ctx, cfg, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Shutdown(context.Background())
	db := sim.NewDB(svc.Store(), "org_simtest", 2)

	for _, tt := range []struct {
		name                string
		offline, disconnect float64
	}{
		{"steady", 0, 0},
		{"faulty", 0.5, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := sim.Run(ctx, sim.Config{
				CloudURL: "http://" + svc.Addr(), Dir: filepath.Join(dir, tt.name), Kiosks: 4, Rate: 40,
				Duration: 2 * time.Second, OfflineProb: tt.offline, OfflineFor: 800 * time.Millisecond,
				DisconnectProb: tt.disconnect, Seed: 7, DrainTimeout: 15 * time.Second,
				BackoffBase: 50 * time.Millisecond, BackoffCap: 300 * time.Millisecond,
			}, db, db)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(rep)
			if !rep.OK() || rep.InCloud != rep.Acked {
				t.Errorf("report %s: want nothing lost or duplicated, every kiosk drained", rep)
			}
			if rep.Acked < 40 {
				t.Errorf("acked %d check-ins, want about 80", rep.Acked)
			}
			if faulty := rep.Disconnects+rep.Offline > 0; faulty != (tt.disconnect > 0) {
				t.Errorf("faults %d cuts, %d offline periods; configured %v", rep.Disconnects, rep.Offline, tt.disconnect > 0)
			}
		})
	}
}
