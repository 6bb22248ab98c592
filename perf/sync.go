package perf

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/syncproto"
)

// startCloud runs a whole cloud service in this process on a free
// loopback port over dbURL. Hub and Bus point at a closed port, so Bus
// events stay queued in the outbox (what the live figure waits for).
func startCloud(ctx context.Context, dbURL string) (*cloud.Service, error) {
	env := map[string]string{
		"LISTEN_ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL, "HUB_URL": "http://127.0.0.1:9", "LOG_LEVEL": "error",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		return nil, err
	}
	return cloud.Start(ctx, cfg, cloud.Options{})
}

// kioskSite is a tenant, a location and one provisioned device.
type kioskSite struct {
	tenantID, locationID, deviceID string
	priv                           ed25519.PrivateKey
}

func newSite(ctx context.Context, db *store.DB, tenantID string) (kioskSite, error) {
	s := kioskSite{tenantID: tenantID}
	actor := store.Actor{Type: store.ActorSystem, ID: "bench"}
	if err := db.EnsureTenant(ctx, tenantID, tenantID); err != nil {
		return s, err
	}
	l, err := db.CreateLocation(ctx, tenantID, visitor.Location{Name: "Bench Lobby", Timezone: "UTC"}, actor)
	if err != nil {
		return s, err
	}
	s.locationID = l.ID
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return s, err
	}
	s.priv = priv
	d, err := db.ProvisionDevice(ctx, tenantID, l.ID, "Bench kiosk", pub, actor)
	if err != nil {
		return s, err
	}
	s.deviceID = d.ID
	return s, nil
}

// lastApplied reads the device's last applied seq in the cloud.
func lastApplied(ctx context.Context, db *store.DB, deviceID string) (int64, error) {
	var n int64
	err := db.SQL().QueryRowContext(ctx, `SELECT last_applied_seq FROM devices WHERE id = ?`, deviceID).Scan(&n)
	return n, err
}

// Sync measures the kiosk↔cloud path with a real edge engine and a real
// cloud service (SQLite) on loopback:
//
//   - sync_drain_10k_s: a kiosk that was offline for size.DrainOps
//     check-ins connects; seconds until the cloud has applied them all.
//   - live_checkin_to_cloud_p99_ms: then, online, a check-in at the kiosk
//     until its visit and its visitor.checked_in event are in the cloud's
//     database (size.LiveSamples check-ins, one at a time).
//   - edge_checkin_p99_ms: the same backlog drains again into a second,
//     fresh cloud while the kiosk checks visitors in (visit committed,
//     badge rendered and queued) every 10 ms; the p99 of those check-ins.
func Sync(ctx context.Context, dir string, size Size) ([]Result, error) {
	// One cloud database with a provisioned device, copied so both runs
	// start from the same state.
	cloudA, cloudB := filepath.Join(dir, "cloud-a.db"), filepath.Join(dir, "cloud-b.db")
	db, err := store.Open(ctx, "sqlite:"+cloudA, store.Options{})
	if err != nil {
		return nil, err
	}
	site, err := newSite(ctx, db, "org_bench_sync")
	db.Close()
	if err != nil {
		return nil, err
	}
	if err := copyFiles(cloudA, cloudB); err != nil {
		return nil, err
	}
	// The backlog: check-ins on a kiosk that never reached the cloud.
	edgeA, edgeB := filepath.Join(dir, "edge-a"), filepath.Join(dir, "edge-b")
	eng, err := edge.Open(ctx, edge.Config{DataDir: edgeA, CloudURL: "http://127.0.0.1:9"}, edge.Options{})
	if err != nil {
		return nil, err
	}
	if err := eng.Provision(ctx, site.deviceID, site.tenantID, site.locationID, site.priv); err != nil {
		eng.Close()
		return nil, err
	}
	for i := range size.DrainOps {
		if _, err := eng.CheckIn(ctx, edge.CheckInRequest{Name: fmt.Sprintf("Backlog Visitor %05d", i), Company: "Initech"}); err != nil {
			eng.Close()
			return nil, fmt.Errorf("backlog check-in %d: %w", i, err)
		}
	}
	eng.Close()
	if err := copyDir(edgeA, edgeB); err != nil {
		return nil, err
	}

	drain, live, err := drainThenLive(ctx, cloudA, edgeA, site, size)
	if err != nil {
		return nil, err
	}
	checkins, err := checkInWhileDraining(ctx, cloudB, edgeB, site, size)
	if err != nil {
		return nil, err
	}
	return []Result{
		{"sync_drain_10k_s", drain.Seconds(), "s"},
		{"live_checkin_to_cloud_p99_ms", percentile(live, 99), "ms"},
		{"edge_checkin_p99_ms", percentile(checkins, 99), "ms"},
	}, nil
}

