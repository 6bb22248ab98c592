package syncproto

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHandshakeRefusals(t *testing.T) {
	dev := newTestDevice(t)
	other := dev
	other.id = "dev_99"
	tests := []struct {
		name           string
		clientVersions []int
		serverVersions []int
		client         testDevice
		verify         VerifyFunc
		code           Code
		retryable      bool
	}{
		{"no common version", []int{2, 3}, []int{1}, dev, dev.verifier(0), CodeUnsupportedVersion, false},
		{"unknown device", nil, nil, other, dev.verifier(0), CodeUnauthorized, false},
		{"revoked", nil, nil, dev, func(context.Context, *Hello, []byte) (WelcomeParams, error) {
			return WelcomeParams{}, NewError(CodeRevoked, "revoked by an admin")
		}, CodeRevoked, false},
		{"overloaded", nil, nil, dev, func(context.Context, *Hello, []byte) (WelcomeParams, error) {
			return WelcomeParams{}, &Error{Code: CodeOverloaded, Retryable: true, RetryAfter: 3 * time.Second}
		}, CodeOverloaded, true},
		{"verify fails internally", nil, nil, dev, func(context.Context, *Hello, []byte) (WelcomeParams, error) {
			return WelcomeParams{}, errors.New("database password is hunter2")
		}, CodeInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ct, st := pipePair(t, nil)
			var serr error
			var wg sync.WaitGroup
			wg.Go(func() {
				_, _, serr = ServerHandshake(ctx, st, ServerParams{Versions: tt.serverVersions}, tt.verify)
				st.Close()
			})
			_, _, cerr := ClientHandshake(ctx, ct, HelloParams{
				DeviceID: tt.client.id, BootID: "b", Mono: func() int64 { return 1 }, Versions: tt.clientVersions,
			}, tt.client.sign)
			wg.Wait()
			var pe *Error
			if !errors.As(cerr, &pe) || pe.Code != tt.code || pe.Retryable != tt.retryable {
				t.Fatalf("client got %v, want code %s retryable %v", cerr, tt.code, tt.retryable)
			}
			if strings.Contains(cerr.Error(), "hunter2") {
				t.Errorf("internal detail leaked to the client: %v", cerr)
			}
			if tt.code == CodeOverloaded && pe.RetryAfter != 3*time.Second {
				t.Errorf("retry after %v", pe.RetryAfter)
			}
			if serr == nil || (tt.code != CodeInternal && CodeOf(serr) != tt.code) {
				t.Errorf("server got %v", serr)
			}
		})
	}
}

func TestServerHandshakeRefusesGarbage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ct, st := pipePair(t, nil)
	var serr error
	var wg sync.WaitGroup
	wg.Go(func() { _, _, serr = ServerHandshake(ctx, st, ServerParams{}, newTestDevice(t).verifier(0)) })
	if _, err := ct.ReadFrame(ctx); err != nil { // the challenge
		t.Fatal(err)
	}
	if err := ct.WriteFrame(ctx, []byte(`{"type":"hello","versions":`)); err != nil {
		t.Fatal(err)
	}
	data, err := ct.ReadFrame(ctx)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if ef, ok := f.(*ErrorFrame); !ok || ef.Code != CodeBadFrame || ef.Name != "bad_frame" {
		t.Errorf("server answered %#v", f)
	}
	if CodeOf(serr) != CodeBadFrame {
		t.Errorf("server returned %v", serr)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	ct, _ := pipePair(t, nil) // the server never speaks
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := ClientHandshake(ctx, ct, HelloParams{DeviceID: "d", BootID: "b", Mono: func() int64 { return 0 }},
		func([]byte) ([]byte, error) { return []byte("x"), nil })
	if CodeOf(err) != CodeTimeout || !Retryable(CodeOf(err)) {
		t.Errorf("got %v, want a retryable timeout", err)
	}
}

// connPair returns two Conns over a pipe with the given options.
func connPair(t *testing.T, a, b Options) (*Conn, *Conn) {
	t.Helper()
	ct, st := pipePair(t, nil)
	ca, cb := NewConn(ct, a), NewConn(st, b)
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return ca, cb
}

func waitDone(t *testing.T, c *Conn, within time.Duration) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(within):
		t.Fatalf("conn still open after %v", within)
		return nil
	}
}

