// Command visitor-bench measures The One Visitor against DESIGN.md §9 and
// prints one "name value unit" line per figure (progress goes to stderr).
// `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/theonestack/visitor/perf"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The idle-connection figure re-runs this executable as the cloud.
	if ran, code := perf.RunChild(ctx); ran {
		stop()
		os.Exit(code)
	}
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "visitor-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("visitor-bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "small sizes: check the harness, not the machine")
	only := fs.String("only", "", "comma-separated measurements to run (default all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	size := perf.Full
	if *quick {
		size = perf.Quick
	}
	dir, err := os.MkdirTemp("", "visitor-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sel := map[string]bool{}
	for _, name := range strings.Split(*only, ",") {
		if name = strings.TrimSpace(name); name != "" {
			sel[name] = true
		}
	}
	env := perf.Env{Dir: dir, Size: size, PostgresURL: os.Getenv("VISITOR_TEST_POSTGRES_URL")}
	return perf.RunAll(ctx, env, sel, os.Stdout, os.Stderr)
}
