package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor/cloud/store"
)

// liveLookback is how far below the highest visit event seq seen the
// watcher looks again: on PostgreSQL a transaction that took a lower seq
// may commit after one that took a higher seq.
const liveLookback = 64

// liveBatch bounds one poll; a burst larger than this wakes everyone.
const liveBatch = 2000

// Live stream timing: a keep-alive comment keeps proxies from closing an
// idle stream; a stream ends after liveStreamLife so the browser
// reconnects and the session is checked again.
const (
	liveHeartbeat  = 15 * time.Second
	liveStreamLife = 5 * time.Minute
)

// wantsEventStream reports whether the request asks for Server-Sent Events
// (a browser's EventSource sends Accept: text/event-stream).
func wantsEventStream(e *echo.Context) bool {
	return strings.Contains(e.Request().Header.Get("Accept"), "text/event-stream")
}

// liveStream answers a Server-Sent Events stream of one HTML fragment of a
// page — the visitor log's rows, the on-site list — as event "rows", which
// console.js swaps into the page. render writes the fragment as of now.
// The fragment is sent at once when a visit of the tenant changed after
// ?since= (the mark the page was rendered at; absent sends at once), and
// again each time the tenant's visits change. A client that does not
// accept text/event-stream gets 406.
func (c *console) liveStream(e *echo.Context, tenant string, render func(ctx context.Context, buf *bytes.Buffer) error) error {
	if !wantsEventStream(e) {
		return echo.NewHTTPError(http.StatusNotAcceptable, "This is an event stream (text/event-stream).")
	}
	ctx := e.Request().Context()
	wake, stop := c.live.subscribe(tenant)
	defer stop()
	w := e.Response()
	// Flush through Echo's response to the server's writer: Echo's own
	// Flush panics where flushing is unsupported, this returns an error.
	raw := http.ResponseWriter(w)
	if r, err := echo.UnwrapResponse(w); err == nil {
		raw = r.ResponseWriter
	}
	rc := http.NewResponseController(raw)
	_ = rc.SetWriteDeadline(time.Time{}) // a long-lived stream; not every server supports it
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Add("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	send := func() error {
		var buf bytes.Buffer
		if err := render(ctx, &buf); err != nil {
			return err
		}
		var ev bytes.Buffer
		ev.WriteString("event: rows\n")
		for line := range strings.SplitSeq(buf.String(), "\n") {
			ev.WriteString("data: ")
			ev.WriteString(strings.TrimRight(line, "\r"))
			ev.WriteByte('\n')
		}
		ev.WriteByte('\n')
		if _, err := w.Write(ev.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	}
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil {
		return nil
	}
	// The page already shows the fragment as of ?since=; resend it at once
	// only if a visit changed after that (a reconnect, or a change between
	// the page and the stream), so rows are not swapped under a finger
	// about to tap them.
	since, _ := strconv.ParseInt(e.QueryParam("since"), 10, 64)
	latest, err := c.s.store.LatestVisitSeq(ctx)
	if err != nil || since <= 0 || latest > since {
		err = send()
	} else {
		err = rc.Flush()
	}
	if err != nil {
		// The client went away, the store failed, or something between us
		// and the client cannot stream: the answer ends with the fragment,
		// and the browser asks again a second later (retry: 1000), so the
		// page stays live by reconnecting.
		return nil
	}
	heartbeat := time.NewTicker(liveHeartbeat)
	defer heartbeat.Stop()
	end := time.NewTimer(liveStreamLife)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-end.C:
			return nil
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			if rc.Flush() != nil {
				return nil
			}
		case <-wake:
			if err := send(); err != nil {
				if ctx.Err() == nil {
					c.s.log.Warn("live page stream", "err", err)
				}
				return nil
			}
		}
	}
}

// liveFeed tells open live pages (visitor log, on-site list) of a tenant that its visits
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