func TestConnIdleTimeout(t *testing.T) {
	ct, st := pipePair(t, nil)
	// The peer reads everything (so our writes succeed) but never answers.
	go func() {
		for {
			if _, err := st.ReadFrame(context.Background()); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	c := NewConn(ct, Options{HeartbeatInterval: 20 * time.Millisecond})
	defer c.Close()
	err := waitDone(t, c, 2*time.Second)
	if CodeOf(err) != CodeTimeout {
		t.Errorf("Err = %v, want timeout", err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("closed after %v, before 3 heartbeats", d)
	}
	if _, err := c.Recv(context.Background()); CodeOf(err) != CodeTimeout {
		t.Errorf("Recv after close: %v", err)
	}
	if err := c.Send(context.Background(), &ChangesAck{Cursor: "c"}); err == nil {
		t.Error("Send on a closed conn succeeded")
	}
}

func TestConnHeartbeatsKeepAlive(t *testing.T) {
	opts := Options{HeartbeatInterval: 10 * time.Millisecond}
	a, b := connPair(t, opts, opts)
	// Nothing but heartbeats for 10 idle timeouts: both stay open, and both
	// measure the (zero) offset.
	recvBoth := func(c *Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if f, err := c.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Recv = %v, %v; want only heartbeats", f, err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { recvBoth(a) })
	wg.Go(func() { recvBoth(b) })
	wg.Wait()
	for _, c := range []*Conn{a, b} {
		if c.Err() != nil {
			t.Errorf("conn closed: %v", c.Err())
		}
		s, ok := c.ClockSample()
		if !ok || s.Offset < -50*time.Millisecond || s.Offset > 50*time.Millisecond {
			t.Errorf("clock sample %+v, %v", s, ok)
		}
	}
}

func TestConnConcurrentSend(t *testing.T) {
	a, b := connPair(t, Options{SendQueue: 4}, Options{})
	const senders, each = 16, 50
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := a.Send(ctx, &ChangesAck{Cursor: fmt.Sprintf("%d/%d", g, i)}); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	last := map[int]int{}
	for range senders * each {
		f, err := b.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		if _, err := fmt.Sscanf(f.(*ChangesAck).Cursor, "%d/%d", &g, &i); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[g]; (ok && i != prev+1) || (!ok && i != 0) {
			t.Fatalf("sender %d: frame %d after %d", g, i, prev)
		}
		last[g] = i
	}
	wg.Wait()
	if len(last) != senders {
		t.Errorf("heard from %d senders", len(last))
	}
}

func TestConnCloseIsIdempotentAndConcurrent(t *testing.T) {
	a, b := connPair(t, Options{}, Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { a.Close() })
		wg.Go(func() { a.Send(context.Background(), &ChangesAck{Cursor: "c"}) })
	}
	wg.Wait()
	if !errors.Is(waitDone(t, a, time.Second), ErrClosed) {
		t.Errorf("Err = %v", a.Err())
	}
	// The peer, receiving what got through, then sees the transport go away.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, err = b.Recv(ctx)
	}
	// A Close during a write may cut a frame: the peer sees an unexpected
	// EOF then, never a partial frame.
	eof := func(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }
	if !eof(err) || !eof(b.Err()) {
		t.Errorf("peer Recv = %v, Err = %v; want EOF", err, b.Err())
	}
}

func TestConnCloseWithError(t *testing.T) {
	a, b := connPair(t, Options{}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e := &Error{Code: CodeOverloaded, Retryable: true, RetryAfter: 2 * time.Second, Message: "shedding load"}
	if err := a.Send(ctx, &ChangesAck{Cursor: "before"}); err != nil {
		t.Fatal(err)
	}
	go a.CloseWith(ctx, e.Frame())
	f, err := b.Recv(ctx)
	if err != nil || f.(*ChangesAck).Cursor != "before" {
		t.Fatalf("frame queued before the error was not delivered first: %v %v", f, err)
	}
	_, err = b.Recv(ctx)
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeOverloaded || pe.RetryAfter != 2*time.Second || pe.Message != "shedding load" {
		t.Fatalf("Recv = %v", err)
	}
	if d, retry := (&Backoff{Rand: constReader(0)}).NextFor(err); !retry || d < 2*time.Second {
		t.Errorf("NextFor = %v %v", d, retry)
	}
	if CodeOf(waitDone(t, a, time.Second)) != CodeOverloaded {
		t.Errorf("sender Err = %v", a.Err())
	}
}

func TestConnSendTooLargeKeepsConnOpen(t *testing.T) {
	a, b := connPair(t, Options{MaxFrame: 1000}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	big := &Changes{Cursor: "c", Items: []Change{{Entity: EntityHost, ID: "h", Op: ChangeUpsert, Data: json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)}}}
	if err := a.Send(ctx, big); CodeOf(err) != CodeTooLarge {
		t.Fatalf("Send = %v, want too_large", err)
	}
	if err := a.Send(ctx, &ChangesAck{Cursor: "small"}); err != nil {
		t.Fatal(err)
	}
	if f, err := b.Recv(ctx); err != nil || f.(*ChangesAck).Cursor != "small" {
		t.Fatalf("Recv = %v, %v", f, err)
	}
}

func TestConnStalledPeerCloses(t *testing.T) {
	ct, _ := pipePair(t, nil) // nobody ever reads the other end
	c := NewConn(ct, Options{SendQueue: 1, WriteTimeout: 50 * time.Millisecond, HeartbeatInterval: time.Hour})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = c.Send(ctx, &ChangesAck{Cursor: "c"})
	}
	if err == nil {
		t.Fatal("Send kept succeeding into a stalled connection")
	}
	if waitDone(t, c, 2*time.Second) == nil {
		t.Error("no cause recorded")
	}
}

// rawPeer gives a Conn on one end of a pipe and the raw other end.
func rawPeer(t *testing.T, opts Options) (*Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	c := NewConn(NewStreamTransport(a, opts.MaxFrame), opts)
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, b
}

func TestConnRefusesOversizedAndTruncatedFrames(t *testing.T) {
	good, _ := Encode(&ChangesAck{Cursor: "ok"})
	tests := []struct {
		name  string
		write func(w io.Writer)
		code  Code
	}{
		{"oversized header", func(w io.Writer) {
			binary.Write(w, binary.BigEndian, uint32(5<<20))
			w.Write(bytes.Repeat([]byte{'{'}, 64))
		}, CodeTooLarge},
		{"malformed json", func(w io.Writer) {
			binary.Write(w, binary.BigEndian, uint32(5))
			w.Write([]byte(`{"typ`))
		}, CodeBadFrame},
		{"unknown type", func(w io.Writer) {
			msg := []byte(`{"type":"warp"}`)
			binary.Write(w, binary.BigEndian, uint32(len(msg)))
			w.Write(msg)
		}, CodeUnknownFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, raw := rawPeer(t, Options{MaxFrame: 4 << 20})
			go func() {
				binary.Write(raw, binary.BigEndian, uint32(len(good)))
				raw.Write(good)
				tt.write(raw)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if f, err := c.Recv(ctx); err != nil || f.(*ChangesAck).Cursor != "ok" {
				t.Fatalf("first frame: %v %v", f, err)
			}
			// The Conn answers with an error frame, then closes; Recv gives
			// no part of the bad frame.
			st := NewStreamTransport(raw, 0)
			data, err := st.ReadFrame(ctx)
			if err != nil {
				t.Fatalf("no error frame: %v", err)
			}
			if f, err := Decode(data); err != nil || f.(*ErrorFrame).Code != tt.code {
				t.Errorf("peer got %s (%v)", data, err)
			}
			if f, err := c.Recv(ctx); CodeOf(err) != tt.code {
				t.Errorf("Recv = %v, %v; want %s", f, err, tt.code)
			}
		})
	}
}

func TestStreamTransportRefusals(t *testing.T) {
	ctx := context.Background()
	frame := func(hdr uint32, body string) []byte {
		b := binary.BigEndian.AppendUint32(nil, hdr)
		return append(b, body...)
	}
	tests := []struct {
		name  string
		in    []byte
		check func(error) bool
	}{
		{"oversized", frame(1001, strings.Repeat("x", 1001)), func(err error) bool { return CodeOf(err) == CodeTooLarge }},
		{"truncated body", frame(100, strings.Repeat("x", 50)), func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"truncated header", []byte{0, 0}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"empty frame", frame(0, ""), func(err error) bool { return CodeOf(err) == CodeBadFrame }},
		{"clean end", nil, func(err error) bool { return errors.Is(err, io.EOF) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewStreamTransport(nopCloser{bytes.NewBuffer(tt.in)}, 1000)
			data, err := st.ReadFrame(ctx)
			if data != nil || !tt.check(err) {
				t.Errorf("ReadFrame = %q, %v", data, err)
			}
		})
	}
	st := NewStreamTransport(nopCloser{new(bytes.Buffer)}, 10)
	if err := st.WriteFrame(ctx, []byte(`{"type":"ping"}`)); CodeOf(err) != CodeTooLarge {
		t.Errorf("WriteFrame over the limit: %v", err)
	}
}

func TestStreamTransportHonoursContextWithoutDeadlines(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	st := NewStreamTransport(struct {
		io.Reader
		io.Writer
		io.Closer
	}{r, io.Discard, r}, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := st.ReadFrame(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadFrame = %v, want deadline exceeded", err)
	}
}

func TestWebSocketTransportRefusesOversized(t *testing.T) {
	ct, st := wsPair(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The client may write up to its own limit; use a raw message.
	big := []byte(`{"type":"changes_ack","cursor":"` + strings.Repeat("x", 1500) + `"}`)
	go ct.(*WebSocketTransport).ws.WriteMessage(1, big)
	data, err := st.ReadFrame(ctx)
	if data != nil || CodeOf(err) != CodeTooLarge {
		t.Errorf("ReadFrame = %d bytes, %v", len(data), err)
	}
	if err := ct.WriteFrame(ctx, big); CodeOf(err) != CodeTooLarge {
		t.Errorf("WriteFrame over the limit: %v", err)
	}
}

// TestIdleConnMemory checks the 10,000-idle-kiosks budget: each idle Conn
// (its reader goroutine, its queue and a stream transport) stays well below
// 40 KiB.
func TestIdleConnMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few MB")
	}
	const pairs = 250
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]*Conn, 0, 2*pairs)
	for range pairs {
		a, b := net.Pipe()
		opts := Options{HeartbeatInterval: time.Hour}
		conns = append(conns, NewConn(NewStreamTransport(a, 0), opts), NewConn(NewStreamTransport(b, 0), opts))
	}
	time.Sleep(50 * time.Millisecond) // let every goroutine block
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
	per := used / uint64(len(conns))
	t.Logf("%d bytes per idle conn", per)
	if per > 40<<10 {
		t.Errorf("%d bytes per idle conn, budget 40 KiB", per)
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestConnHandler: with a Handler, frames arrive in order on the reader's
// goroutine, the handler can answer with Send, Recv only reports the end,
// and OnDone runs once, after the Conn ended and after the handler call in
// progress returned.
func TestConnHandler(t *testing.T) {
	got := make(chan string, 100)
	release := make(chan struct{})
	doneErr := make(chan error, 2)
	var handlerRunning atomic.Bool
	var server *Conn
	ready := make(chan struct{})
	ct, st := pipePair(t, nil)
	client := NewConn(ct, Options{})
	t.Cleanup(func() { client.Close() })
	server = NewConn(st, Options{
		Handler: func(f Frame, at time.Time) {
			<-ready
			handlerRunning.Store(true)
			defer handlerRunning.Store(false)
			cur := f.(*ChangesAck).Cursor
			if at.IsZero() {
				t.Error("frame without arrival time")
			}
			if cur == "block" {
				<-release
				return
			}
			got <- cur
			if err := server.Send(context.Background(), &ChangesAck{Cursor: "echo " + cur}); err != nil {
				t.Errorf("send from handler: %v", err)
			}
		},
		OnDone: func(err error) {
			if handlerRunning.Load() {
				t.Error("OnDone while the handler runs")
			}
			doneErr <- err
		},
	})
	close(ready)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 20 {
		if err := client.Send(ctx, &ChangesAck{Cursor: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if c := <-got; c != fmt.Sprint(i) {
			t.Fatalf("handler got %q, want %d", c, i)
		}
		f, err := client.Recv(ctx)
		if err != nil || f.(*ChangesAck).Cursor != fmt.Sprintf("echo %d", i) {
			t.Fatalf("echo %d = %v, %v", i, f, err)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if f, err := server.Recv(rctx); f != nil || err == nil {
		t.Errorf("Recv with a handler = %v, %v", f, err)
	}
	rcancel()

	// The handler blocks; the Conn ends meanwhile; OnDone waits for it.
	if err := client.Send(ctx, &ChangesAck{Cursor: "block"}); err != nil {
		t.Fatal(err)
	}
	for !handlerRunning.Load() {
		time.Sleep(time.Millisecond)
	}
	server.Close()
	select {
	case err := <-doneErr:
		t.Fatalf("OnDone(%v) before the handler returned", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-doneErr:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("OnDone(%v), want ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("OnDone never called")
	}
	select {
	case err := <-doneErr:
		t.Errorf("OnDone called twice (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestIdleConnGoroutines: an idle Conn with a Handler holds only its
// reader goroutine; the writer exists only while something is written,
// heartbeats included.
func TestIdleConnGoroutines(t *testing.T) {
	const pairs = 50
	opts := Options{HeartbeatInterval: 20 * time.Millisecond, Handler: func(Frame, time.Time) {}}
	before := runtime.NumGoroutine()
	var conns []*Conn
	for range pairs {
		a, b := net.Pipe()
		conns = append(conns, NewConn(NewStreamTransport(a, 0), opts), NewConn(NewStreamTransport(b, 0), opts))
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Several heartbeats go by: every Conn keeps answering, and between
	// beats the writers are gone.
	time.Sleep(200 * time.Millisecond)
	minimum := 1 << 30
	for range 20 {
		minimum = min(minimum, runtime.NumGoroutine()-before)
		time.Sleep(3 * time.Millisecond)
	}
	if minimum > len(conns)+len(conns)/10 {
		t.Errorf("%d goroutines for %d idle conns, want about one each", minimum, len(conns))
	}
	for _, c := range conns {
		if err := c.Err(); err != nil {
			t.Fatalf("idle conn closed: %v", err)
		}
		if _, ok := c.ClockSample(); !ok {
			t.Fatal("no heartbeat round trip completed")
		}
	}
}
