package perf_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/theonestack/visitor/perf"
)

// TestMain lets the idle-connection measurement re-run the test binary as
// its cloud child process.
func TestMain(m *testing.M) {
	if ran, code := perf.RunChild(context.Background()); ran {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestHarnessPrintsEveryFigure runs every measurement at the quick size
// and checks each prints well-formed, positive figures. It asserts no
// timing.
func TestHarnessPrintsEveryFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every measurement")
	}
	var out bytes.Buffer
	env := perf.Env{Dir: t.TempDir(), Size: perf.Quick, PostgresURL: os.Getenv("VISITOR_TEST_POSTGRES_URL")}
	if err := perf.RunAll(context.Background(), env, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^([a-z0-9_]+) ([0-9.]+) (\S+)$`)
	got := map[string]float64{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("line %q is not 'name value unit'", l)
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		got[m[1]] = v
	}
	want := []string{"ceiling_sqlite_durable_commits_per_s", "ceiling_ws_roundtrips_per_s", "search_p99_ms", "visitors_today_100k_s",
		"sync_drain_10k_s", "live_checkin_to_cloud_p99_ms", "edge_checkin_p99_ms",
		"sync_apply_ops_per_s", "sync_apply_ops_per_s_sqlite", "sync_apply_ops_per_s_sqlite_vs_ceiling",
		"idle_kiosk_conn_kib", "cloud_rss_mib"}
	if env.PostgresURL != "" {
		want = append(want, "sync_apply_ops_per_s_postgres")
	}
	for _, name := range want {
		if v, ok := got[name]; !ok || v <= 0 {
			t.Errorf("figure %s = %v (present %v); want a positive value", name, v, ok)
		}
	}
}

func TestResultFormat(t *testing.T) {
	for _, tt := range []struct {
		r    perf.Result
		want string
	}{
		{perf.Result{"a", 12, "ms"}, "a 12 ms"},
		{perf.Result{"b", 0.01234, "s"}, "b 0.012 s"},
		{perf.Result{"c", 5300.46, "commits/s"}, "c 5300.5 commits/s"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v = %q, want %q", tt.r, got, tt.want)
		}
	}
}
