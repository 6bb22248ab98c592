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
	// Handler, when set, receives every frame Recv would return, on the
	// Conn's reader goroutine, in order; while it runs the Conn reads
	// nothing more (as when nobody calls Recv). It saves the caller a
	// goroutine blocked in Recv. It may call Send and CloseWith.
	Handler func(f Frame, at time.Time)
	// OnDone, when set, is called once after the Conn has ended and no
	// Handler call is running, on the reader goroutine, with Err.
	OnDone func(err error)
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
// frame of CloseWith and abort.
type outFrame struct {
	data []byte
	last *lastFrame
}

type lastFrame struct {
	cause   error      // recorded as the Conn's Err once written
	written chan error // receives the write's result, or why it was dropped
}

type inFrame struct {
	f  Frame
	at time.Time
}

// Conn is an established protocol connection (after the handshake). Its
// reader goroutine answers pings, consumes pongs and hands every other frame
// to Recv (or to Options.Handler). Writes go through a bounded send queue; a
// writer goroutine exists only while the queue or a heartbeat has something
// to write, and every write has a deadline. An idle Conn with a Handler
// therefore costs one goroutine, which matters to a cloud holding thousands
// of idle kiosks.
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

	recvq   chan inFrame // unused with a Handler
	done    chan struct{}
	closing atomic.Bool // CloseWith or abort started: Send refuses

	// finalCause, once set by CloseWith or abort, is the Conn's Err however
	// the Conn then ends (the peer usually hangs up as soon as it reads the
	// last frame, which the reader sees first).
	finalCause atomic.Pointer[error]

	// wmu guards the write side below.
	wmu       sync.Mutex
	queue     []outFrame    // frames for the writer, oldest first; nil when empty
	pong      *Pong         // a pong to write ahead of the queue (at most one)
	pingDue   bool          // a heartbeat ping to write ahead of the queue
	writing   bool          // a writer goroutine is running
	stopped   bool          // the Conn ended: no writer starts, nothing queues
	room      chan struct{} // closed when a full queue gets room; nil when nobody waits
	heartbeat *time.Timer

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
		done:   make(chan struct{}),
	}
	if opts.Handler == nil {
		c.recvq = make(chan inFrame)
	}
	c.wmu.Lock()
	c.heartbeat = time.AfterFunc(opts.HeartbeatInterval, c.beat)
	c.wmu.Unlock()
	go c.readLoop()
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
	var timer *time.Timer
	for {
		c.wmu.Lock()
		if c.stopped {
			c.wmu.Unlock()
			return fmt.Errorf("send: %w", c.Err())
		}
		if c.queueLocked(m) {
			c.wmu.Unlock()
			return nil
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.wmu.Unlock()
		if timer == nil {
			timer = time.NewTimer(c.opts.WriteTimeout)
			defer timer.Stop()
		}
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("send: %w", ctx.Err())
		case <-c.done:
			return fmt.Errorf("send: %w", c.Err())
		case <-timer.C:
			c.close(NewError(CodeTimeout, "send queue full for %s", c.opts.WriteTimeout))
			return fmt.Errorf("send: %w", c.Err())
		}
	}
}

// Recv returns the next frame from the peer: any frame except ping, pong,
// error and bye, which the Conn handles itself (an error or bye frame ends
// the Conn and Recv returns its *Error or *ByeError). It returns an error
// when ctx ends or the Conn is closed. Call it from one goroutine, and
// continuously: while nobody receives, the reader stops reading (so pings
// go unanswered and the peer may time out). With Options.Handler set,
// frames go to the handler and Recv only reports the end of the Conn.
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
		// last is reported either by the writer that took it or, if it
		// was still queued, by close.
		return <-last.written
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
		c.wmu.Lock()
		c.stopped = true
		c.heartbeat.Stop()
		for _, m := range c.queue {
			if m.last != nil {
				m.last.written <- fmt.Errorf("close: %w", cause)
			}
		}
		c.queue, c.pong = nil, nil
		c.wmu.Unlock()
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
	c.wmu.Lock()
	queued := c.queueLocked(outFrame{data: data, last: &lastFrame{cause: e, written: make(chan error, 1)}})
	c.wmu.Unlock()
	if !queued { // queue full: the peer is not reading anyway
		c.close(e)
		return
	}
	// Frames queued before it go first; do not wait on them forever.
	time.AfterFunc(c.opts.WriteTimeout, func() { c.close(e) })
}

