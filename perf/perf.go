// Package perf measures The One Visitor against the targets of DESIGN.md
// §9 and the machine's raw ceilings, for `make bench`. Each measurement
// returns Results printed as "name value unit" lines. Timing is reported,
// never asserted: tests check only that each figure is produced.
package perf

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/theonestack/visitor/syncproto"
)

// Result is one figure.
type Result struct {
	Name  string
	Value float64
	Unit  string
}

// String formats the result as "name value unit".
func (r Result) String() string {
	return fmt.Sprintf("%s %s %s", r.Name, formatValue(r.Value), r.Unit)
}

func formatValue(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e12:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// Print writes results, one per line.
func Print(w io.Writer, results []Result) {
	for _, r := range results {
		fmt.Fprintln(w, r.String())
	}
}

// Size scales the measurements: Full is what DESIGN.md names; Quick is a
// small run that checks the harness works.
type Size struct {
	SearchVisits   int // visits in the search corpus
	SearchTenants  int
	SearchQueries  int
	TodayVisits    int // visits streamed by visitors-today
	CeilingSeconds float64
	DrainOps       int // offline check-ins drained to the cloud
	LiveSamples    int // live check-ins timed to the cloud (and edge check-ins during the drain, at least)
	ApplyOps       int // ops applied in bulk per database engine
	IdleConns      int // idle authenticated kiosk connections on one cloud process
	// IdleWindow is how long the connections stay idle before the
	// idle figure is read: long enough for every kiosk to exchange
	// heartbeats and for the cloud's heap to settle after the connects.
	IdleWindow time.Duration
}

// Full and Quick sizes.
var (
	Full = Size{SearchVisits: 1_000_000, SearchTenants: 100, SearchQueries: 2000, TodayVisits: 100_000, CeilingSeconds: 2,
		DrainOps: 10_000, LiveSamples: 300, ApplyOps: 40_000, IdleConns: 10_000,
		IdleWindow: 2 * syncproto.DefaultHeartbeatInterval}
	Quick = Size{SearchVisits: 5_000, SearchTenants: 10, SearchQueries: 200, TodayVisits: 2_000, CeilingSeconds: 0.2,
		DrainOps: 200, LiveSamples: 10, ApplyOps: 1_000, IdleConns: 20}
)

// percentile returns the p-th percentile (0–100) of durations, in ms.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}
