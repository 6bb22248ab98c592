// Package fanout makes several cloud instances on one PostgreSQL database
// act as one for live kiosk connections: a change committed on any
// instance (a new host, a revoked display) reaches the kiosks connected
// to every instance within a second.
//
// A Notifier stands in front of the instance's sync server (Local). Its
// Notify, Revoke and Unpair act on this instance's connections at once and
// also publish an Event on the PostgreSQL channel Channel with pg_notify;
// every other instance LISTENs on that channel on a dedicated connection
// and replays the event on its own sync server.
//
// Callers publish after their transaction has committed, so a listener that
// reads the change feed on a notification finds the change. A notification
// is best effort: one lost to a crash between commit and pg_notify, to a
// listener reconnecting or to a full queue only waits for the sync
// server's polls (changes every 3 s, device statuses every 5 s).
//
// On SQLite the cloud is one process by design, and the Notifier only
// forwards to Local.
package fanout

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/theonestack/visitor/cloud/store"
)

// Channel is the PostgreSQL notification channel every instance listens on.
const Channel = "visitor_events"

// Event kinds, the "kind" of a payload.
const (
	KindTenantChanged  = "tenant_changed"  // the tenant's down feed has new changes
	KindDeviceRevoked  = "device_revoked"  // end the device's connection (bye revoked)
	KindDeviceUnpaired = "device_unpaired" // drain the device, then bye unpaired
)

// Bounds of what is published and accepted. PostgreSQL refuses payloads of
// 8000 bytes or more; ours are about a hundred.
const (
	// MaxIDLen is the longest tenant or device id published; an event with
	// a longer one stays local (the polls still carry it elsewhere).
	MaxIDLen = 200
	// MaxPayload is the largest payload a listener decodes.
	MaxPayload = 1024
	// DefaultQueue is how many distinct events may wait to be published.
	DefaultQueue = 4096
	// batchSize bounds the events of one pg_notify statement.
	batchSize = 256
)

// Defaults of Options.
const (
	DefaultBackoffBase  = 100 * time.Millisecond
	DefaultBackoffCap   = 10 * time.Second
	DefaultPingInterval = 30 * time.Second
	DefaultSendTimeout  = 5 * time.Second
)

// applicationName marks the listener's backend in pg_stat_activity.
const applicationName = "visitor-fanout"

// Local is what a notification does on this instance: the sync server
// implements it.
type Local interface {
	// Notify sends the tenant's new changes to its connected kiosks.
	Notify(tenantID string)
	// Revoke ends the device's live connection with bye "revoked".
	Revoke(deviceID string)
	// Unpair lets the device drain its outbox, then ends it with bye "unpaired".
	Unpair(deviceID string)
	// Online reports whether the device has a live connection here.
	Online(deviceID string) bool
}

