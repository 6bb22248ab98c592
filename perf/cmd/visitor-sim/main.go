// Command visitor-sim is the load generator: N simulated kiosks (real edge
// engines, each with its own SQLite data directory) in one process against
// a running cloud, checking visitors in at a given rate with random link
// cuts and offline periods, then a set check of the cloud's database.
//
//	visitor-sim --cloud http://127.0.0.1:8080 --database-url sqlite:./var/cloud.db \
//	    --kiosks 200 --rate 40 --duration 60s --offline-prob 0.01 --seed 1
//
// Kiosks are provisioned straight into the cloud's database (what an
// approved pairing ends in), so --database-url is required: the same URL
// the cloud runs on. It lives under perf/ rather than edge/ because it
// reads the cloud's store, which the edge must not import (DESIGN.md §2).
// It prints one summary line and exits 1 when a check-in was lost or
// duplicated, or a kiosk did not drain.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/perf/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "visitor-sim:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("visitor-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cloudURL := fs.String("cloud", "http://127.0.0.1:8080", "cloud base URL")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "the cloud's database (sqlite:PATH or postgres://…; $DATABASE_URL)")
	kiosks := fs.Int("kiosks", 20, "simulated kiosks")
	rate := fs.Float64("rate", 10, "check-ins per second across all kiosks")
	duration := fs.Duration("duration", 30*time.Second, "how long to generate check-ins")
	offline := fs.Float64("offline-prob", 0.01, "chance per kiosk and second of going offline")
	offlineFor := fs.Duration("offline-for", 5*time.Second, "longest offline period")
	disconnect := fs.Float64("disconnect-prob", 0.02, "chance per kiosk and second of a cut link")
	seed := fs.Uint64("seed", 1, "seed for the schedule of check-ins and faults")
	tenant := fs.String("tenant", "org_sim", "tenant the kiosks are provisioned in")
	dir := fs.String("dir", "", "directory for the kiosks' data (default: a temporary directory, removed at the end)")
	drain := fs.Duration("drain-timeout", 60*time.Second, "how long to wait for every kiosk to drain")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dbURL == "" {
		fmt.Fprintln(stderr, "visitor-sim: --database-url is required (the cloud's own database)")
		return errUsage
	}
	if *kiosks < 1 || *rate <= 0 || *duration <= 0 || *offline < 0 || *disconnect < 0 {
		fmt.Fprintln(stderr, "visitor-sim: --kiosks, --rate and --duration must be positive; probabilities not negative")
		return errUsage
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	data := *dir
	if data == "" {
		tmp, err := os.MkdirTemp("", "visitor-sim-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		data = tmp
	}
	db, err := store.Open(ctx, *dbURL, store.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("open the cloud's database: %w", err)
	}
	defer db.Close()
	cdb := sim.NewDB(db, *tenant, max(1, *kiosks/10))
	rep, err := sim.Run(ctx, sim.Config{
		CloudURL: *cloudURL, Dir: data, Kiosks: *kiosks, Rate: *rate, Duration: *duration,
		OfflineProb: *offline, OfflineFor: *offlineFor, DisconnectProb: *disconnect, Seed: *seed,
		DrainTimeout: *drain, Logger: log,
	}, cdb, cdb)
	fmt.Fprintln(stdout, rep.String())
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("set check failed: lost %d, duplicated %d, drained %v, refused check-ins %d",
			rep.Lost, rep.Duplicated, rep.Drained, rep.CheckInErrors)
	}
	return nil
}
