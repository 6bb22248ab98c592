package syncproto

import (
	"testing"
	"time"
)

func TestEstimateOffset(t *testing.T) {
	tests := []struct {
		name           string
		t0, t1, t2, t3 int64
		offset, rtt    time.Duration
	}{
		{"in sync", 1000, 1010, 1012, 1022, 0, 20 * time.Millisecond},
		{"client 12 h slow", 0, 43_200_010, 43_200_011, 21, 43_200_000 * time.Millisecond, 20 * time.Millisecond},
		{"client 12 h fast", 43_200_000, 10, 11, 43_200_021, -43_200_000 * time.Millisecond, 20 * time.Millisecond},
		{"asymmetric legs", 0, 30, 30, 40, 10 * time.Millisecond, 40 * time.Millisecond},
		{"negative rtt clamped", 100, 100, 100, 99, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := EstimateOffset(tt.t0, tt.t1, tt.t2, tt.t3)
			if s.Offset != tt.offset || s.RTT != tt.rtt {
				t.Errorf("got offset %v rtt %v, want %v %v", s.Offset, s.RTT, tt.offset, tt.rtt)
			}
			if !s.At.Equal(time.UnixMilli(tt.t3)) {
				t.Errorf("At = %v", s.At)
			}
		})
	}
}

func TestCorrectTime(t *testing.T) {
	server := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	const h12 = 12 * 3600 * 1000
	anchor := Anchor{BootID: "boot-2", MonoMs: 600_000, ServerTime: server} // 10 min into boot-2
	tests := []struct {
		name   string
		op     Op
		want   time.Time
		source TimeSource
	}{
		{
			name:   "current boot, device 12 h fast",
			op:     Op{BootID: "boot-2", MonoMs: 540_000, TimeMs: server.Add(-time.Minute).UnixMilli() + h12},
			want:   server.Add(-time.Minute),
			source: TimeFromMono,
		},
		{
			name:   "current boot, device clock at 1970",
			op:     Op{BootID: "boot-2", MonoMs: 5_000, TimeMs: 5_000},
			want:   server.Add(-595 * time.Second),
			source: TimeFromMono,
		},
		{
			name:   "current boot, op at the anchor itself",
			op:     Op{BootID: "boot-2", MonoMs: 600_000, TimeMs: 42},
			want:   server,
			source: TimeFromMono,
		},
		{
			name:   "earlier boot with measured offset, 1970 clock",
			op:     Op{BootID: "boot-1", MonoMs: 5_000, TimeMs: 7_200_000, OffsetMs: i64(server.Add(-24*time.Hour).UnixMilli() - 7_200_000)},
			want:   server.Add(-24 * time.Hour),
			source: TimeFromOffset,
		},
		{
			name:   "earlier boot with measured offset, 12 h fast",
			op:     Op{BootID: "boot-1", MonoMs: 1, TimeMs: server.Add(-time.Hour).UnixMilli() + h12, OffsetMs: i64(-h12)},
			want:   server.Add(-time.Hour),
			source: TimeFromOffset,
		},
		{
			name:   "earlier boot without offset: device time, uncertain",
			op:     Op{BootID: "boot-1", MonoMs: 1, TimeMs: 3_600_000},
			want:   time.UnixMilli(3_600_000),
			source: TimeFromDevice,
		},
		{
			name:   "mono beyond the anchor is not trusted",
			op:     Op{BootID: "boot-2", MonoMs: 700_000, TimeMs: 99, OffsetMs: i64(1)},
			want:   time.UnixMilli(100),
			source: TimeFromOffset,
		},
		{
			name:   "no boot id never matches an anchor without one",
			op:     Op{MonoMs: 1, TimeMs: 7},
			want:   time.UnixMilli(7),
			source: TimeFromDevice,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := anchor
			if tt.name == "no boot id never matches an anchor without one" {
				a.BootID = ""
			}
			got := CorrectTime(tt.op, a)
			if !got.Time.Equal(tt.want) || got.Source != tt.source {
				t.Errorf("got %v (%s), want %v (%s)", got.Time.UTC(), got.Source, tt.want.UTC(), tt.source)
			}
			if got.Uncertain() != (tt.source == TimeFromDevice) {
				t.Errorf("Uncertain() = %v", got.Uncertain())
			}
		})
	}
}
