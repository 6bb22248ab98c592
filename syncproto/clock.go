package syncproto

import "time"

// ClockSample is one NTP-style measurement of the peer's clock, taken from
// four timestamps (SPEC.md §7). Offset is peer clock minus local clock: a
// local time plus Offset is the peer's time. RTT excludes the peer's
// processing time.
type ClockSample struct {
	Offset time.Duration
	RTT    time.Duration
	At     time.Time // local wall clock when the sample was taken (t3)
}

// EstimateOffset computes a ClockSample from four Unix-millisecond
// timestamps: t0 local send, t1 peer receive, t2 peer send, t3 local
// receive. It is pure. The offset is ((t1−t0)+(t2−t3))/2 and the round
// trip (t3−t0)−(t2−t1), clamped at 0 (clocks with ms resolution can make it
// slightly negative). The offset is exact when the two legs take equal
// time; its error is at most RTT/2 otherwise.
func EstimateOffset(t0, t1, t2, t3 int64) ClockSample {
	offset := ((t1 - t0) + (t2 - t3)) / 2
	rtt := (t3 - t0) - (t2 - t1)
	if rtt < 0 {
		rtt = 0
	}
	return ClockSample{
		Offset: time.Duration(offset) * time.Millisecond,
		RTT:    time.Duration(rtt) * time.Millisecond,
		At:     time.UnixMilli(t3),
	}
}

// TimeSource says how a corrected op time was obtained.
type TimeSource int

// Time sources, from most to least trustworthy.
const (
	// TimeFromMono: the op was made in the boot the anchor belongs to; its
	// time is the server's time of the anchor minus the monotonic interval.
	// Immune to any device wall-clock error.
	TimeFromMono TimeSource = iota + 1
	// TimeFromOffset: the op is from an earlier boot for which the edge
	// measured an offset (Op.OffsetMs); device time plus that offset.
	TimeFromOffset
	// TimeFromDevice: nothing better is known; the device's own wall time,
	// which may be hours (or decades) wrong. Flag it as uncertain.
	TimeFromDevice
)

func (s TimeSource) String() string {
	switch s {
	case TimeFromMono:
		return "mono"
	case TimeFromOffset:
		return "offset"
	case TimeFromDevice:
		return "device"
	}
	return "unknown"
}

// Anchor ties a reading of the device's monotonic clock to the server's
// clock: the device's boot BootID had mono reading MonoMs at server time
// ServerTime. The cloud builds one from every push (push.mono_ms, the
// hello's boot_id, and the time the push arrived minus half the last RTT if
// known) and one from the hello (hello.mono_ms, welcome.received_ms).
type Anchor struct {
	BootID     string
	MonoMs     int64
	ServerTime time.Time
}

// CorrectedTime is an op's time on the server's clock.
type CorrectedTime struct {
	Time   time.Time
	Source TimeSource
}

// Uncertain reports whether the time is only the device's own clock.
func (c CorrectedTime) Uncertain() bool { return c.Source == TimeFromDevice }

// CorrectTime maps an op's device time to server time (SPEC.md §7.3). It is
// pure. Rules, in order:
//  1. op.BootID == a.BootID and 0 ≤ op.MonoMs ≤ a.MonoMs:
//     a.ServerTime − (a.MonoMs − op.MonoMs), source TimeFromMono;
//  2. op.OffsetMs set: op.TimeMs + *op.OffsetMs, source TimeFromOffset;
//  3. otherwise op.TimeMs, source TimeFromDevice (uncertain).
//
// The cloud orders a device's ops by seq, never by these times.
func CorrectTime(op Op, a Anchor) CorrectedTime {
	if op.BootID != "" && op.BootID == a.BootID && op.MonoMs >= 0 && op.MonoMs <= a.MonoMs {
		return CorrectedTime{
			Time:   a.ServerTime.Add(-time.Duration(a.MonoMs-op.MonoMs) * time.Millisecond),
			Source: TimeFromMono,
		}
	}
	if op.OffsetMs != nil {
		return CorrectedTime{Time: time.UnixMilli(op.TimeMs + *op.OffsetMs), Source: TimeFromOffset}
	}
	return CorrectedTime{Time: time.UnixMilli(op.TimeMs), Source: TimeFromDevice}
}
