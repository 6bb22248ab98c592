package syncproto

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Protocol versions this package speaks. Version 1 is described in SPEC.md.
const (
	MinVersion = 1
	MaxVersion = 1
)

// DefaultHandshakeTimeout bounds a handshake whose context has no deadline.
const DefaultHandshakeTimeout = 10 * time.Second

// SupportedVersions returns the versions this package speaks, lowest first.
func SupportedVersions() []int {
	vs := make([]int, 0, MaxVersion-MinVersion+1)
	for v := MinVersion; v <= MaxVersion; v++ {
		vs = append(vs, v)
	}
	return vs
}

// NegotiateVersion returns the highest version in both lists, and false if
// they have none in common. It is pure; the order of the lists is irrelevant.
func NegotiateVersion(client, server []int) (int, bool) {
	best := 0
	for _, v := range client {
		if v > best && slices.Contains(server, v) {
			best = v
		}
	}
	return best, best > 0
}

// MonoClock returns a function giving the milliseconds elapsed since start
// on Go's monotonic clock, which wall-clock changes do not affect. An edge
// calls it once at process start: MonoClock(time.Now()).
func MonoClock(start time.Time) func() int64 {
	return func() int64 { return time.Since(start).Milliseconds() }
}

// HelloParams is what a client states about itself in the handshake.
type HelloParams struct {
	DeviceID     string
	BootID       string       // random per edge process run
	Mono         func() int64 // ms since the edge process started; required
	LastAckedSeq int64
	Cursor       string // "" if the client has no down-feed state
	AppVersion   string
	Versions     []int            // default SupportedVersions()
	Now          func() time.Time // default time.Now
}

