// Package sim runs many simulated kiosks in one process against a cloud:
// each kiosk is a real edge engine (edge.Open) over its own SQLite data
// directory, syncing over its own WebSocket. The simulation checks
// visitors in at a given rate across the kiosks, cuts links at random and
// takes kiosks offline for a while, then lets every kiosk drain and runs a
// set check: each check-in an engine acknowledged must be in the cloud
// exactly once (one visit, one visitor.checked_in event).
//
// Kiosks are provisioned straight into the cloud's database (a
// Provisioner), as an approved pairing would, so a run needs no Hub and no
// admin session; the set check reads the same database (a Checker).
package sim

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/syncclient"
	"github.com/theonestack/visitor/syncproto"
)

// Config sizes a simulation. Zero values take the defaults named.
type Config struct {
	// CloudURL is the cloud's base URL (http://host:port). Required.
	CloudURL string
	// Dir holds one data directory per kiosk. Required.
	Dir string
	// Kiosks is the number of simulated kiosks (default 10).
	Kiosks int
	// Rate is check-ins per second across all kiosks (default 10).
	Rate float64
	// Duration is how long check-ins are generated (default 10 s).
	Duration time.Duration
	// OfflineProb is the chance, per kiosk and second, that the kiosk goes
	// offline (its link is cut and it cannot reconnect) for OfflineFor.
	OfflineProb float64
	// OfflineFor bounds an offline period: uniform in [OfflineFor/4,
	// OfflineFor] (default 5 s).
	OfflineFor time.Duration
	// DisconnectProb is the chance, per kiosk and second, that its link is
	// cut once (it reconnects after its backoff).
	DisconnectProb float64
	// Seed makes the run's choices (which kiosk, when, faults) repeatable.
	Seed uint64
	// DrainTimeout bounds the wait, after the load ends, for every kiosk
	// to have nothing pending (default 60 s).
	DrainTimeout time.Duration
	// Workers is the number of check-ins that may run at once (default 16).
	Workers int
	// BackoffBase and BackoffCap bound each kiosk's reconnect delay
	// (defaults 100 ms and 2 s: shorter than a real kiosk's 1 s → 60 s so a
	// short run sees many reconnects).
	BackoffBase, BackoffCap time.Duration
	// Logger receives progress (never visitor data). Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Kiosks <= 0 {
		c.Kiosks = 10
	}
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.OfflineFor <= 0 {
		c.OfflineFor = 5 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 60 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 100 * time.Millisecond
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Placement is where a provisioned kiosk belongs in the cloud.
type Placement struct {
	DeviceID, TenantID, LocationID string
}

// Provisioner binds kiosk i's public key to a device in the cloud, as an
// approved pairing does.
type Provisioner interface {
	Provision(ctx context.Context, i int, pub ed25519.PublicKey) (Placement, error)
}

// Checker reads what the cloud holds for a set of visit ids: how many
// visit rows and how many visitor.checked_in events each has.
type Checker interface {
	Count(ctx context.Context, visitIDs []string) (visits, checkedIn map[string]int, err error)
}

// Report is the outcome of a run. Lost and Duplicated must be zero.
type Report struct {
	Kiosks        int
	Acked         int // check-ins the engines acknowledged
	InCloud       int // of those, present in the cloud
	Lost          int // acknowledged, not in the cloud
	Duplicated    int // in the cloud more than once, or with more than one checked_in event
	CheckInErrors int // check-ins an engine refused (none expected)
	Skipped       int // ticks dropped because every worker was busy
	Disconnects   int // links cut at random
	Offline       int // offline periods
	Drained       bool
	CheckInP99    time.Duration
	Elapsed       time.Duration
}

// OK reports whether nothing was lost or duplicated and every kiosk
// drained.
func (r Report) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Drained && r.CheckInErrors == 0
}

// String is the one-paragraph summary the command prints.
func (r Report) String() string {
	return fmt.Sprintf("kiosks %d acked %d in_cloud %d lost %d duplicated %d check_in_errors %d skipped %d disconnects %d offline_periods %d drained %v checkin_p99_ms %.1f elapsed_s %.1f",
		r.Kiosks, r.Acked, r.InCloud, r.Lost, r.Duplicated, r.CheckInErrors, r.Skipped, r.Disconnects, r.Offline, r.Drained,
		float64(r.CheckInP99)/float64(time.Millisecond), r.Elapsed.Seconds())
}

