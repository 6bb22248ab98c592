package pairing

import (
	"sync"
	"time"
)

// Default limits for user-code attempts: ten unsuccessful attempts in ten
// minutes per key. There are 20^8 ≈ 2.6e10 user codes; with 100 codes live
// at once, one account guessing non-stop for a year (about 525,600
// attempts) finds one with probability about 0.2%, and every failure is
// audited. Attempts need a Hub session with visitor.admin.kiosk besides.
const (
	DefaultMaxAttempts   = 10
	DefaultAttemptWindow = 10 * time.Minute
	// DefaultMaxAttemptKeys bounds the memory of an Attempts.
	DefaultMaxAttemptKeys = 100_000
)

// Attempts limits how often user codes may be tried, per key (the cloud
// uses one key per Hub user and one per source IP, e.g. "user:ID" and
// "ip:ADDR"), over a sliding window. It keeps state in memory for one
// process and is safe for concurrent use.
//
// Every allowed attempt counts against its keys at once, so concurrent
// guesses cannot slip past the limit; Succeeded takes back the count of an
// attempt that found a live code, so an admin pairing many kiosks is not
// held up. A success never clears earlier failures: otherwise an attacker
// could pair a kiosk of their own between guesses to reset the count.
type Attempts struct {
	now     func() time.Time
	max     int
	window  time.Duration
	maxKeys int

	mu        sync.Mutex
	keys      map[string][]time.Time // attempt times within the window, oldest first
	lastSweep time.Time
}

// NewAttempts returns a limiter allowing maxAttempts unsuccessful attempts
// per key in any window, reading time from now. Zero or negative arguments
// take the defaults (DefaultMaxAttempts, DefaultAttemptWindow, time.Now).
func NewAttempts(maxAttempts int, window time.Duration, now func() time.Time) *Attempts {
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if window <= 0 {
		window = DefaultAttemptWindow
	}
	if now == nil {
		now = time.Now
	}
	return &Attempts{now: now, max: maxAttempts, window: window, maxKeys: DefaultMaxAttemptKeys, keys: make(map[string][]time.Time)}
}

// Allow reports whether one more attempt may be made under every key in
// keys and, if so, counts it against each of them. If not, nothing is
// counted and retryAfter is how long until every key has room again. When
// the limiter already tracks its maximum number of keys and a new one
// arrives, the attempt is refused (fail closed) with retryAfter equal to
// the window.
func (a *Attempts) Allow(keys ...string) (ok bool, retryAfter time.Duration) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	newKeys := 0
	for _, k := range keys {
		times := a.prune(k, now)
		if times == nil {
			newKeys++
		}
		if len(times) >= a.max {
			retryAfter = max(retryAfter, times[len(times)-a.max].Add(a.window).Sub(now))
		}
	}
	if retryAfter > 0 {
		return false, retryAfter
	}
	if newKeys > 0 && len(a.keys)+newKeys > a.maxKeys {
		// At most one full sweep a second, so a flood of new keys at the
		// cap costs a map lookup each, not a scan each.
		if now.Sub(a.lastSweep) >= time.Second || now.Before(a.lastSweep) {
			a.lastSweep = now
			a.sweep(now)
		}
		if len(a.keys)+newKeys > a.maxKeys {
			return false, a.window
		}
	}
	for _, k := range keys {
		a.keys[k] = append(a.keys[k], now)
	}
	return true, 0
}

// Succeeded takes back one attempt counted by Allow under each key in keys,
// because it found a live code. It never removes more than was counted.
func (a *Attempts) Succeeded(keys ...string) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		times := a.prune(k, now)
		if len(times) == 0 {
			continue
		}
		if len(times) == 1 {
			delete(a.keys, k)
			continue
		}
		a.keys[k] = times[:len(times)-1]
	}
}

// Remaining returns how many more attempts Allow would accept under key now.
func (a *Attempts) Remaining(key string) int {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	return max(0, a.max-len(a.prune(key, now)))
}

// prune drops key's attempts older than the window and returns the rest
// (nil, with the key forgotten, when none is left). a.mu must be held.
func (a *Attempts) prune(key string, now time.Time) []time.Time {
	times := a.keys[key]
	i := 0
	for i < len(times) && !now.Before(times[i].Add(a.window)) {
		i++
	}
	if i == len(times) {
		delete(a.keys, key)
		return nil
	}
	if i > 0 {
		times = append(times[:0], times[i:]...)
		a.keys[key] = times
	}
	return times
}

// sweep prunes every key. a.mu must be held.
func (a *Attempts) sweep(now time.Time) {
	for k := range a.keys {
		a.prune(k, now)
	}
}
