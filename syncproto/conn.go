package syncproto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Conn defaults; see Options.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultSendQueue         = 64
	// IdleFactor times the heartbeat interval without any frame from the
	// peer closes a Conn.
	IdleFactor = 3
)

// Options configures a Conn. The zero value works.
type Options struct {
	// HeartbeatInterval is how often the Conn sends a ping. A client uses
	// the interval from its Welcome. Default DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// IdleTimeout closes the Conn when no frame at all arrives for that
	// long. Default IdleFactor × HeartbeatInterval.
	IdleTimeout time.Duration
	// WriteTimeout bounds every write, and how long Send may wait for room
	// in a full send queue before the Conn is closed as stalled.
	// Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// SendQueue is the number of frames Send may queue ahead of the writer.
	// Default DefaultSendQueue.
	SendQueue int
	// MaxFrame is the largest encoded frame Send accepts. It should equal
	// the transport's limit. Default DefaultMaxFrame.
	MaxFrame int
	// Now is the wall clock used for ping/pong timestamps (not for
	// deadlines, which use the runtime's timers). Default time.Now.
	Now func() time.Time
	// Logger receives connection lifecycle events at debug level; it never
	// receives frame contents. Default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = IdleFactor * o.HeartbeatInterval
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// outFrame is one queued, already encoded frame. last is set on the final
// frame of CloseWith.
type outFrame struct {
	data []byte
	last *lastFrame
}

type lastFrame struct {
	cause   error      // recorded as the Conn's Err once written
	written chan error // receives the write's result
}

type inFrame struct {
	f  Frame
	at time.Time
}

// Conn is an established protocol connection (after the handshake). It owns
// two goroutines: a reader, which answers pings, consumes pongs and hands
// other frames to Recv, and a single writer, which drains a bounded send
// queue, sends heartbeats and applies a write deadline to every write.
//
// A Conn ends when either side closes it, the peer sends an error or bye
// frame, a write fails or times out, the send queue stays full for
// WriteTimeout, or nothing arrives for IdleTimeout. Done is then closed and
// Err says why. Frames still queued are dropped.
type Conn struct {
	t    Transport
	opts Options

	ctx    context.Context // cancelled when the Conn closes
	cancel context.CancelFunc

	sendq   chan outFrame
	pongq   chan Pong // at most one pending pong, written ahead of the queue
	recvq   chan inFrame
	done    chan struct{}
	wdone   chan struct{} // closed when the writer goroutine has returned
	closing atomic.Bool   // CloseWith or abort started: Send refuses

	// finalCause, once set by CloseWith or abort, is the Conn's Err however
	// the Conn then ends (the peer usually hangs up as soon as it reads the
	// last frame, which the reader sees first).
	finalCause atomic.Pointer[error]

	closeOnce sync.Once
	mu        sync.Mutex
	err       error
	sample    ClockSample
	hasSample bool
}

// NewConn starts a Conn over t, which must have completed the handshake
// (ClientHandshake or ServerHandshake). The Conn owns t from now on and
// closes it when it ends.
func NewConn(t Transport, opts Options) *Conn {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		t:      t,
		opts:   opts,
		ctx:    ctx,
		cancel: cancel,
		sendq:  make(chan outFrame, opts.SendQueue),
		pongq:  make(chan Pong, 1),
		recvq:  make(chan inFrame),
		done:   make(chan struct{}),
		wdone:  make(chan struct{}),
	}
	go c.readLoop()
	go c.writeLoop()
	return c
}

// Send queues f for the writer. It returns once f is queued (not written),
// or with an error if f cannot be encoded (an *Error with CodeTooLarge when
// it exceeds MaxFrame; the Conn stays open), ctx ends, or the Conn is
// closed. If the queue stays full for WriteTimeout the Conn is closed as
// stalled. Safe for concurrent use; frames from one goroutine are written
// in the order sent.
func (c *Conn) Send(ctx context.Context, f Frame) error {
	data, err := c.encode(f)
	if err != nil {
		return err
	}
	return c.enqueue(ctx, outFrame{data: data})
}

