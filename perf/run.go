package perf

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/theonestack/visitor/cloud/store"
)

// Measurement is one named group of figures.
type Measurement struct {
	Name string
	Run  func(ctx context.Context, env Env) ([]Result, error)
}

// Env is what a measurement may use: a scratch directory and the size.
type Env struct {
	Dir  string
	Size Size
	// PostgresURL, when set, is an administrator URL for measurements on
	// PostgreSQL.
	PostgresURL string
	// Log receives progress and notes (a figure skipped, and why); RunAll
	// sets it to its log writer when nil.
	Log io.Writer
}

// note writes a progress note to the log, if any.
func (e Env) note(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, "bench: "+format+"\n", args...)
	}
}

// freshSQLite opens a new cloud store in the scratch directory.
func (e Env) freshSQLite(ctx context.Context, name string) (*store.DB, error) {
	return store.Open(ctx, "sqlite:"+filepath.Join(e.Dir, name+".db"), store.Options{})
}

// Measurements lists every measurement in the order `make bench` runs them.
func Measurements() []Measurement {
	return []Measurement{
		{"ceilings", func(ctx context.Context, e Env) ([]Result, error) { return Ceilings(ctx, e.Dir, e.Size) }},
		{"search", func(ctx context.Context, e Env) ([]Result, error) {
			db, err := e.freshSQLite(ctx, "search")
			if err != nil {
				return nil, err
			}
			defer db.Close()
			return Search(ctx, db, e.Size)
		}},
		{"visitors-today", func(ctx context.Context, e Env) ([]Result, error) {
			db, err := e.freshSQLite(ctx, "today")
			if err != nil {
				return nil, err
			}
			defer db.Close()
			return VisitorsToday(ctx, db, e.Size)
		}},
		{"sync", func(ctx context.Context, e Env) ([]Result, error) { return Sync(ctx, e.Dir, e.Size) }},
		{"apply", func(ctx context.Context, e Env) ([]Result, error) { return applyBoth(ctx, e) }},
		{"idle", func(ctx context.Context, e Env) ([]Result, error) { return IdleConnections(ctx, e.Dir, e.Size) }},
	}
}

// applyBoth measures bulk apply on a fresh SQLite cloud database and, when
// e.PostgresURL is set, on a fresh PostgreSQL database.
func applyBoth(ctx context.Context, e Env) ([]Result, error) {
	db, err := e.freshSQLite(ctx, "apply")
	if err != nil {
		return nil, err
	}
	rate, err := ApplyRate(ctx, db, e.Size.ApplyOps)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	out := []Result{{"sync_apply_ops_per_s", rate, "ops/s"}, {"sync_apply_ops_per_s_sqlite", rate, "ops/s"}}
	if e.PostgresURL == "" {
		e.note("sync_apply_ops_per_s_postgres skipped: VISITOR_TEST_POSTGRES_URL is not set")
		return out, nil
	}
	u, drop, err := freshPostgres(ctx, e.PostgresURL)
	if err != nil {
		return out, fmt.Errorf("postgres: %w", err)
	}
	defer drop()
	pg, err := store.Open(ctx, u, store.Options{})
	if err != nil {
		return out, fmt.Errorf("postgres: %w", err)
	}
	defer pg.Close()
	if rate, err = ApplyRate(ctx, pg, e.Size.ApplyOps); err != nil {
		return out, fmt.Errorf("postgres: %w", err)
	}
	return append(out, Result{"sync_apply_ops_per_s_postgres", rate, "ops/s"}), nil
}

// ratios are figures printed as a fraction of a ceiling measured in the
// same run: name = num ÷ den, when both are known.
var ratios = []struct{ name, num, den string }{
	{"sync_apply_ops_per_s_sqlite_vs_ceiling", "sync_apply_ops_per_s_sqlite", "ceiling_sqlite_durable_commits_per_s"},
}

// RunAll runs the selected measurements (all when only is empty), printing
// each figure as soon as it is known and progress to log. It returns the
// first error after trying every measurement.
func RunAll(ctx context.Context, env Env, only map[string]bool, out, log io.Writer) error {
	var firstErr error
	known := map[string]float64{}
	if env.Log == nil {
		env.Log = log
	}
	for _, m := range Measurements() {
		if len(only) > 0 && !only[m.Name] {
			continue
		}
		fmt.Fprintf(log, "bench: %s…\n", m.Name)
		dir, err := os.MkdirTemp(env.Dir, m.Name+"-")
		if err != nil {
			return err
		}
		sub := env
		sub.Dir = dir
		results, err := m.Run(ctx, sub)
		os.RemoveAll(dir)
		if err != nil {
			fmt.Fprintf(log, "bench: %s failed: %v\n", m.Name, err)
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", m.Name, err)
			}
			continue
		}
		Print(out, results)
		for _, r := range results {
			known[r.Name] = r.Value
		}
		for _, q := range ratios {
			num, ok1 := known[q.num]
			den, ok2 := known[q.den]
			if _, done := known[q.name]; ok1 && ok2 && den > 0 && !done {
				known[q.name] = num / den
				Print(out, []Result{{q.name, num / den, "x"}})
			}
		}
	}
	return firstErr
}
