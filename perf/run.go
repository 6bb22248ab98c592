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
	}
}

// RunAll runs the selected measurements (all when only is empty), printing
// each figure as soon as it is known and progress to log. It returns the
// first error after trying every measurement.
func RunAll(ctx context.Context, env Env, only map[string]bool, out, log io.Writer) error {
	var firstErr error
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
	}
	return firstErr
}