// kiosk is one simulated kiosk: an engine and its faulty link.
type kiosk struct {
	eng *edge.Engine

	mu           sync.Mutex
	offlineUntil time.Time
	conn         io.Closer // the live transport, nil when none
}

// cut closes the live transport, if any.
func (k *kiosk) cut() bool {
	k.mu.Lock()
	c := k.conn
	k.conn = nil
	k.mu.Unlock()
	if c != nil {
		c.Close()
		return true
	}
	return false
}

func (k *kiosk) goOffline(until time.Time) {
	k.mu.Lock()
	k.offlineUntil = until
	k.mu.Unlock()
	k.cut()
}

func (k *kiosk) online() {
	k.mu.Lock()
	k.offlineUntil = time.Time{}
	k.mu.Unlock()
}

// dialer returns the engine's Dial: a real WebSocket to the cloud, refused
// while the kiosk is offline, remembered so the chaos loop can cut it.
func (k *kiosk) dialer(cloudURL string) func(ctx context.Context) (syncproto.Transport, error) {
	return func(ctx context.Context) (syncproto.Transport, error) {
		k.mu.Lock()
		off := time.Now().Before(k.offlineUntil)
		k.mu.Unlock()
		if off {
			return nil, errors.New("sim: kiosk is offline")
		}
		u, err := syncclient.SyncURL(cloudURL)
		if err != nil {
			return nil, err
		}
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		ws, resp, err := d.DialContext(ctx, u, http.Header{})
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", u, err)
		}
		t := syncproto.NewWebSocketTransport(ws, syncproto.DefaultMaxFrame)
		k.mu.Lock()
		k.conn = t
		k.mu.Unlock()
		return t, nil
	}
}