func (c *Conn) encode(f Frame) ([]byte, error) {
	data, err := Encode(f)
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	if len(data) > c.opts.MaxFrame {
		return nil, NewError(CodeTooLarge, "%s frame of %d bytes exceeds limit of %d", f.FrameType(), len(data), c.opts.MaxFrame)
	}
	return data, nil
}

func (c *Conn) enqueue(ctx context.Context, m outFrame) error {
	if m.last == nil && c.closing.Load() {
		return fmt.Errorf("send: %w", ErrClosed)
	}
	select {
	case <-c.done:
		return fmt.Errorf("send: %w", c.Err())
	default:
	}
	select {
	case c.sendq <- m:
		return nil
	default:
	}
	timer := time.NewTimer(c.opts.WriteTimeout)
	defer timer.Stop()
	select {
	case c.sendq <- m:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("send: %w", ctx.Err())
	case <-c.done:
		return fmt.Errorf("send: %w", c.Err())
	case <-timer.C:
		c.close(NewError(CodeTimeout, "send queue full for %s", c.opts.WriteTimeout))
		return fmt.Errorf("send: %w", c.Err())
	}
}

// Recv returns the next frame from the peer: any frame except ping, pong,
// error and bye, which the Conn handles itself (an error or bye frame ends
// the Conn and Recv returns its *Error or *ByeError). It returns an error
// when ctx ends or the Conn is closed. Call it from one goroutine, and
// continuously: while nobody receives, the reader stops reading (so pings
// go unanswered and the peer may time out).
func (c *Conn) Recv(ctx context.Context) (Frame, error) {
	f, _, err := c.RecvWithTime(ctx)
	return f, err
}

// RecvWithTime is Recv that also returns when the frame arrived, on the
// Options.Now clock (the cloud uses it to anchor a push's mono_ms).
func (c *Conn) RecvWithTime(ctx context.Context) (Frame, time.Time, error) {
	select {
	case in := <-c.recvq:
		return in.f, in.at, nil
	case <-ctx.Done():
		return nil, time.Time{}, fmt.Errorf("recv: %w", ctx.Err())
	case <-c.done:
		return nil, time.Time{}, fmt.Errorf("recv: %w", c.Err())
	}
}

// CloseWith sends f (normally an *ErrorFrame or *Bye) as the last frame,
// after any frames already queued, then closes the Conn. It waits until f
// is written, ctx ends or the Conn is closed otherwise, and returns the
// write's error, if any. Err reports f's *Error for an error frame and
// ErrClosed otherwise. Safe for concurrent use; Send fails once it started.
func (c *Conn) CloseWith(ctx context.Context, f Frame) error {
	data, err := c.encode(f)
	if err != nil {
		c.close(ErrClosed)
		return err
	}
	var cause error = ErrClosed
	if ef, ok := f.(*ErrorFrame); ok {
		cause = ef.Err()
	}
	if !c.closing.Swap(true) {
		c.finalCause.Store(&cause)
	}
	last := &lastFrame{cause: cause, written: make(chan error, 1)}
	if err := c.enqueue(ctx, outFrame{data: data, last: last}); err != nil {
		c.close(cause)
		return err
	}
	select {
	case err := <-last.written:
		return err
	case <-ctx.Done():
		c.close(cause)
		return fmt.Errorf("close: %w", ctx.Err())
	case <-c.done:
		// The writer reports on last if it took it; wait for it to finish.
		<-c.wdone
		select {
		case err := <-last.written:
			return err
		default:
			return fmt.Errorf("close: %w", c.Err())
		}
	}
}

// Close closes the Conn and its transport at once, dropping queued frames.
// It is idempotent and safe for concurrent use. Err becomes ErrClosed unless
// the Conn had already ended for another reason.
func (c *Conn) Close() error {
	c.close(ErrClosed)
	return nil
}

// Done returns a channel closed when the Conn has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the Conn ended: ErrClosed after Close, the peer's *Error
// or *ByeError, an *Error with CodeTimeout for an idle or stalled Conn, or
// the transport's error. It returns nil while the Conn is open. Safe for
// concurrent use.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// ClockSample returns the latest clock measurement from a ping/pong round
// trip, and false if none completed yet. Offset is the peer's clock minus
// Options.Now. Safe for concurrent use.
func (c *Conn) ClockSample() (ClockSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sample, c.hasSample
}

