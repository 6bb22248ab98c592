// Package syncserver is the cloud end of the kiosk sync protocol
// (syncproto, SPEC.md): an http.Handler that upgrades GET /api/sync to a
// WebSocket, authenticates the kiosk by its pairing key, applies pushed op
// batches through store.ApplyOps (acking only after commit), and streams
// the down feed (snapshot when needed, then live changes).
//
// Live delivery: whoever commits a change a kiosk follows (hosts,
// pre-registrations, badges, locations, settings) calls Notify with the
// tenant, and the tenant's connected kiosks get it within a second. A
// poll of the change table every PollInterval is the fallback, so a
// missed Notify only delays delivery. Revoke and Unpair act on a live
// connection at once; a status poll catches changes made elsewhere.
//
// Per connection the server runs one goroutine (the HTTP handler, which
// receives frames and applies pushes) besides the syncproto.Conn's reader
// and writer; down-feed reads run on a small shared worker pool.
package syncserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

// Defaults of Options.
const (
	DefaultPollInterval   = 3 * time.Second
	DefaultStatusInterval = 5 * time.Second
	DefaultTouchInterval  = time.Minute
	DefaultDrainQuiet     = 2 * time.Second
	DefaultSendQueue      = 16
	DefaultWorkers        = 4
	// maxFeedBytes bounds the data of one changes frame, well under the
	// frame limit.
	maxFeedBytes = 1 << 20
	// feedTimeout bounds one feed run (reads and queueing of its frames).
	feedTimeout = time.Minute
)

// Options configures a Server. The zero value works.
type Options struct {
	// Logger receives connection events (ids only, never visitor data).
	Logger *slog.Logger
	// Now is the clock for handshakes and anchors. Default time.Now.
	Now func() time.Time
	// Rand is the source of challenge nonces. Default crypto/rand.Reader.
	Rand io.Reader
	// HeartbeatInterval is announced in the welcome; idle timeout is 3×.
	// Default syncproto.DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// WriteTimeout bounds each write. Default syncproto.DefaultWriteTimeout.
	WriteTimeout time.Duration
	// PollInterval is how often the change table is polled for changes
	// nobody notified. Default DefaultPollInterval.
	PollInterval time.Duration
	// StatusInterval is how often connected devices' statuses are re-read,
	// so a revoke made on another instance still ends the connection.
	// Default DefaultStatusInterval.
	StatusInterval time.Duration
	// TouchInterval is how often connected devices' last_seen_at is
	// refreshed. Default DefaultTouchInterval.
	TouchInterval time.Duration
	// DrainQuiet is how long an unpaired device may stay silent after its
	// last ack (its outbox is then taken as empty) before it is sent bye
	// "unpaired". Default DefaultDrainQuiet.
	DrainQuiet time.Duration
	// SendQueue is each connection's send queue, in frames.
	// Default DefaultSendQueue.
	SendQueue int
	// MaxFrame is the largest frame read or written.
	// Default syncproto.DefaultMaxFrame.
	MaxFrame int
	// Workers is the number of down-feed workers. Default DefaultWorkers.
	Workers int
	// Peers, when set, is told after a kiosk's push applied ops (after the
	// commit), so that the tenant's kiosks connected to other cloud
	// instances get the changes too (fanout.Notifier). This instance's
	// kiosks are notified either way.
	Peers Peers
}