// Run provisions cfg.Kiosks engines, runs the load with faults for
// cfg.Duration, waits for every kiosk to drain, and checks the cloud. It
// returns an error only when the run could not be carried out (the
// report says whether anything was lost or duplicated). The cloud may be
// restarted or killed while Run runs: kiosks reconnect within BackoffCap.
func Run(ctx context.Context, cfg Config, prov Provisioner, check Checker) (Report, error) {
	cfg = cfg.withDefaults()
	if cfg.CloudURL == "" || cfg.Dir == "" {
		return Report{}, errors.New("sim: CloudURL and Dir are required")
	}
	log := cfg.Logger
	start := time.Now()
	rep := Report{Kiosks: cfg.Kiosks}

	kiosks, err := openKiosks(ctx, cfg, prov)
	defer func() {
		for _, k := range kiosks {
			if k != nil && k.eng != nil {
				k.eng.Close()
			}
		}
	}()
	if err != nil {
		return rep, err
	}
	log.Info("kiosks provisioned", "kiosks", len(kiosks), "elapsed", time.Since(start).Round(time.Millisecond))

	syncCtx, stopSync := context.WithCancel(ctx)
	var syncWG sync.WaitGroup
	for _, k := range kiosks {
		syncWG.Go(func() { k.eng.RunSync(syncCtx) })
	}
	defer func() { stopSync(); syncWG.Wait() }()

	var (
		mu        sync.Mutex
		acked     []string
		latencies []time.Duration
		errs      atomic.Int64
		skipped   int
	)
	work := make(chan int, cfg.Workers)
	var workWG sync.WaitGroup
	for range cfg.Workers {
		workWG.Go(func() {
			for i := range work {
				name := fmt.Sprintf("Sim Visitor %d-%d", i, time.Now().UnixNano()%1_000_000)
				t0 := time.Now()
				v, err := kiosks[i].eng.CheckIn(ctx, edge.CheckInRequest{Name: name, Company: "Initech", VisitorType: "guest"})
				d := time.Since(t0)
				if err != nil {
					errs.Add(1)
					log.Warn("check-in refused", "kiosk", i, "err", err)
					continue
				}
				mu.Lock()
				acked = append(acked, v.ID)
				latencies = append(latencies, d)
				mu.Unlock()
			}
		})
	}

	// The load and the chaos share one loop and one seeded source, so a
	// seed repeats the same schedule.
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	const tick = 50 * time.Millisecond
	perTick := cfg.Rate * tick.Seconds()
	tickP := func(perSecond float64) float64 { return perSecond * tick.Seconds() }
	loadEnd := time.Now().Add(cfg.Duration)
	ticker := time.NewTicker(tick)
	carry := 0.0
loop:
	for time.Now().Before(loadEnd) {
		select {
		case <-ctx.Done():
			break loop
		case <-ticker.C:
		}
		now := time.Now()
		for _, k := range kiosks {
			k.mu.Lock()
			back := !k.offlineUntil.IsZero() && now.After(k.offlineUntil)
			k.mu.Unlock()
			if back {
				k.online() // the engine's backoff brings it back
			}
			if cfg.OfflineProb > 0 && r.Float64() < tickP(cfg.OfflineProb) {
				span := cfg.OfflineFor/4 + time.Duration(r.Int64N(int64(cfg.OfflineFor*3/4)+1))
				k.goOffline(now.Add(span))
				rep.Offline++
			} else if cfg.DisconnectProb > 0 && r.Float64() < tickP(cfg.DisconnectProb) {
				if k.cut() {
					rep.Disconnects++
				}
			}
		}
		carry += perTick
		for ; carry >= 1; carry-- {
			select {
			case work <- r.IntN(len(kiosks)):
			default:
				skipped++
			}
		}
	}
	ticker.Stop()
	close(work)
	workWG.Wait()
	for _, k := range kiosks {
		k.online()
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	rep.Acked, rep.CheckInErrors, rep.Skipped = len(acked), int(errs.Load()), skipped
	rep.CheckInP99 = p99(latencies)
	log.Info("load finished; draining", "acked", rep.Acked, "disconnects", rep.Disconnects, "offline_periods", rep.Offline)

	rep.Drained = waitDrained(ctx, kiosks, cfg.DrainTimeout)
	visits, events, err := check.Count(ctx, acked)
	if err != nil {
		return rep, fmt.Errorf("sim: set check: %w", err)
	}
	want := make(map[string]bool, len(acked))
	for _, id := range acked {
		want[id] = true
		n, e := visits[id], events[id]
		if n > 0 {
			rep.InCloud++
		}
		switch {
		case n == 0:
			rep.Lost++
		case n > 1 || e > 1:
			rep.Duplicated++
		case e == 0:
			rep.Lost++ // the visit arrived without its Bus event
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// openKiosks opens and provisions every kiosk, a few at a time.
func openKiosks(ctx context.Context, cfg Config, prov Provisioner) ([]*kiosk, error) {
	kiosks := make([]*kiosk, cfg.Kiosks)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				k, err := openKiosk(ctx, cfg, prov, i)
				mu.Lock()
				kiosks[i] = k
				if err != nil && first == nil {
					first = fmt.Errorf("kiosk %d: %w", i, err)
				}
				mu.Unlock()
			}
		})
	}
	for i := range cfg.Kiosks {
		next <- i
	}
	close(next)
	wg.Wait()
	return kiosks, first
}

func openKiosk(ctx context.Context, cfg Config, prov Provisioner, i int) (*kiosk, error) {
	k := &kiosk{}
	dir := filepath.Join(cfg.Dir, fmt.Sprintf("kiosk-%04d", i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	eng, err := edge.Open(ctx, edge.Config{DataDir: dir, CloudURL: cfg.CloudURL}, edge.Options{
		Sync: syncclient.Options{Dial: k.dialer(cfg.CloudURL), BackoffBase: cfg.BackoffBase, BackoffCap: cfg.BackoffCap},
	})
	if err != nil {
		return nil, err
	}
	k.eng = eng
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return k, err
	}
	p, err := prov.Provision(ctx, i, pub)
	if err != nil {
		return k, fmt.Errorf("provision: %w", err)
	}
	if err := eng.Provision(ctx, p.DeviceID, p.TenantID, p.LocationID, priv); err != nil {
		return k, err
	}
	return k, nil
}

// waitDrained waits until no kiosk has a pending op.
func waitDrained(ctx context.Context, kiosks []*kiosk, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pending := int64(0)
		for _, k := range kiosks {
			st, err := k.eng.Status(ctx)
			if err != nil {
				pending++
				continue
			}
			pending += st.PendingOps
		}
		if pending == 0 {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*99+99)/100 - 1
	return s[min(max(i, 0), len(s)-1)]
}