// waitApplied polls until the device's last applied seq reaches seq.
func waitApplied(ctx context.Context, db *store.DB, deviceID string, seq int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		n, err := lastApplied(ctx, db, deviceID)
		if err != nil {
			return err
		}
		if n >= seq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cloud applied %d of %d ops within %s", n, seq, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func drainThenLive(ctx context.Context, cloudDB, edgeDir string, site kioskSite, size Size) (time.Duration, []time.Duration, error) {
	svc, err := startCloud(ctx, "sqlite:"+cloudDB)
	if err != nil {
		return 0, nil, err
	}
	defer svc.Shutdown(context.Background())
	eng, err := edge.Open(ctx, edge.Config{DataDir: edgeDir, CloudURL: "http://" + svc.Addr()}, edge.Options{})
	if err != nil {
		return 0, nil, err
	}
	defer eng.Close()
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	start := time.Now()
	wg.Go(func() { eng.RunSync(sctx) })
	if err := waitApplied(ctx, svc.Store(), site.deviceID, int64(size.DrainOps), 5*time.Minute); err != nil {
		return 0, nil, fmt.Errorf("drain: %w", err)
	}
	drain := time.Since(start)

	// Live: one check-in at a time, each until the cloud has the visit and
	// its queued event (written in the same transaction).
	q := `SELECT COUNT(*) FROM visits v JOIN outbox o ON o.subject = v.id AND o.type = ? WHERE v.id = ?`
	var live []time.Duration
	for i := range size.LiveSamples {
		t0 := time.Now()
		v, err := eng.CheckIn(ctx, edge.CheckInRequest{Name: fmt.Sprintf("Live Visitor %04d", i), Company: "Globex"})
		if err != nil {
			return 0, nil, err
		}
		for n := 0; n == 0; {
			if err := svc.Store().SQL().QueryRowContext(ctx, q, visitor.EventCheckedIn, v.ID).Scan(&n); err != nil {
				return 0, nil, err
			}
			if time.Since(t0) > 30*time.Second {
				return 0, nil, fmt.Errorf("live check-in %d not in the cloud after 30 s", i)
			}
			if n == 0 {
				time.Sleep(500 * time.Microsecond)
			}
		}
		live = append(live, time.Since(t0))
		time.Sleep(5 * time.Millisecond)
	}
	return drain, live, nil
}

func checkInWhileDraining(ctx context.Context, cloudDB, edgeDir string, site kioskSite, size Size) ([]time.Duration, error) {
	svc, err := startCloud(ctx, "sqlite:"+cloudDB)
	if err != nil {
		return nil, err
	}
	defer svc.Shutdown(context.Background())
	eng, err := edge.Open(ctx, edge.Config{DataDir: edgeDir, CloudURL: "http://" + svc.Addr()}, edge.Options{PrintBadges: true})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() { eng.RunSync(sctx) })
	var lat []time.Duration
	for i := 0; ; i++ {
		n, err := lastApplied(ctx, svc.Store(), site.deviceID)
		if err != nil {
			return nil, err
		}
		if n >= int64(size.DrainOps) && len(lat) >= size.LiveSamples {
			break
		}
		if i > 100_000 {
			return nil, fmt.Errorf("backlog not drained after %d check-ins", i)
		}
		t0 := time.Now()
		if _, err := eng.CheckIn(ctx, edge.CheckInRequest{Name: fmt.Sprintf("Busy Lobby %05d", i), Company: "Hooli"}); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(10 * time.Millisecond)
	}
	return lat, nil
}

