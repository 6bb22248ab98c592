package syncproto

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Transport moves whole frames. ReadFrame and WriteFrame may run at the same
// time as each other, but each must be called by one goroutine at a time.
// Close may be called from any goroutine, any number of times, and unblocks
// pending reads and writes. Any error from ReadFrame or WriteFrame leaves the
// transport broken: the caller must Close it.
type Transport interface {
	// ReadFrame returns the next whole frame, never a part of one. It
	// honours ctx's deadline and cancellation; a frame larger than the
	// transport's limit is an *Error with CodeTooLarge.
	ReadFrame(ctx context.Context) ([]byte, error)
	// WriteFrame writes one whole frame, honouring ctx's deadline and
	// cancellation.
	WriteFrame(ctx context.Context, frame []byte) error
	// Close releases the transport.
	Close() error
}

// deadlineReader is a Transport that can also read with a plain deadline,
// unblocked early only by Close. A Conn's reader, which closes the
// transport to stop, uses it to save a context and a timer per frame,
// memory an idle connection would otherwise hold while it waits. ok is
// false when this transport cannot: the caller uses ReadFrame.
type deadlineReader interface {
	ReadFrameBy(deadline time.Time) (data []byte, ok bool, err error)
}

// deadliner is implemented by net.Conn and friends.
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// past is a deadline that has already expired, used to interrupt I/O.
var past = time.Unix(1, 0)

// StreamTransport frames a byte stream: each frame is a 4-byte big-endian
// length followed by that many bytes of JSON. Deadlines are applied through
// SetReadDeadline/SetWriteDeadline when the stream has them (net.Conn);
// otherwise a cancelled or expired context closes the stream to unblock I/O.
// It holds no buffers between frames.
type StreamTransport struct {
	rw       io.ReadWriteCloser
	dl       deadliner // nil when rw has no deadlines
	maxFrame int
	rhdr     [4]byte // used by the single reader only
	whdr     [4]byte // used by the single writer only
	once     sync.Once
	closeErr error
}

// NewStreamTransport returns a Transport over rw refusing frames larger
// than maxFrame bytes (DefaultMaxFrame when ≤ 0).
func NewStreamTransport(rw io.ReadWriteCloser, maxFrame int) *StreamTransport {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	t := &StreamTransport{rw: rw, maxFrame: maxFrame}
	if d, ok := rw.(deadliner); ok {
		t.dl = d
	}
	return t
}

// watch applies ctx to one I/O operation: it sets the deadline through set
// (nil when the stream has none) and arranges for cancellation to interrupt
// the operation, by an expired deadline or, without deadlines, by calling
// interrupt (which closes the stream or expires a lower-level deadline). The returned function must be called when the operation ends;
// it waits for an interrupt already under way so that a late one cannot hit
// the next operation.
func watch(ctx context.Context, set func(time.Time) error, interrupt func() error) func() {
	if set != nil {
		d, _ := ctx.Deadline() // the zero time clears an earlier deadline
		set(d)
	}
	if ctx.Done() == nil {
		return func() {}
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		if set != nil {
			set(past)
		} else {
			interrupt()
		}
	})
	return func() {
		if !stop() {
			<-fired
		}
	}
}

// ioErr wraps err with op, preferring the context's error when ctx ended
// the operation.
func ioErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ReadFrame implements Transport. A stream that ends inside a frame yields
// an error wrapping io.ErrUnexpectedEOF and no frame; a clean end between
// frames yields io.EOF.
func (t *StreamTransport) ReadFrame(ctx context.Context) ([]byte, error) {
	var set func(time.Time) error
	if t.dl != nil {
		set = t.dl.SetReadDeadline
	}
	defer watch(ctx, set, t.Close)()
	return t.readFrame(ctx)
}

// ReadFrameBy implements deadlineReader; ok is false when the stream has
// no deadlines.
func (t *StreamTransport) ReadFrameBy(deadline time.Time) (data []byte, ok bool, err error) {
	if t.dl == nil {
		return nil, false, nil
	}
	t.dl.SetReadDeadline(deadline)
	data, err = t.readFrame(context.Background())
	return data, true, err
}

