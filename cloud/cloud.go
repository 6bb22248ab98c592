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
	"strings"
	"sync"
	"time"

	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/billing"
	"github.com/theonestack/visitor/cloud/bus"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/displays"
	"github.com/theonestack/visitor/cloud/fanout"
	"github.com/theonestack/visitor/cloud/integration"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/syncserver"
	"github.com/theonestack/visitor/cloud/web"
)

// Usage is the command-line synopsis.
const Usage = `usage: visitor-cloud [serve] [flags]   run the service (the default)
       visitor-cloud migrate [flags]   apply database migrations and exit
       visitor-cloud billing run --date YYYY-MM-DD [flags]
                                       send that day's usage reports now (idempotent)

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
	var day string
	switch cmd {
	case "serve", "migrate":
	case "billing":
		if len(args) == 0 || args[0] != "run" {
			return &UsageError{fmt.Errorf("usage: visitor-cloud billing run --date YYYY-MM-DD [flags]")}
		}
		var err error
		if day, args, err = takeDate(args[1:]); err != nil {
			return &UsageError{err}
		}
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
	case "billing":
		d, err := billing.ParseDay(day)
		if err != nil {
			return &UsageError{fmt.Errorf("--date: %w", err)}
		}
		db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Logger: logger})
		if err != nil {
			return err
		}
		defer db.Close()
		r := billing.New(db, cfg.HubURL, cfg.BusIntegrationKey, billing.Options{Logger: logger})
		if err := r.RunDay(ctx, d); err != nil {
			return fmt.Errorf("billing run %s: %w", day, err)
		}
		logger.Info("billing reports sent", "date", day)
		return nil
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

// takeDate removes --date VALUE (or --date=VALUE) from args.
func takeDate(args []string) (string, []string, error) {
	var rest []string
	date := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--date" || a == "-date":
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("--date needs a value (YYYY-MM-DD)")
			}
			date = args[i+1]
			i++
		case strings.HasPrefix(a, "--date=") || strings.HasPrefix(a, "-date="):
			date = a[strings.IndexByte(a, '=')+1:]
		default:
			rest = append(rest, a)
		}
	}
	if date == "" {
		return "", nil, fmt.Errorf("billing run needs --date YYYY-MM-DD")
	}
	if _, err := billing.ParseDay(date); err != nil {
		return "", nil, fmt.Errorf("--date: %w", err)
	}
	return date, rest, nil
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
	sync    *syncserver.Server // kiosk connections at /api/sync
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
	integ := integration.New(db, integration.Options{PlatformKey: cfg.IntegrationKey, Logger: opts.Logger, Now: opts.Now})
	// Live changes, revokes and unpairs reach the kiosks of this instance
	// and, on PostgreSQL, of every other instance (LISTEN/NOTIFY).
	fan, err := fanout.New(db, cfg.DatabaseURL, fanout.Options{Logger: opts.Logger})
	if err != nil {
		db.Close()
		return nil, err
	}
	syncSrv := syncserver.New(db, syncserver.Options{Logger: opts.Logger, Now: opts.Now, Peers: fan})
	fan.SetLocal(syncSrv)
	// Pairing and displays: unpair and revoke reach live kiosks through the fanout.
	disp := displays.New(db, cfg.PublicURL, displays.Options{Now: opts.Now, Logger: opts.Logger, Links: fan})
	w, err := web.New(web.Deps{Store: db, Config: cfg, Logger: opts.Logger, Now: opts.Now, Auth: authSvc, Integration: integ,
		Sync: syncSrv, Displays: disp, Changes: fan})
	if err != nil {
		syncSrv.Shutdown(context.Background())
		db.Close()
		return nil, err
	}
	s := &Service{cfg: cfg, log: opts.Logger, db: db, web: w, sync: syncSrv, errc: make(chan error, 2)}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		syncSrv.Shutdown(context.Background())
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
	s.workers.Go(func() { fan.Run(wctx) })
	// Bus delivery from the outbox, the daily billing report, and the
	// purge of expired sessions and used token ids: each runs on one
	// instance at a time where that matters (leases in the database).
	relay := bus.New(db, cfg.BusURL, cfg.BusSDKKey, bus.Options{Logger: opts.Logger, Now: opts.Now})
	s.workers.Go(func() { relay.Run(wctx) })
	reporter := billing.New(db, cfg.HubURL, cfg.BusIntegrationKey, billing.Options{Logger: opts.Logger, Now: opts.Now})
	s.workers.Go(func() { reporter.Run(wctx) })
	s.workers.Go(func() { purge(wctx, db, s.log) })
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

// purge deletes expired sessions, used token ids past their expiry plus
// leeway, and expired leases, every ten minutes until ctx ends.
func purge(ctx context.Context, db *store.DB, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := db.PurgeExpired(ctx, auth.DefaultLeeway); err != nil && ctx.Err() == nil {
			log.Warn("purge expired rows", "err", err)
		} else if n > 0 {
			log.Debug("purged expired rows", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
	if s.sync != nil { // kiosks get bye "shutdown"; http.Server.Shutdown does not wait for WebSockets
		errs = append(errs, s.sync.Shutdown(ctx))
	}
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}
