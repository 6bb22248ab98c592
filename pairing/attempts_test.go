package pairing_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/theonestack/visitor/pairing"
)

func TestAttempts(t *testing.T) {
	type op struct {
		advance   time.Duration
		do        string // "allow" or "succeeded"
		keys      []string
		wantOK    bool
		wantRetry time.Duration
	}
	user, ip, ip2 := "user:u1", "ip:192.0.2.1", "ip:192.0.2.2"
	allow := func(ok bool, retry time.Duration, keys ...string) op {
		return op{do: "allow", keys: keys, wantOK: ok, wantRetry: retry}
	}
	later := func(d time.Duration, o op) op { o.advance = d; return o }

	tests := []struct {
		name string
		max  int
		ops  []op
	}{
		{
			name: "limit per key, then retry-after until the oldest expires",
			max:  3,
			ops: []op{
				allow(true, 0, user, ip),
				later(time.Minute, allow(true, 0, user, ip)),
				later(time.Minute, allow(true, 0, user, ip)),
				later(time.Minute, allow(false, 7*time.Minute, user, ip)), // oldest at 0, window 10 min, now 3 min
				later(7*time.Minute-time.Second, allow(false, time.Second, user, ip)),
				later(time.Second, allow(true, 0, user, ip)), // the first attempt left the window
				allow(false, time.Minute, user, ip),          // next oldest at 1 min
			},
		},
		{
			name: "any exhausted key refuses, and a refusal counts against none",
			max:  2,
			ops: []op{
				allow(true, 0, user, ip),
				allow(true, 0, user, ip),
				allow(false, 10*time.Minute, user, ip2), // user is spent, so ip2 is not charged
				allow(true, 0, ip2),
				allow(true, 0, ip2),
				allow(false, 10*time.Minute, ip2),
			},
		},
		{
			name: "success takes back its own attempt only",
			max:  2,
			ops: []op{
				allow(true, 0, user), // a failure
				allow(true, 0, user), // a success...
				{do: "succeeded", keys: []string{user}},
				allow(true, 0, user), // ...so there is room for one more
				allow(false, 10*time.Minute, user),
				{do: "succeeded", keys: []string{user}},
				{do: "succeeded", keys: []string{user}},
				{do: "succeeded", keys: []string{user}}, // more than counted: no effect
				allow(true, 0, user),
			},
		},
		{
			name: "keys are independent",
			max:  1,
			ops: []op{
				allow(true, 0, "ip:a"),
				allow(false, 10*time.Minute, "ip:a"),
				allow(true, 0, "ip:b"),
				allow(true, 0), // no keys: nothing to limit
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			a := pairing.NewAttempts(tt.max, 10*time.Minute, clock.Now)
			for i, o := range tt.ops {
				clock.Advance(o.advance)
				if o.do == "succeeded" {
					a.Succeeded(o.keys...)
					continue
				}
				ok, retry := a.Allow(o.keys...)
				if ok != o.wantOK || retry != o.wantRetry {
					t.Fatalf("op %d Allow(%v) = %v, %v; want %v, %v", i, o.keys, ok, retry, o.wantOK, o.wantRetry)
				}
			}
		})
	}
}

func TestAttemptsDefaultsAndRemaining(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a := pairing.NewAttempts(0, 0, clock.Now)
	if got := a.Remaining("k"); got != pairing.DefaultMaxAttempts {
		t.Fatalf("Remaining = %d, want %d", got, pairing.DefaultMaxAttempts)
	}
	for range pairing.DefaultMaxAttempts {
		if ok, _ := a.Allow("k"); !ok {
			t.Fatal("refused within the default limit")
		}
	}
	if ok, retry := a.Allow("k"); ok || retry != pairing.DefaultAttemptWindow {
		t.Fatalf("Allow past the limit = %v, %v", ok, retry)
	}
	if got := a.Remaining("k"); got != 0 {
		t.Fatalf("Remaining = %d, want 0", got)
	}
	clock.Advance(pairing.DefaultAttemptWindow)
	if got := a.Remaining("k"); got != pairing.DefaultMaxAttempts {
		t.Fatalf("after the window Remaining = %d", got)
	}
}

func TestAttemptsConcurrentNeverExceedsLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a := pairing.NewAttempts(10, time.Minute, clock.Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Go(func() {
			if ok, _ := a.Allow("user:u1", "ip:x"); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 10 {
		t.Fatalf("%d concurrent attempts allowed, want exactly 10", allowed)
	}
}

func TestAttemptsBoundedMemoryFailsClosed(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a := pairing.NewAttempts(10, time.Minute, clock.Now)
	key := func(i int) string { return "ip:" + strconv.Itoa(i) }
	for i := range pairing.DefaultMaxAttemptKeys {
		if ok, _ := a.Allow(key(i)); !ok {
			t.Fatalf("key %d refused below the cap", i)
		}
	}
	if ok, retry := a.Allow("ip:new"); ok || retry != time.Minute {
		t.Fatalf("new key at the cap: %v, %v; want refused for the window", ok, retry)
	}
	if ok, _ := a.Allow(key(0)); !ok {
		t.Fatal("a known key was refused at the cap")
	}
	clock.Advance(time.Minute)
	if ok, _ := a.Allow("ip:new"); !ok {
		t.Fatal("new key refused after old keys expired")
	}
}