// Peers tells other cloud instances of committed changes.
type Peers interface {
	// TenantChanged says the tenant's down feed has new changes.
	TenantChanged(tenantID string)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = syncproto.DefaultHeartbeatInterval
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = syncproto.DefaultWriteTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.TouchInterval <= 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	if o.DrainQuiet <= 0 {
		o.DrainQuiet = DefaultDrainQuiet
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = syncproto.DefaultMaxFrame
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	return o
}

// Server serves kiosk sync connections. Create it with New; it must be
// stopped with Shutdown. All methods are safe for concurrent use.
type Server struct {
	db       *store.DB
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu       sync.Mutex
	byDevice map[string]*session
	byTenant map[string]map[*session]struct{}
	closing  bool
	sessions sync.WaitGroup

	// queue holds sessions whose down feed should run; a session is in it
	// at most once (session.queued), so it is bounded by the connections.
	qmu    sync.Mutex
	qcond  *sync.Cond
	queue  []*session
	qstop  bool
	stop   chan struct{}
	bg     sync.WaitGroup
	closed sync.Once
}

// New returns a Server over db and starts its background workers (feed
// workers and the change, status and last-seen polls).
func New(db *store.DB, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		db:       db,
		opts:     opts,
		log:      opts.Logger.With("component", "syncserver"),
		byDevice: map[string]*session{},
		byTenant: map[string]map[*session]struct{}{},
		stop:     make(chan struct{}),
	}
	s.qcond = sync.NewCond(&s.qmu)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		// Buffers return to the pool between writes: an idle kiosk holds none.
		WriteBufferPool: &sync.Pool{},
		// Kiosks are not browsers and send no Origin; a browser page must
		// not open a kiosk connection, whatever it could prove.
		CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
	}
	for range opts.Workers {
		s.bg.Add(1)
		go s.feedWorker()
	}
	s.bg.Add(1)
	go s.poll()
	return s
}

// ServeHTTP upgrades the request to a WebSocket, completes the handshake
// and starts the kiosk's session, which runs until the connection ends
// (Shutdown waits for it). It answers 503 once Shutdown has begun.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.sessions.Add(1)
	s.mu.Unlock()
	defer s.sessions.Done()

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	t := syncproto.NewWebSocketTransport(ws, s.opts.MaxFrame)
	var dev visitor.Device
	hsCtx, cancel := context.WithTimeout(context.Background(), syncproto.DefaultHandshakeTimeout)
	hello, _, err := syncproto.ServerHandshake(hsCtx, t, syncproto.ServerParams{
		HeartbeatInterval: s.opts.HeartbeatInterval, Rand: s.opts.Rand, Now: s.opts.Now,
	}, func(ctx context.Context, h *syncproto.Hello, nonce []byte) (syncproto.WelcomeParams, error) {
		d, err := s.verify(ctx, h, nonce)
		dev = d
		return syncproto.WelcomeParams{TenantID: d.TenantID, LocationID: d.LocationID, LastAppliedSeq: d.LastAppliedSeq}, err
	})
	cancel()
	if err != nil {
		t.Close()
		s.log.Info("sync handshake refused", "code", syncproto.CodeOf(err).String(), "device_id", deviceIDOf(hello))
		return
	}
	// The session runs on the connection's reader goroutine (the handler)
	// and ends in OnDone, and this handler returns, so net/http lets go of
	// the request, its buffers and the handler's deep stack: an idle kiosk
	// costs one goroutine, not the three a receive loop would need.
	ss := &session{srv: s, dev: dev, bootID: hello.BootID, cursor: hello.Cursor, ready: make(chan struct{})}
	s.sessions.Add(1)
	ss.conn = syncproto.NewConn(t, syncproto.Options{
		HeartbeatInterval: s.opts.HeartbeatInterval,
		WriteTimeout:      s.opts.WriteTimeout,
		SendQueue:         s.opts.SendQueue,
		MaxFrame:          s.opts.MaxFrame,
		Now:               s.opts.Now,
		Logger:            s.log,
		Handler:           ss.handle,
		OnDone: func(cause error) {
			defer s.sessions.Done()
			<-ss.ready
			if ss.registered {
				s.unregister(ss)
				s.log.Info("kiosk disconnected", "device_id", dev.ID, "cause", cause)
			}
		},
	})
	ss.registered = s.register(ss)
	close(ss.ready)
	if !ss.registered {
		ss.closeWith(&syncproto.Bye{Reason: syncproto.ByeShutdown})
		return
	}
	s.log.Info("kiosk connected", "device_id", dev.ID, "tenant_id", dev.TenantID, "last_applied_seq", dev.LastAppliedSeq)
	if err := s.db.TouchDevices(context.Background(), []string{dev.ID}); err != nil {
		s.log.Warn("record device seen", "device_id", dev.ID, "err", err)
	}
	if dev.Status == visitor.DeviceUnpaired {
		ss.startDrain()
	}
	s.schedule(ss)
}

