package syncproto

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"time"
)

// Reconnect policy defaults (SPEC.md §12).
const (
	DefaultBackoffBase = time.Second
	DefaultBackoffCap  = 60 * time.Second
)

// Backoff computes reconnect delays with full-jitter exponential backoff:
// attempt n (from 0) waits a uniformly random time in [0, min(Cap, Base·2ⁿ)].
// The zero value is ready to use (Base 1 s, Cap 60 s, crypto/rand). A
// Backoff is not safe for concurrent use; a reconnect loop owns one.
type Backoff struct {
	Base time.Duration // first ceiling; DefaultBackoffBase when 0
	Cap  time.Duration // largest ceiling; DefaultBackoffCap when 0
	Rand io.Reader     // source of randomness; crypto/rand.Reader when nil

	attempt int
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	base, limit := b.Base, b.Cap
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if limit <= 0 {
		limit = DefaultBackoffCap
	}
	ceil := limit
	if b.attempt < 62 && base<<b.attempt > 0 && base<<b.attempt < limit {
		ceil = base << b.attempt
	}
	b.attempt++
	return time.Duration(b.uniform(uint64(ceil) + 1))
}

// Attempt returns the number of delays handed out since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// Reset starts over from Base; call it after a successful handshake.
func (b *Backoff) Reset() { b.attempt = 0 }

// NextFor returns the delay before reconnecting after err ended a
// connection, and whether to reconnect at all: false for a *Error that is
// not retryable and for a bye with reason revoked or unpaired. The delay is
// at least the error's RetryAfter.
func (b *Backoff) NextFor(err error) (time.Duration, bool) {
	var pe *Error
	var bye *ByeError
	switch {
	case errors.As(err, &pe) && !pe.Retryable:
		return 0, false
	case errors.As(err, &bye) && (bye.Reason == ByeRevoked || bye.Reason == ByeUnpaired):
		return 0, false
	}
	d := b.Next()
	if pe != nil && pe.RetryAfter > d {
		d = pe.RetryAfter
	}
	return d, true
}

// uniform returns a number in [0, n) from b.Rand. The modulo bias is below
// 2⁻²⁷ for n ≤ 60 s in nanoseconds, which is irrelevant for jitter. If the
// reader fails, the ceiling itself is used (a safe, if unjittered, delay).
func (b *Backoff) uniform(n uint64) uint64 {
	r := b.Rand
	if r == nil {
		r = rand.Reader
	}
	var buf [8]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return n - 1
	}
	return binary.BigEndian.Uint64(buf[:]) % n
}
