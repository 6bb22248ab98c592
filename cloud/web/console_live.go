package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/theonestack/visitor/cloud/store"
)

// liveLookback is how far below the highest visit event seq seen the
// watcher looks again: on PostgreSQL a transaction that took a lower seq
// may commit after one that took a higher seq.
const liveLookback = 64

// liveBatch bounds one poll; a burst larger than this wakes everyone.
const liveBatch = 2000

// liveFeed tells open visitor-log pages of a tenant that its visits
// changed. One goroutine per process polls the shared database's
// visit_events (a primary-key range read) every interval while at least
// one page listens, so a check-in made on any cloud instance — by staff
// or synced from a kiosk — reaches every page without LISTEN/NOTIFY.
type liveFeed struct {
	store    *store.DB
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	subs    map[string]map[chan struct{}]struct{}
	running bool
	// primed is closed once the running poller knows the current highest
	// seq; a subscriber waits for it before rendering, so no change can
	// fall between its first render and the poller's starting point.
	primed chan struct{}
}

func newLiveFeed(db *store.DB, log *slog.Logger, interval time.Duration) *liveFeed {
	return &liveFeed{store: db, log: log, interval: interval, subs: map[string]map[chan struct{}]struct{}{}}
}

// subscribe returns a channel that receives a value (coalesced) whenever
// the tenant's visits change after subscribe returns, and the function
// that ends the subscription. The poller runs only while someone is
// subscribed.
func (f *liveFeed) subscribe(tenant string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	if f.subs[tenant] == nil {
		f.subs[tenant] = map[chan struct{}]struct{}{}
	}
	f.subs[tenant][ch] = struct{}{}
	if !f.running {
		f.running = true
		f.primed = make(chan struct{})
		go f.loop(f.primed)
	}
	primed := f.primed
	f.mu.Unlock()
	<-primed
	return ch, func() {
		f.mu.Lock()
		delete(f.subs[tenant], ch)
		if len(f.subs[tenant]) == 0 {
			delete(f.subs, tenant)
		}
		f.mu.Unlock()
	}
}

// loop polls until nobody listens. It starts from the current highest seq:
// a page renders its rows when it subscribes, so earlier changes are in it.
func (f *liveFeed) loop(primed chan struct{}) {
	known := map[int64]bool{}
	last, err := f.prime(known)
	close(primed)
	if err != nil {
		f.log.Warn("live feed: read latest visit seq", "err", err)
	}
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for range t.C {
		f.mu.Lock()
		if len(f.subs) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		last, err = f.poll(last, known)
		if err != nil {
			f.log.Warn("live feed: poll", "err", err)
		}
	}
}

// prime returns the highest seq now and fills known with the seqs just
// below it, so the first poll wakes nobody for what already happened.
func (f *liveFeed) prime(known map[int64]bool) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	last, err := f.store.LatestVisitSeq(ctx)
	if err != nil {
		return 0, err
	}
	marks, err := f.store.VisitMarksAfter(ctx, max(last-liveLookback, 0), liveBatch)
	for _, m := range marks {
		known[m.Seq] = true
		last = max(last, m.Seq)
	}
	return last, err
}

// poll reads the visit events above last-liveLookback, wakes the tenants
// of those not seen before, and returns the new highest seq.
func (f *liveFeed) poll(last int64, known map[int64]bool) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	from := max(last-liveLookback, 0)
	marks, err := f.store.VisitMarksAfter(ctx, from, liveBatch)
	if err != nil {
		return last, err
	}
	changed := map[string]bool{}
	all := len(marks) == liveBatch
	for _, m := range marks {
		if !known[m.Seq] {
			known[m.Seq] = true
			changed[m.TenantID] = true
		}
		last = max(last, m.Seq)
	}
	for seq := range known {
		if seq <= last-liveLookback {
			delete(known, seq)
		}
	}
	if len(changed) == 0 {
		return last, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for tenant, chans := range f.subs {
		if !all && !changed[tenant] {
			continue
		}
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}
	return last, nil
}