func (c *Conn) readLoop() {
	if c.opts.OnDone != nil {
		defer func() {
			<-c.done
			c.opts.OnDone(c.Err())
		}()
	}
	for {
		data, idle, err := c.readFrame()
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
			c.wmu.Lock()
			if c.pong == nil && !c.stopped { // else one is pending; the peer will ping again
				c.pong = &Pong{PingTimeMs: f.TimeMs, ReceivedMs: at.UnixMilli()}
				c.startWriterLocked()
			}
			c.wmu.Unlock()
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
			if c.opts.Handler != nil {
				c.opts.Handler(f, at)
				continue
			}
			select {
			case c.recvq <- inFrame{f: f, at: at}:
			case <-c.done:
				return
			}
		}
	}
}

// beat queues a heartbeat ping and schedules the next one.
func (c *Conn) beat() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.stopped {
		return
	}
	c.pingDue = true
	c.startWriterLocked()
	c.heartbeat.Reset(c.opts.HeartbeatInterval)
}

// queueLocked appends m to the send queue and wakes the writer, unless
// the Conn has ended or the queue is full; it reports whether m was
// queued. The caller holds wmu.
func (c *Conn) queueLocked(m outFrame) bool {
	if c.stopped || len(c.queue) >= c.opts.SendQueue {
		return false
	}
	c.queue = append(c.queue, m)
	c.startWriterLocked()
	return true
}

// startWriterLocked starts the writer goroutine unless one is running.
// The caller holds wmu and has just given it something to write.
func (c *Conn) startWriterLocked() {
	if !c.writing && !c.stopped {
		c.writing = true
		go c.writeLoop()
	}
}

// writeLoop writes what is pending (a pong first, then a heartbeat ping,
// then the queue in order) and returns when nothing is left.
// readFrame reads the next frame within the idle timeout and says whether
// an error is that timeout. Closing the Conn closes the transport, which
// ends a read in progress.
func (c *Conn) readFrame() (data []byte, idle bool, err error) {
	if dr, ok := c.t.(deadlineReader); ok {
		data, ok, err := dr.ReadFrameBy(time.Now().Add(c.opts.IdleTimeout))
		if ok {
			return data, isTimeout(err), err
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.IdleTimeout)
	defer cancel()
	data, err = c.t.ReadFrame(ctx)
	// The Conn's own context has no deadline, so any timeout is the idle
	// timeout (the transport's deadline may fire just before ctx's).
	return data, ctx.Err() == context.DeadlineExceeded || isTimeout(err), err
}

func (c *Conn) writeLoop() {
	for {
		c.wmu.Lock()
		if c.stopped {
			c.writing = false
			c.wmu.Unlock()
			return
		}
		var ctrl Frame
		var m outFrame
		switch {
		case c.pong != nil:
			p := *c.pong
			c.pong = nil
			p.TimeMs = c.opts.Now().UnixMilli()
			ctrl = &p
		case c.pingDue:
			c.pingDue = false
			ctrl = &Ping{TimeMs: c.opts.Now().UnixMilli()}
		case len(c.queue) > 0:
			m = c.queue[0]
			c.queue[0] = outFrame{}
			c.queue = c.queue[1:]
			if len(c.queue) == 0 {
				c.queue = nil // an idle Conn keeps no queue array
			}
			if c.room != nil {
				close(c.room)
				c.room = nil
			}
		default:
			c.writing = false
			c.wmu.Unlock()
			return
		}
		c.wmu.Unlock()
		if ctrl != nil {
			if !c.writeFrame(ctrl) {
				return
			}
			continue
		}
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