func deviceIDOf(h *syncproto.Hello) string {
	if h == nil {
		return ""
	}
	return h.DeviceID
}

// verify authenticates a hello: the device must exist and the proof must
// be its key's signature over this connection's nonce. Only then is its
// status told: a revoked device is refused, an unpaired one may drain.
func (s *Server) verify(ctx context.Context, h *syncproto.Hello, nonce []byte) (visitor.Device, error) {
	refused := syncproto.NewError(syncproto.CodeUnauthorized, "unknown device or bad proof")
	d, err := s.db.DeviceByID(ctx, h.DeviceID)
	if err != nil {
		if visitor.ErrorCode(err) == visitor.ENOTFOUND {
			return visitor.Device{}, refused
		}
		return visitor.Device{}, err
	}
	if len(d.PublicKey) != ed25519.PublicKeySize || !pairing.VerifyChallenge(ed25519.PublicKey(d.PublicKey), h.DeviceID, nonce, h.Proof) {
		return visitor.Device{}, refused
	}
	if d.Status == visitor.DeviceRevoked {
		return visitor.Device{}, syncproto.NewError(syncproto.CodeRevoked, "device revoked")
	}
	return d, nil
}

// register adds a live session, replacing an older connection of the same
// device. It returns false once Shutdown has begun.
func (s *Server) register(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if old := s.byDevice[ss.dev.ID]; old != nil {
		go old.closeWith(syncproto.NewError(syncproto.CodeReplaced, "a newer connection of this device replaced this one").Frame())
		s.removeLocked(old)
	}
	s.byDevice[ss.dev.ID] = ss
	set := s.byTenant[ss.dev.TenantID]
	if set == nil {
		set = map[*session]struct{}{}
		s.byTenant[ss.dev.TenantID] = set
	}
	set[ss] = struct{}{}
	return true
}

func (s *Server) unregister(ss *session) {
	ss.stopDrain()
	s.mu.Lock()
	s.removeLocked(ss)
	s.mu.Unlock()
	if err := s.db.TouchDevices(context.Background(), []string{ss.dev.ID}); err != nil {
		s.log.Warn("record device seen", "device_id", ss.dev.ID, "err", err)
	}
}

func (s *Server) removeLocked(ss *session) {
	if s.byDevice[ss.dev.ID] == ss {
		delete(s.byDevice, ss.dev.ID)
	}
	if set := s.byTenant[ss.dev.TenantID]; set != nil {
		delete(set, ss)
		if len(set) == 0 {
			delete(s.byTenant, ss.dev.TenantID)
		}
	}
}

// Notify tells the server that changes of the tenant were committed: the
// tenant's connected kiosks read and receive them at once. Call it after
// the commit. It never blocks on the network.
func (s *Server) Notify(tenantID string) {
	s.mu.Lock()
	list := make([]*session, 0, len(s.byTenant[tenantID]))
	for ss := range s.byTenant[tenantID] {
		list = append(list, ss)
	}
	s.mu.Unlock()
	for _, ss := range list {
		s.schedule(ss)
	}
}

// Revoke ends the device's live connection, if any, with bye "revoked".
// Call it after the device's status is revoked in the store, so that the
// kiosk's reconnects are refused. It returns at once.
func (s *Server) Revoke(deviceID string) {
	if ss := s.session(deviceID); ss != nil {
		go ss.closeWith(&syncproto.Bye{Reason: syncproto.ByeRevoked})
	}
}