func (c *Conn) close(cause error) {
	c.closeOnce.Do(func() {
		if fc := c.finalCause.Load(); fc != nil {
			cause = *fc
		}
		c.mu.Lock()
		c.err = cause
		c.mu.Unlock()
		close(c.done)
		c.cancel()
		c.t.Close()
		c.opts.Logger.Debug("sync connection closed", "cause", cause)
	})
}

// abort sends e as an error frame, best effort, then closes the Conn.
func (c *Conn) abort(e *Error) {
	if c.closing.Swap(true) {
		c.close(e)
		return
	}
	var cause error = e
	c.finalCause.Store(&cause)
	data, err := Encode(e.Frame())
	if err != nil {
		c.close(e)
		return
	}
	select {
	case c.sendq <- outFrame{data: data, last: &lastFrame{cause: e, written: make(chan error, 1)}}:
		// Frames queued before it go first; do not wait on them forever.
		time.AfterFunc(c.opts.WriteTimeout, func() { c.close(e) })
	default: // queue full: the peer is not reading anyway
		c.close(e)
	}
}

func (c *Conn) readLoop() {
	for {
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.IdleTimeout)
		data, err := c.t.ReadFrame(ctx)
		// The Conn's own context has no deadline, so any timeout is the idle
		// timeout (the transport's deadline may fire just before ctx's).
		idle := ctx.Err() == context.DeadlineExceeded || isTimeout(err)
		cancel()
		if err != nil {
			var pe *Error
			switch {
			case c.ctx.Err() != nil: // closed locally
			case idle:
				c.abort(NewError(CodeTimeout, "no frame for %s", c.opts.IdleTimeout))
			case errors.As(err, &pe):
				c.abort(pe)
			default:
				c.close(fmt.Errorf("syncproto: read: %w", err))
			}
			return
		}
		at := c.opts.Now()
		f, err := Decode(data)
		if err != nil {
			var pe *Error
			errors.As(err, &pe)
			c.abort(pe)
			return
		}
		switch f := f.(type) {
		case *Ping:
			select {
			case c.pongq <- Pong{PingTimeMs: f.TimeMs, ReceivedMs: at.UnixMilli()}:
			default: // a pong is already pending; the peer will ping again
			}
		case *Pong:
			if f.PingTimeMs > 0 && f.PingTimeMs <= at.UnixMilli() {
				s := EstimateOffset(f.PingTimeMs, f.ReceivedMs, f.TimeMs, at.UnixMilli())
				c.mu.Lock()
				c.sample, c.hasSample = s, true
				c.mu.Unlock()
			}
		case *ErrorFrame:
			c.close(f.Err())
			return
		case *Bye:
			c.close(&ByeError{Reason: f.Reason, Message: f.Message})
			return
		default:
			select {
			case c.recvq <- inFrame{f: f, at: at}:
			case <-c.done:
				return
			}
		}
	}
}

func (c *Conn) writeLoop() {
	defer close(c.wdone)
	ticker := time.NewTicker(c.opts.HeartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-c.done:
			return
		case p := <-c.pongq:
			p.TimeMs = c.opts.Now().UnixMilli()
			if !c.writeFrame(&p) {
				return
			}
		case <-ticker.C:
			if !c.writeFrame(&Ping{TimeMs: c.opts.Now().UnixMilli()}) {
				return
			}
		case m := <-c.sendq:
			err := c.write(m.data)
			if m.last != nil {
				m.last.written <- err
				if err == nil {
					c.close(m.last.cause)
					return
				}
			}
			if err != nil {
				c.close(fmt.Errorf("syncproto: write: %w", err))
				return
			}
		}
	}
}

func (c *Conn) writeFrame(f Frame) bool {
	data, err := Encode(f)
	if err == nil {
		err = c.write(data)
	}
	if err != nil {
		c.close(fmt.Errorf("syncproto: write %s: %w", f.FrameType(), err))
		return false
	}
	return true
}

// write writes one frame under the write deadline.
func (c *Conn) write(data []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.WriteTimeout)
	defer cancel()
	return c.t.WriteFrame(ctx, data)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
