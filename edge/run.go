package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/theonestack/visitor/edge/localapi"
)

// ExitCode returns the process exit status for an error of Run: 0 for nil,
// 2 for a configuration error, 1 otherwise.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	return 1
}

// Run is the visitor-edge command: it parses args and getenv into a Config,
// opens the engine, and serves the local API while the sync client runs,
// until ctx ends (SIGTERM in main); then it stops both gracefully. Logs go
// to stderr as text and never carry visitor PII.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	return Serve(ctx, cfg, Options{Logger: logger}, nil)
}

// Serve runs an engine for cfg until ctx ends. If ready is not nil it
// receives the local API's bound address once it listens (tests use port 0).
func Serve(ctx context.Context, cfg Config, opts Options, ready func(addr net.Addr)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		opts.Logger = log
	}
	e, err := Open(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	ln, err := net.Listen("tcp", cfg.LocalAPIAddr)
	if err != nil {
		return fmt.Errorf("local API: %w", err)
	}
	srv := &http.Server{
		Handler:           localapi.Handler(e, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	log.Info("visitor-edge started", "local_api", ln.Addr().String(), "cloud", cfg.CloudURL, "data", cfg.DataDir)
	if ready != nil {
		ready(ln.Addr())
	}
	syncCtx, stopSync := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.RunSync(syncCtx) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
		err = fmt.Errorf("local API: %w", err)
	}
	log.Info("visitor-edge stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = fmt.Errorf("local API shutdown: %w", serr)
	}
	stopSync()
	wg.Wait()
	return err
}