// Unpair lets the device's live connection drain its outbox and then ends
// it with bye "unpaired". Call it after the device's status is unpaired in
// the store. It returns at once.
func (s *Server) Unpair(deviceID string) {
	if ss := s.session(deviceID); ss != nil {
		ss.startDrain()
	}
}

// Online reports whether the device has a live connection to this instance.
func (s *Server) Online(deviceID string) bool { return s.session(deviceID) != nil }

// Connected returns the number of live connections.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byDevice)
}

func (s *Server) session(deviceID string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byDevice[deviceID]
}

func (s *Server) snapshotSessions() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.byDevice))
	for _, ss := range s.byDevice {
		out = append(out, ss)
	}
	return out
}

// Shutdown refuses new connections, sends every live connection bye
// "shutdown" (kiosks reconnect with backoff, to another instance), stops
// the background workers and waits for the connections to end or ctx to
// expire, after which they are closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	for _, ss := range s.snapshotSessions() {
		go ss.closeWith(&syncproto.Bye{Reason: syncproto.ByeShutdown})
	}
	s.closed.Do(func() {
		close(s.stop)
		s.qmu.Lock()
		s.qstop = true
		s.qmu.Unlock()
		s.qcond.Broadcast()
	})
	done := make(chan struct{})
	go func() {
		s.sessions.Wait()
		s.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, ss := range s.snapshotSessions() {
			ss.conn.Close()
		}
		<-done
		return ctx.Err()
	}
}

// schedule queues a feed run for ss unless one is already queued.
func (s *Server) schedule(ss *session) {
	if !ss.queued.CompareAndSwap(false, true) {
		return
	}
	s.qmu.Lock()
	if s.qstop {
		s.qmu.Unlock()
		return
	}
	s.queue = append(s.queue, ss)
	s.qmu.Unlock()
	s.qcond.Signal()
}

func (s *Server) feedWorker() {
	defer s.bg.Done()
	for {
		s.qmu.Lock()
		for len(s.queue) == 0 && !s.qstop {
			s.qcond.Wait()
		}
		if s.qstop {
			s.qmu.Unlock()
			return
		}
		ss := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.qmu.Unlock()
		ss.queued.Store(false)
		ss.runFeed()
	}
}

// poll is the fallback for missed notifications, the status check for
// revokes made elsewhere, and the last-seen refresh.
func (s *Server) poll() {
	defer s.bg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	_, top, err := s.db.TenantsChangedAfter(ctx, math.MaxInt64)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("poll changes", "err", err)
	}
	changes := time.NewTicker(s.opts.PollInterval)
	defer changes.Stop()
	statuses := time.NewTicker(s.opts.StatusInterval)
	defer statuses.Stop()
	touch := time.NewTicker(s.opts.TouchInterval)
	defer touch.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-changes.C:
			tenants, next, err := s.db.TenantsChangedAfter(ctx, top)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("poll changes", "err", err)
				}
				continue
			}
			top = next
			for _, t := range tenants {
				s.Notify(t)
			}
		case <-statuses.C:
			s.checkStatuses(ctx)
		case <-touch.C:
			ids := s.connectedIDs()
			if err := s.db.TouchDevices(ctx, ids); err != nil && ctx.Err() == nil {
				s.log.Warn("record devices seen", "err", err)
			}
		}
	}
}

func (s *Server) connectedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.byDevice))
	for id := range s.byDevice {
		ids = append(ids, id)
	}
	return ids
}

// checkStatuses ends connections of devices revoked (or deleted) and
// drains those unpaired since they connected.
func (s *Server) checkStatuses(ctx context.Context) {
	ids := s.connectedIDs()
	if len(ids) == 0 {
		return
	}
	st, err := s.db.DeviceStatuses(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("poll device statuses", "err", err)
		}
		return
	}
	for _, id := range ids {
		switch status, ok := st[id]; {
		case !ok, status == visitor.DeviceRevoked:
			s.Revoke(id)
		case status == visitor.DeviceUnpaired:
			s.Unpair(id)
		}
	}
}
