package syncproto

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// constReader returns a reader that yields byte v forever.
func constReader(v byte) io.Reader { return &repeatReader{b: v} }

type repeatReader struct{ b byte }

func (r *repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	return len(p), nil
}

func TestBackoffBounds(t *testing.T) {
	// A seeded PRNG stands in for crypto/rand: every delay must lie in
	// [0, min(60 s, 1 s·2ⁿ)], and the spread must reach the upper half.
	b := &Backoff{Rand: rand.NewChaCha8([32]byte{7})}
	for round := 0; round < 50; round++ {
		b.Reset()
		for n := 0; n < 12; n++ {
			ceil := min(time.Second<<n, 60*time.Second)
			d := b.Next()
			if d < 0 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", n, d, ceil)
			}
		}
	}
	// Large attempt numbers neither overflow nor exceed the cap.
	for range 200 {
		if d := b.Next(); d < 0 || d > 60*time.Second {
			t.Fatalf("delay %v after %d attempts", d, b.Attempt())
		}
	}
}

func TestBackoffCeilingsAndReset(t *testing.T) {
	// Zero randomness gives zero delay: full jitter may wait nothing.
	b := &Backoff{Rand: constReader(0)}
	for range 5 {
		if d := b.Next(); d != 0 {
			t.Fatalf("zero randomness gave %v", d)
		}
	}
	// With a reader stuck in error the ceiling itself is used: this exposes
	// the exponential sequence and the cap.
	b = &Backoff{Rand: bytes.NewReader(nil)}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i, w := range want {
		if d := b.Next(); d != w*time.Second {
			t.Errorf("attempt %d: ceiling %v, want %v", i, d, w*time.Second)
		}
	}
	b.Reset()
	if d := b.Next(); d != time.Second || b.Attempt() != 1 {
		t.Errorf("after Reset: %v, attempt %d", d, b.Attempt())
	}
	b = &Backoff{Base: 100 * time.Millisecond, Cap: 250 * time.Millisecond, Rand: bytes.NewReader(nil)}
	for i, w := range []time.Duration{100, 200, 250, 250} {
		if d := b.Next(); d != w*time.Millisecond {
			t.Errorf("custom attempt %d: %v, want %v", i, d, w*time.Millisecond)
		}
	}
}

func TestBackoffNextFor(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		retry bool
		min   time.Duration
	}{
		{"transport error", errors.New("connection reset"), true, 0},
		{"retryable code", NewError(CodeInternal, "x"), true, 0},
		{"overloaded honours retry_after", &Error{Code: CodeOverloaded, Retryable: true, RetryAfter: 90 * time.Second}, true, 90 * time.Second},
		{"revoked", NewError(CodeRevoked, "x"), false, 0},
		{"unsupported version", NewError(CodeUnsupportedVersion, "x"), false, 0},
		{"bye shutdown", &ByeError{Reason: ByeShutdown}, true, 0},
		{"bye revoked", &ByeError{Reason: ByeRevoked}, false, 0},
		{"bye unpaired", &ByeError{Reason: ByeUnpaired}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Backoff{Rand: constReader(0)}
			d, retry := b.NextFor(tt.err)
			if retry != tt.retry || d < tt.min {
				t.Errorf("NextFor = %v, %v; want retry %v, at least %v", d, retry, tt.retry, tt.min)
			}
		})
	}
}
