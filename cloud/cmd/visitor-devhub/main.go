// Command visitor-devhub runs the development stand-in for Hub and the Bus
// (package devhub) on one address. Every setting is a flag and an
// environment variable; a flag wins. A bad value exits 2 with one line
// naming the flag or variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/theonestack/visitor/cloud/devhub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "visitor-devhub:", err)
		var ue *usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a bad flag or environment value (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// setting is one configuration value: a flag, its variable, and the Config
// field it fills (for naming the source of a validation error).
type setting struct {
	flag, env, field, usage string
	val                     string
}

func settings() []*setting {
	return []*setting{
		{flag: "listen", env: "DEVHUB_LISTEN_ADDR", field: "ListenAddr", usage: "listen address (default " + devhub.DefaultListenAddr + ")"},
		{flag: "public-url", env: "DEVHUB_PUBLIC_URL", field: "PublicURL", usage: "this Hub's public base URL (default " + devhub.DefaultPublicURL + ")"},
		{flag: "issuer", env: "DEVHUB_ISSUER", field: "Issuer", usage: "iss of issued tokens (default: the public URL)"},
		{flag: "visitor-url", env: "VISITOR_URL", field: "VisitorURL", usage: "the Visitor cloud's public base URL (default " + devhub.DefaultVisitorURL + ")"},
		{flag: "alg", env: "DEVHUB_ALG", field: "Algorithm", usage: "token signing algorithm: EdDSA (default) or RS256"},
		{flag: "key-rotation", env: "DEVHUB_KEY_ROTATION", field: "KeyRotation", usage: "rotate the signing key this often, e.g. 1h (default 0: never)"},
		{flag: "key-grace", env: "DEVHUB_KEY_GRACE", field: "KeyGrace", usage: "keep a retired key in the JWKS this long (default 10m)"},
		{flag: "token-lifetime", env: "DEVHUB_TOKEN_LIFETIME", field: "TokenLifetime", usage: "exp - iat of tokens, at most 5m (default 2m)"},
		{flag: "hub-integration-key", env: "BUS_INTEGRATION_KEY", field: "HubIntegrationKey", usage: "X-Integration-Key required on /api/hub/* (default: none required)"},
		{flag: "bus-sdk-key", env: "BUS_SDK_KEY", field: "BusSDKKey", usage: "Bearer key required on Bus posts (default: none required)"},
		{flag: "visitor-integration-key", env: "INTEGRATION_KEY", field: "VisitorIntegrationKey", usage: "X-Integration-Key sent to Visitor's search and to subscribers"},
		{flag: "fixtures", env: "DEVHUB_FIXTURES", field: "FixturesPath", usage: "JSON fixture file of orgs and users (default: built-in)"},
		{flag: "subscribers", env: "DEVHUB_SUBSCRIBERS", field: "Subscribers", usage: "comma-separated URLs to forward Bus events to"},
		{flag: "log-format", env: "DEVHUB_LOG_FORMAT", field: "LogFormat", usage: "log format: text (default) or json"},
	}
}

// parseConfig reads flags, then the environment for flags not given.
// Defaults live in devhub.Config.WithDefaults, so flag defaults are empty
// and -h never prints a secret.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (devhub.Config, *devhub.Fixture, string, error) {
	ss := settings()
	fs := flag.NewFlagSet("visitor-devhub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, s := range ss {
		fs.StringVar(&s.val, s.flag, "", s.usage+" [$"+s.env+"]")
	}
	if err := fs.Parse(args); err != nil {
		return devhub.Config{}, nil, "", &usageError{err}
	}
	if fs.NArg() > 0 {
		return devhub.Config{}, nil, "", &usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	name := map[string]string{} // Config field -> the flag or variable it came from
	get := map[string]string{}
	for _, s := range ss {
		src := "-" + s.flag
		if !given[s.flag] {
			s.val, src = getenv(s.env), s.env
		}
		get[s.flag] = strings.TrimSpace(s.val)
		name[s.field] = src
	}
	bad := func(field string, err error) error {
		return &usageError{fmt.Errorf("%s: %w", name[field], err)}
	}
	dur := func(flagName, field string) (time.Duration, error) {
		v := get[flagName]
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, bad(field, fmt.Errorf("invalid duration %q", v))
		}
		return d, nil
	}
	cfg := devhub.Config{
		ListenAddr: get["listen"], PublicURL: get["public-url"], Issuer: get["issuer"],
		VisitorURL: get["visitor-url"], Algorithm: get["alg"],
		HubIntegrationKey: get["hub-integration-key"], BusSDKKey: get["bus-sdk-key"],
		VisitorIntegrationKey: get["visitor-integration-key"], FixturesPath: get["fixtures"],
	}
	var err error
	if cfg.KeyRotation, err = dur("key-rotation", "KeyRotation"); err != nil {
		return cfg, nil, "", err
	}
	if cfg.KeyGrace, err = dur("key-grace", "KeyGrace"); err != nil {
		return cfg, nil, "", err
	}
	if cfg.TokenLifetime, err = dur("token-lifetime", "TokenLifetime"); err != nil {
		return cfg, nil, "", err
	}
	for _, s := range strings.Split(get["subscribers"], ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Subscribers = append(cfg.Subscribers, s)
		}
	}
	logFormat := get["log-format"]
	if logFormat != "" && logFormat != "text" && logFormat != "json" {
		return cfg, nil, "", &usageError{fmt.Errorf("%s: want text or json, got %q", name["LogFormat"], logFormat)}
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		var ce *devhub.ConfigError
		if errors.As(err, &ce) {
			return cfg, nil, "", bad(ce.Field, ce.Err)
		}
		return cfg, nil, "", &usageError{err}
	}
	fx := devhub.DefaultFixture()
	if cfg.FixturesPath != "" {
		if fx, err = devhub.LoadFixture(cfg.FixturesPath); err != nil {
			return cfg, nil, "", bad("FixturesPath", err)
		}
	}
	return cfg, fx, logFormat, nil
}

// run serves the development Hub until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, fx, logFormat, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // usage already printed
	}
	if err != nil {
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(handler)
	hub, err := devhub.New(cfg, devhub.Options{Logger: logger, Fixture: fx})
	if err != nil {
		return err
	}
	defer hub.Close()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: hub.Handler(), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL,
		"visitor_url", cfg.VisitorURL, "alg", cfg.Algorithm)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
