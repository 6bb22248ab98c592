// Package cloud wires the cloud service together: configuration, store,
// web server and background workers. Run is what visitor-cloud's main
// calls; Start is what end-to-end tests call to run a real instance on a
// loopback port.
package cloud

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/web"
)

// Usage is the command-line synopsis.
const Usage = `usage: visitor-cloud [serve] [flags]   run the service (the default)
       visitor-cloud migrate [flags]   apply database migrations and exit

Every flag is also an environment variable; see README.md or -h.`

// UsageError is a command-line or configuration error: main exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode maps Run's error to the process exit code: 0 for none, 2 for a
// usage or configuration error, 1 for anything else.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// Run runs the visitor-cloud command line until ctx ends.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "migrate":
	default:
		return &UsageError{fmt.Errorf("unknown command %q\n%s", cmd, Usage)}
	}
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{err}
	}
	logger := NewLogger(cfg, stderr)
	switch cmd {
	case "migrate":
		db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Logger: logger})
		if err != nil {
			return err
		}
		logger.Info("migrations applied", "database", string(db.Dialect()))
		return db.Close()
	}
	svc, err := Start(ctx, cfg, Options{Logger: logger})
	if err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return svc.Shutdown(context.Background())
}

// NewLogger builds the service's slog logger from the configuration.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Options are optional settings of Start; the zero value works.
type Options struct {
	Logger *slog.Logger     // nil discards logs
	Now    func() time.Time // nil means time.Now
}

// Service is a running cloud instance.
type Service struct {
	cfg     config.Config
	log     *slog.Logger
	db      *store.DB
	web     *web.Server
	servers []*http.Server
	addr    string
	errc    chan error

	// stopWorkers cancels the background workers; workers waits for them.
	stopWorkers context.CancelFunc
	workers     sync.WaitGroup
}

// Start opens and migrates the store, listens on cfg.ListenAddr (port 0
// picks a free port; see Addr) and serves until Shutdown.
func Start(ctx context.Context, cfg config.Config, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, &UsageError{err}
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	authSvc, err := auth.New(auth.Config{
		HubURL: cfg.HubURL, Issuer: cfg.HubIssuer, SecureCookies: cfg.SecureCookies(),
	}, db, auth.Options{Now: opts.Now, Logger: opts.Logger})
	if err != nil {
		db.Close()
		return nil, err
	}
	w, err := web.New(web.Deps{Store: db, Config: cfg, Logger: opts.Logger, Now: opts.Now, Auth: authSvc})
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Service{cfg: cfg, log: opts.Logger, db: db, web: w, errc: make(chan error, 2)}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln, w.Handler())
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			s.Shutdown(context.Background())
			return nil, fmt.Errorf("listen on %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", w.MetricsHandler())
		s.serve(mln, mux)
	}
	// Register the permissions with Hub in the background: start-up never
	// waits for Hub, and Shutdown stops the retries.
	wctx, stop := context.WithCancel(context.Background())
	s.stopWorkers = stop
	reg := &auth.Registrar{HubURL: cfg.HubURL, Key: cfg.BusIntegrationKey, Logger: opts.Logger}
	s.workers.Go(func() { reg.Run(wctx) })
	s.log.Info("visitor-cloud serving", "addr", s.addr, "public_url", cfg.PublicURL, "database", string(db.Dialect()))
	return s, nil
}

func (s *Service) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server stopped", "err", err)
			s.errc <- err
		}
	}()
}

// Addr is the address the service listens on.
func (s *Service) Addr() string { return s.addr }

// Store is the service's store (for tests and operations).
func (s *Service) Store() *store.DB { return s.db }

// Shutdown stops accepting requests, waits up to 10 s for those in flight,
// and closes the store.
func (s *Service) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s.stopWorkers != nil {
		s.stopWorkers()
		s.workers.Wait()
	}
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}