func (t *StreamTransport) readFrame(ctx context.Context) ([]byte, error) {
	if _, err := io.ReadFull(t.rw, t.rhdr[:]); err != nil {
		return nil, ioErr(ctx, "read frame header", err)
	}
	n := binary.BigEndian.Uint32(t.rhdr[:])
	if uint64(n) > uint64(t.maxFrame) {
		return nil, NewError(CodeTooLarge, "frame of %d bytes exceeds limit of %d", n, t.maxFrame)
	}
	if n == 0 {
		return nil, NewError(CodeBadFrame, "empty frame")
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(t.rw, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, ioErr(ctx, "read frame body", err)
	}
	return buf, nil
}

// WriteFrame implements Transport.
func (t *StreamTransport) WriteFrame(ctx context.Context, frame []byte) error {
	if len(frame) > t.maxFrame {
		return NewError(CodeTooLarge, "frame of %d bytes exceeds limit of %d", len(frame), t.maxFrame)
	}
	if len(frame) == 0 {
		return NewError(CodeBadFrame, "empty frame")
	}
	var set func(time.Time) error
	if t.dl != nil {
		set = t.dl.SetWriteDeadline
	}
	defer watch(ctx, set, t.Close)()
	binary.BigEndian.PutUint32(t.whdr[:], uint32(len(frame)))
	bufs := net.Buffers{t.whdr[:], frame} // one writev on a net.Conn
	if _, err := bufs.WriteTo(t.rw); err != nil {
		return ioErr(ctx, "write frame", err)
	}
	return nil
}

// Close implements Transport; it closes the underlying stream once.
func (t *StreamTransport) Close() error {
	t.once.Do(func() { t.closeErr = t.rw.Close() })
	return t.closeErr
}

// WebSocketTransport carries one frame per WebSocket message (text frames
// when writing; text or binary accepted when reading). It relies on the
// gorilla rule of one concurrent reader and one concurrent writer, which the
// Transport contract already imposes.
type WebSocketTransport struct {
	ws       *websocket.Conn
	maxFrame int
	once     sync.Once
	closeErr error
}

// NewWebSocketTransport returns a Transport over ws. It sets ws's read
// limit to maxFrame (DefaultMaxFrame when ≤ 0), so a bigger message is
// refused without being buffered.
func NewWebSocketTransport(ws *websocket.Conn, maxFrame int) *WebSocketTransport {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	ws.SetReadLimit(int64(maxFrame))
	return &WebSocketTransport{ws: ws, maxFrame: maxFrame}
}

// ReadFrame implements Transport.
func (t *WebSocketTransport) ReadFrame(ctx context.Context) ([]byte, error) {
	defer watch(ctx, t.ws.SetReadDeadline, nil)()
	return t.readFrame(ctx)
}

// ReadFrameBy implements deadlineReader.
func (t *WebSocketTransport) ReadFrameBy(deadline time.Time) ([]byte, bool, error) {
	t.ws.SetReadDeadline(deadline)
	data, err := t.readFrame(context.Background())
	return data, true, err
}

func (t *WebSocketTransport) readFrame(ctx context.Context) ([]byte, error) {
	_, data, err := t.ws.ReadMessage()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return nil, NewError(CodeTooLarge, "message exceeds limit of %d bytes", t.maxFrame)
		}
		return nil, ioErr(ctx, "read message", err)
	}
	if len(data) == 0 {
		return nil, NewError(CodeBadFrame, "empty frame")
	}
	return data, nil
}

// WriteFrame implements Transport. The write deadline is ctx's deadline.
func (t *WebSocketTransport) WriteFrame(ctx context.Context, frame []byte) error {
	if len(frame) > t.maxFrame {
		return NewError(CodeTooLarge, "frame of %d bytes exceeds limit of %d", len(frame), t.maxFrame)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	// gorilla applies its stored write deadline at the start of each write;
	// cancellation interrupts a write in progress through the net.Conn.
	d, _ := ctx.Deadline()
	t.ws.SetWriteDeadline(d)
	defer watch(ctx, nil, func() error { return t.ws.NetConn().SetWriteDeadline(past) })()
	if err := t.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		return ioErr(ctx, "write message", err)
	}
	return nil
}

// Close implements Transport: it sends a close message (best effort, 1 s)
// and closes the connection, once.
func (t *WebSocketTransport) Close() error {
	t.once.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		t.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		t.closeErr = t.ws.Close()
	})
	return t.closeErr
}
