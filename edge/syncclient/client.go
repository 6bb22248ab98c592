// Package syncclient keeps a paired kiosk in sync with the cloud over one
// WebSocket (protocol syncproto v1): it pushes the outbox in batches,
// records acks (a rejected op is recorded and never blocks the queue),
// applies the down feed together with its cursor in one transaction, and
// reconnects with full-jitter backoff. It reads and writes only through
// the edge store, so a kiosk keeps working when it is offline.
package syncclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/syncproto"
)

// SyncPath is the cloud's sync endpoint, relative to its base URL.
const SyncPath = "/api/sync"

// Options configures a Client. Only CloudURL (or Dial) is required.
type Options struct {
	// CloudURL is the cloud's base URL (http or https); the client dials
	// ws(s)://host/api/sync.
	CloudURL string
	// Dial, when set, replaces the WebSocket dial (tests, other transports).
	Dial func(ctx context.Context) (syncproto.Transport, error)
	// BootID identifies this process run; Mono gives ms since it started.
	// Both are required and must be the ones the engine stamps ops with.
	BootID string
	Mono   func() int64
	// Now is the device wall clock. Default time.Now.
	Now func() time.Time
	// Rand is the backoff jitter source. Default crypto/rand.
	Rand io.Reader
	// BackoffBase and BackoffCap bound reconnect delays (default 1 s and 60 s).
	BackoffBase, BackoffCap time.Duration
	// WriteTimeout bounds every write (default syncproto.DefaultWriteTimeout).
	WriteTimeout time.Duration
	// AppVersion is sent in the hello, for diagnostics.
	AppVersion string
	// Logger receives lifecycle events; never frame contents or PII.
	Logger *slog.Logger
}

// Client is the kiosk's sync loop. Run it once; Notify and Online are safe
// for concurrent use.
type Client struct {
	db     *store.DB
	opts   Options
	log    *slog.Logger
	wake   chan struct{}
	online atomic.Bool
}

// New returns a Client over db. It does nothing until Run.
func New(db *store.DB, opts Options) *Client {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Mono == nil {
		opts.Mono = syncproto.MonoClock(time.Now())
	}
	return &Client{db: db, opts: opts, log: opts.Logger.With("component", "syncclient"), wake: make(chan struct{}, 1)}
}

// Notify tells the client that the outbox grew or the identity changed.
// It never blocks.
func (c *Client) Notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Online reports whether a sync session is established right now.
func (c *Client) Online() bool { return c.online.Load() }

// Run syncs until ctx ends. While the kiosk is unpaired or revoked it
// waits for Notify (a new pairing). It returns ctx's error.
func (c *Client) Run(ctx context.Context) error {
	bo := syncproto.Backoff{Base: c.opts.BackoffBase, Cap: c.opts.BackoffCap, Rand: c.opts.Rand}
	for {
		id, ok, err := c.db.Identity(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Error("read identity", "err", err)
		}
		if err != nil || !ok || !id.Paired() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.wake:
				continue
			}
		}
		welcomed, err := c.session(ctx, id)
		c.online.Store(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if welcomed {
			bo.Reset()
		}
		if stop := c.terminal(ctx, err); stop {
			continue // identity changed; the loop waits for a new pairing
		}
		delay, retry := bo.NextFor(err)
		if !retry {
			// Not retryable but not a revoke either (unknown device, no
			// common version): a person must act; try again rarely.
			delay = syncproto.DefaultBackoffCap
			if c.opts.BackoffCap > 0 {
				delay = c.opts.BackoffCap
			}
		}
		c.log.Info("sync connection ended", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// terminal handles a revoke or unpair; it reports whether it did.
func (c *Client) terminal(ctx context.Context, err error) bool {
	var bye *syncproto.ByeError
	isBye := errors.As(err, &bye)
	switch {
	case isBye && bye.Reason == syncproto.ByeRevoked, syncproto.CodeOf(err) == syncproto.CodeRevoked:
		c.log.Warn("the cloud revoked this kiosk; sync stopped")
		if err := c.db.MarkRevoked(ctx); err != nil {
			c.log.Error("record revocation", "err", err)
		}
		return true
	case isBye && bye.Reason == syncproto.ByeUnpaired, syncproto.CodeOf(err) == syncproto.CodeNotPaired:
		n, err := c.db.Unpair(ctx)
		if err != nil {
			c.log.Error("wipe after unpair", "err", err)
			return true
		}
		if n > 0 {
			c.log.Warn("kiosk unpaired with ops the cloud never received; discarded", "ops", n)
		}
		c.log.Info("kiosk unpaired; local tenant data wiped")
		return true
	}
	return false
}

func (c *Client) dial(ctx context.Context) (syncproto.Transport, error) {
	if c.opts.Dial != nil {
		return c.opts.Dial(ctx)
	}
	u, err := SyncURL(c.opts.CloudURL)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	ws, resp, err := d.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	return syncproto.NewWebSocketTransport(ws, syncproto.DefaultMaxFrame), nil
}

// SyncURL returns the WebSocket URL of the sync endpoint of the cloud at
// base (http → ws, https → wss).
func SyncURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("cloud url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("cloud url: scheme %q is not http or https", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + SyncPath
	return u.String(), nil
}