// ClientHandshake runs the client side of the handshake over t (SPEC.md §5):
// it reads the challenge, answers with a hello whose proof is
// sign(nonce), and reads the welcome. It returns
// the welcome and the clock sample it yields (Offset = server − client).
// sign receives the challenge nonce and returns the device's proof over it
// and the device id; with the pairing package that is
// pairing.SignChallenge(priv, deviceID, nonce), which binds both under its
// own signature domain.
// A refusal is returned as the server's *Error (check Retryable). On any
// error the caller closes t; on success it builds a Conn with NewConn,
// using welcome.Heartbeat().
func ClientHandshake(ctx context.Context, t Transport, p HelloParams, sign func(nonce []byte) ([]byte, error)) (*Welcome, ClockSample, error) {
	if p.Mono == nil {
		return nil, ClockSample{}, errors.New("client handshake: HelloParams.Mono is required")
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	versions := p.Versions
	if versions == nil {
		versions = SupportedVersions()
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()

	f, err := readFrame(ctx, t)
	if err != nil {
		return nil, ClockSample{}, fmt.Errorf("client handshake: %w", err)
	}
	ch, ok := f.(*Challenge)
	if !ok {
		return nil, ClockSample{}, fmt.Errorf("client handshake: %w", NewError(CodeProtocolViolation, "want challenge, got %s", f.FrameType()))
	}
	proof, err := sign(ch.Nonce)
	if err != nil {
		return nil, ClockSample{}, fmt.Errorf("client handshake: sign: %w", err)
	}
	t0 := now().UnixMilli()
	hello := &Hello{
		Versions:     versions,
		DeviceID:     p.DeviceID,
		Proof:        proof,
		ClientTimeMs: t0,
		BootID:       p.BootID,
		MonoMs:       p.Mono(),
		LastAckedSeq: p.LastAckedSeq,
		Cursor:       p.Cursor,
		AppVersion:   p.AppVersion,
	}
	if err := writeFrame(ctx, t, hello); err != nil {
		return nil, ClockSample{}, fmt.Errorf("client handshake: %w", err)
	}
	f, err = readFrame(ctx, t)
	if err != nil {
		return nil, ClockSample{}, fmt.Errorf("client handshake: %w", err)
	}
	t3 := now().UnixMilli()
	w, ok := f.(*Welcome)
	if !ok {
		return nil, ClockSample{}, fmt.Errorf("client handshake: %w", NewError(CodeProtocolViolation, "want welcome, got %s", f.FrameType()))
	}
	if !slices.Contains(versions, w.Version) {
		return nil, ClockSample{}, fmt.Errorf("client handshake: %w", NewError(CodeUnsupportedVersion, "server chose version %d, not offered", w.Version))
	}
	return w, EstimateOffset(t0, w.ReceivedMs, w.ServerTimeMs, t3), nil
}

// Heartbeat returns the heartbeat interval the server asked for, or
// DefaultHeartbeatInterval if it sent none.
func (w *Welcome) Heartbeat() time.Duration {
	if w.HeartbeatMs <= 0 {
		return DefaultHeartbeatInterval
	}
	return time.Duration(w.HeartbeatMs) * time.Millisecond
}

// ServerParams configures the server side of the handshake.
type ServerParams struct {
	Versions          []int            // default SupportedVersions()
	HeartbeatInterval time.Duration    // announced in the welcome; default DefaultHeartbeatInterval
	Rand              io.Reader        // nonce source; default crypto/rand.Reader
	Now               func() time.Time // default time.Now
}

// WelcomeParams is what the server's verify function learns about an
// authenticated device.
type WelcomeParams struct {
	TenantID       string
	LocationID     string
	LastAppliedSeq int64
}

// VerifyFunc authenticates a hello. nonce is this connection's challenge
// nonce: the function looks up h.DeviceID, checks h.Proof over (device id,
// nonce) with the device's public key (pairing.VerifyChallenge) and checks
// the device's status. To refuse, it returns an *Error (CodeUnauthorized,
// CodeRevoked, CodeNotPaired, CodeOverloaded...), which is sent to the
// client as is; any other error is sent as CodeInternal without its text.
type VerifyFunc func(ctx context.Context, h *Hello, nonce []byte) (WelcomeParams, error)

// ServerHandshake runs the server side of the handshake over t (SPEC.md
// §5): it sends a challenge with a fresh nonce, reads the hello, negotiates
// the version, calls verify, and sends the welcome. On refusal it sends an
// error frame and returns that *Error. On any error the caller closes t; on
// success it builds a Conn with NewConn using the same heartbeat interval.
func ServerHandshake(ctx context.Context, t Transport, p ServerParams, verify VerifyFunc) (*Hello, *Welcome, error) {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	versions := p.Versions
	if versions == nil {
		versions = SupportedVersions()
	}
	hb := p.HeartbeatInterval
	if hb <= 0 {
		hb = DefaultHeartbeatInterval
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()

	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, nil, fmt.Errorf("server handshake: nonce: %w", err)
	}
	ch := &Challenge{Nonce: nonce, ServerTimeMs: now().UnixMilli(), Versions: versions}
	if err := writeFrame(ctx, t, ch); err != nil {
		return nil, nil, fmt.Errorf("server handshake: %w", err)
	}
	f, err := readFrame(ctx, t)
	if err != nil {
		if pe, ok := err.(*Error); ok { // a local decode or size error, not the peer's
			refuse(ctx, t, pe)
		}
		return nil, nil, fmt.Errorf("server handshake: %w", err)
	}
	t1 := now().UnixMilli()
	h, ok := f.(*Hello)
	if !ok {
		return nil, nil, fmt.Errorf("server handshake: %w", refuse(ctx, t, NewError(CodeProtocolViolation, "want hello, got %s", f.FrameType())))
	}
	v, ok := NegotiateVersion(h.Versions, versions)
	if !ok {
		return h, nil, fmt.Errorf("server handshake: %w", refuse(ctx, t, NewError(CodeUnsupportedVersion, "no common version: client %v, server %v", h.Versions, versions)))
	}
	wp, err := verify(ctx, h, nonce)
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			refuse(ctx, t, NewError(CodeInternal, "handshake failed"))
			return h, nil, fmt.Errorf("server handshake: verify: %w", err)
		}
		refuse(ctx, t, pe)
		return h, nil, fmt.Errorf("server handshake: verify: %w", err)
	}
	w := &Welcome{
		Version:        v,
		ClientTimeMs:   h.ClientTimeMs,
		ReceivedMs:     t1,
		DeviceID:       h.DeviceID,
		TenantID:       wp.TenantID,
		LocationID:     wp.LocationID,
		LastAppliedSeq: wp.LastAppliedSeq,
		HeartbeatMs:    hb.Milliseconds(),
	}
	w.ServerTimeMs = now().UnixMilli()
	if err := writeFrame(ctx, t, w); err != nil {
		return h, nil, fmt.Errorf("server handshake: %w", err)
	}
	return h, w, nil
}

// refuse sends e to the peer, best effort, and returns e.
func refuse(ctx context.Context, t Transport, e *Error) *Error {
	if data, err := Encode(e.Frame()); err == nil {
		t.WriteFrame(ctx, data)
	}
	return e
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultHandshakeTimeout)
}

// readFrame reads and decodes one frame; an error frame becomes its *Error
// (wrapped, so that only local errors are a bare *Error),
// a bye its *ByeError, and an expired context an *Error with CodeTimeout.
func readFrame(ctx context.Context, t Transport) (Frame, error) {
	data, err := t.ReadFrame(ctx)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			return nil, fmt.Errorf("%w: %w", NewError(CodeTimeout, "handshake timed out"), err)
		}
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, err
	}
	switch f := f.(type) {
	case *ErrorFrame:
		return nil, fmt.Errorf("peer: %w", f.Err())
	case *Bye:
		return nil, &ByeError{Reason: f.Reason, Message: f.Message}
	}
	return f, nil
}

func writeFrame(ctx context.Context, t Transport, f Frame) error {
	data, err := Encode(f)
	if err != nil {
		return err
	}
	return t.WriteFrame(ctx, data)
}