// Event is one notification between instances, sent as JSON.
type Event struct {
	Kind     string `json:"kind"`
	TenantID string `json:"tenant_id,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
	// Origin is the publishing instance: it skips its own events, which
	// it has already applied.
	Origin string `json:"origin,omitempty"`
}

// Options are optional settings of New; the zero value works.
type Options struct {
	// Logger receives listener and publishing problems (ids only).
	Logger *slog.Logger
	// Rand makes the instance id and the backoff jitter; nil means
	// crypto/rand.Reader.
	Rand io.Reader
	// Queue bounds the distinct events waiting to be published; beyond it
	// events stay local. Default DefaultQueue.
	Queue int
	// BackoffBase and BackoffCap bound the listener's reconnect delay
	// (full jitter, doubling). Defaults DefaultBackoffBase, DefaultBackoffCap.
	BackoffBase, BackoffCap time.Duration
	// PingInterval is how long the listener waits in silence before it
	// checks its connection. Default DefaultPingInterval.
	PingInterval time.Duration
	// SendTimeout bounds one pg_notify statement. Default DefaultSendTimeout.
	SendTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffCap < o.BackoffBase {
		o.BackoffCap = max(DefaultBackoffCap, o.BackoffBase)
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	return o
}

// Stats counts a Notifier's traffic since New.
type Stats struct {
	Published int64 // events handed to pg_notify
	Dropped   int64 // events kept local: queue full, id too long, or send failed
	Received  int64 // events from other instances applied here
	Refused   int64 // payloads not understood (too large, bad JSON, unknown kind)
	Connects  int64 // successful LISTEN connections (1 + reconnects)
}

// Notifier fans this instance's live-connection actions out to the other
// instances, and theirs in. Build it with New, attach the sync server with
// SetLocal, and run Run. Notify, Revoke, Unpair and Online are safe for
// concurrent use and never block on the network.
type Notifier struct {
	db     *store.DB
	url    string
	opts   Options
	log    *slog.Logger
	origin string
	remote bool // PostgreSQL: publish and listen

	local atomic.Pointer[localBox]

	mu      sync.Mutex
	pending map[Event]struct{}
	order   []Event
	wake    chan struct{}

	published, dropped, received, refused, connects atomic.Int64
	listening                                       atomic.Bool
}

type localBox struct{ Local }

// New returns a Notifier over db. databaseURL is the DATABASE_URL db was
// opened with; on PostgreSQL the listener opens its own connection from it
// (a LISTEN holds a connection for good, so it does not come from the
// store's pool).
func New(db *store.DB, databaseURL string, opts Options) (*Notifier, error) {
	opts = opts.withDefaults()
	var id [8]byte
	if _, err := io.ReadFull(opts.Rand, id[:]); err != nil {
		return nil, fmt.Errorf("fanout: instance id: %w", err)
	}
	n := &Notifier{
		db: db, url: databaseURL, opts: opts, log: opts.Logger.With("component", "fanout"),
		origin: hex.EncodeToString(id[:]), remote: db.Dialect() == store.Postgres,
		pending: map[Event]struct{}{}, wake: make(chan struct{}, 1),
	}
	return n, nil
}

// SetLocal attaches this instance's sync server. Events before it is set
// are only published.
func (n *Notifier) SetLocal(l Local) {
	if l == nil {
		n.local.Store(nil)
		return
	}
	n.local.Store(&localBox{l})
}

func (n *Notifier) localSrv() Local {
	if b := n.local.Load(); b != nil {
		return b.Local
	}
	return nil
}

// Notify tells every instance's kiosks of the tenant that its changes
// were committed. Call it after the commit.
func (n *Notifier) Notify(tenantID string) {
	if l := n.localSrv(); l != nil {
		l.Notify(tenantID)
	}
	n.Publish(Event{Kind: KindTenantChanged, TenantID: tenantID})
}

// Revoke ends the device's live connection on whichever instance holds
// it. Call it after the device is revoked in the store.
func (n *Notifier) Revoke(deviceID string) {
	if l := n.localSrv(); l != nil {
		l.Revoke(deviceID)
	}
	n.Publish(Event{Kind: KindDeviceRevoked, DeviceID: deviceID})
}

// Unpair lets the device's live connection, on whichever instance holds
// it, drain and end. Call it after the device is unpaired in the store.
func (n *Notifier) Unpair(deviceID string) {
	if l := n.localSrv(); l != nil {
		l.Unpair(deviceID)
	}
	n.Publish(Event{Kind: KindDeviceUnpaired, DeviceID: deviceID})
}

// Online reports whether the device has a live connection to this
// instance (other instances' connections are not known here).
func (n *Notifier) Online(deviceID string) bool {
	if l := n.localSrv(); l != nil {
		return l.Online(deviceID)
	}
	return false
}

// TenantChanged publishes a tenant change to the other instances only; the
// sync server calls it after applying a kiosk's push, having notified its
// own connections itself.
func (n *Notifier) TenantChanged(tenantID string) {
	n.Publish(Event{Kind: KindTenantChanged, TenantID: tenantID})
}

// Publish queues ev for the other instances (nothing on SQLite). Equal
// events waiting together are sent once. It never blocks: an event that
// does not fit in the queue, or whose ids are too long, stays local.
func (n *Notifier) Publish(ev Event) {
	if !n.remote {
		return
	}
	ev.Origin = ""
	if len(ev.TenantID) > MaxIDLen || len(ev.DeviceID) > MaxIDLen || !knownKind(ev.Kind) {
		n.dropped.Add(1)
		return
	}
	n.mu.Lock()
	if _, dup := n.pending[ev]; !dup {
		if len(n.pending) >= n.opts.Queue {
			n.mu.Unlock()
			n.dropped.Add(1)
			return
		}
		n.pending[ev] = struct{}{}
		n.order = append(n.order, ev)
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (n *Notifier) Stats() Stats {
	return Stats{
		Published: n.published.Load(), Dropped: n.dropped.Load(), Received: n.received.Load(),
		Refused: n.refused.Load(), Connects: n.connects.Load(),
	}
}

// Listening reports whether the listener holds a live LISTEN connection
// (always false on SQLite).
func (n *Notifier) Listening() bool { return n.listening.Load() }

// Run publishes queued events and listens for other instances' events
// until ctx ends, reconnecting the listener with backoff. On SQLite it
// only waits for ctx. Run must be called once.
func (n *Notifier) Run(ctx context.Context) {
	if !n.remote {
		<-ctx.Done()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { n.sendLoop(ctx) })
	wg.Go(func() { n.listenLoop(ctx) })
	wg.Wait()
}

func knownKind(k string) bool {
	switch k {
	case KindTenantChanged, KindDeviceRevoked, KindDeviceUnpaired:
		return true
	}
	return false
}

// take removes up to batchSize queued events, oldest first.
func (n *Notifier) take() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := min(len(n.order), batchSize)
	out := make([]Event, k)
	copy(out, n.order)
	for _, ev := range out {
		delete(n.pending, ev)
	}
	n.order = append(n.order[:0], n.order[k:]...)
	return out
}

func (n *Notifier) sendLoop(ctx context.Context) {
	for {
		for batch := n.take(); len(batch) > 0; batch = n.take() {
			if err := n.send(ctx, batch); err != nil {
				n.dropped.Add(int64(len(batch)))
				if ctx.Err() != nil {
					return
				}
				n.log.Warn("publish to other instances", "events", len(batch), "err", err)
			} else {
				n.published.Add(int64(len(batch)))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		}
	}
}

// send publishes a batch in one statement.
func (n *Notifier) send(ctx context.Context, batch []Event) error {
	payloads := make([]string, len(batch))
	for i, ev := range batch {
		ev.Origin = n.origin
		b, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		payloads[i] = string(b)
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.SendTimeout)
	defer cancel()
	if _, err := n.db.SQL().ExecContext(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, Channel, payloads); err != nil {
		return fmt.Errorf("pg_notify: %w", err)
	}
	return nil
}

func (n *Notifier) listenLoop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		err := n.listen(ctx, func() { failures = 0 })
		if ctx.Err() != nil {
			return
		}
		failures++
		d := n.backoff(failures)
		n.log.Warn("listener connection lost; reconnecting", "err", err, "in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is a full-jitter delay for the nth consecutive failure.
func (n *Notifier) backoff(failures int) time.Duration {
	ceil := n.opts.BackoffBase
	for i := 1; i < failures && ceil < n.opts.BackoffCap; i++ {
		ceil *= 2
	}
	ceil = min(ceil, n.opts.BackoffCap)
	var b [8]byte
	if _, err := io.ReadFull(n.opts.Rand, b[:]); err != nil {
		return ceil
	}
	return time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(ceil+1))
}

// listen holds one LISTEN connection until it fails or ctx ends; connected
// is called once the LISTEN is in place.
func (n *Notifier) listen(ctx context.Context, connected func()) error {
	cfg, err := pgx.ParseConfig(n.url)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg.RuntimeParams["application_name"] = applicationName
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		n.listening.Store(false)
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	n.connects.Add(1)
	n.listening.Store(true)
	connected()
	for {
		wctx, cancel := context.WithTimeout(ctx, n.opts.PingInterval)
		note, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			n.deliver(note.Payload)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Silence: make sure the connection still answers.
			pctx, cancel := context.WithTimeout(ctx, n.opts.SendTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
		}
		return fmt.Errorf("wait for notification: %w", err)
	}
}

// deliver applies another instance's event to this instance.
func (n *Notifier) deliver(payload string) {
	if len(payload) > MaxPayload {
		n.refused.Add(1)
		return
	}
	var ev Event
	if err := json.Unmarshal([]byte(payload), &ev); err != nil || !knownKind(ev.Kind) ||
		len(ev.TenantID) > MaxIDLen || len(ev.DeviceID) > MaxIDLen {
		n.refused.Add(1)
		return
	}
	if ev.Origin == n.origin {
		return // applied here when it was published
	}
	l := n.localSrv()
	if l == nil {
		return
	}
	n.received.Add(1)
	switch ev.Kind {
	case KindTenantChanged:
		if ev.TenantID != "" {
			l.Notify(ev.TenantID)
		}
	case KindDeviceRevoked:
		if ev.DeviceID != "" {
			l.Revoke(ev.DeviceID)
		}
	case KindDeviceUnpaired:
		if ev.DeviceID != "" {
			l.Unpair(ev.DeviceID)
		}
	}
}