// ApplyRate measures store.ApplyOps in bulk: ops check-in ops from four
// devices of one tenant, pushed in batches of syncproto.MaxBatchOps by one
// goroutine per device (as four connected kiosks would), in ops/s.
func ApplyRate(ctx context.Context, db *store.DB, ops int) (float64, error) {
	const devices = 4
	sites := make([]kioskSite, devices)
	actor := store.Actor{Type: store.ActorSystem, ID: "bench"}
	first, err := newSite(ctx, db, "org_bench_apply")
	if err != nil {
		return 0, err
	}
	sites[0] = first
	for i := 1; i < devices; i++ {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return 0, err
		}
		d, err := db.ProvisionDevice(ctx, first.tenantID, first.locationID, fmt.Sprintf("Bench kiosk %d", i), pub, actor)
		if err != nil {
			return 0, err
		}
		sites[i] = kioskSite{tenantID: first.tenantID, locationID: first.locationID, deviceID: d.ID}
	}
	boot := uuid.NewString()
	now := time.Now()
	anchor := syncproto.Anchor{BootID: boot, MonoMs: 1_000_000, ServerTime: now}
	batches := make([][][]syncproto.Op, devices)
	for d := range devices {
		per := ops / devices
		for seq := int64(1); seq <= int64(per); {
			var batch []syncproto.Op
			for ; seq <= int64(per) && len(batch) < syncproto.MaxBatchOps; seq++ {
				p, err := json.Marshal(syncproto.CheckInPayload{
					VisitID: uuid.Must(uuid.NewV7()).String(), LocationID: first.locationID, VisitorType: "guest",
					Visitor: syncproto.PersonPayload{Name: fmt.Sprintf("Bulk Visitor %d-%d", d, seq), Email: fmt.Sprintf("bulk%d.%d@example.com", d, seq), Company: "Umbrella"},
				})
				if err != nil {
					return 0, err
				}
				batch = append(batch, syncproto.Op{
					Seq: seq, OpID: uuid.NewString(), Kind: syncproto.KindVisitCheckIn, TimeMs: now.UnixMilli(),
					BootID: boot, MonoMs: 1_000_000 - 1000, Payload: p,
				})
			}
			batches[d] = append(batches[d], batch)
		}
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		total    int
	)
	start := time.Now()
	for d := range devices {
		dev := visitor.Device{ID: sites[d].deviceID, TenantID: sites[d].tenantID}
		wg.Go(func() {
			for _, b := range batches[d] {
				res, err := db.ApplyOps(ctx, dev, b, anchor)
				mu.Lock()
				if err == nil && res.Applied != len(b) {
					err = fmt.Errorf("applied %d of %d ops (%d rejected)", res.Applied, len(b), res.Rejected)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				total += res.Applied
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, fmt.Errorf("apply: %w", firstErr)
	}
	return float64(total) / elapsed.Seconds(), nil
}

// freshPostgres creates a new database on the server at adminURL and
// returns its URL and a function that drops it.
func freshPostgres(ctx context.Context, adminURL string) (string, func(), error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres url: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	name := "visitor_bench_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		defer admin.Close()
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.ExecContext(c, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// copyFiles copies a SQLite database (and its -wal, if any) to dst.
func copyFiles(src, dst string) error {
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(src+suffix, dst+suffix); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := copyDir(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
