// Package config reads the cloud service's configuration from the
// environment and command-line flags (a flag wins over its variable, the
// variable over the default) and validates it. The variables and defaults
// are the ones DESIGN.md §3 pins; README.md lists them.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/theonestack/visitor/cloud/store"
)

// Config is the cloud service's configuration.
type Config struct {
	ListenAddr        string // LISTEN_ADDR
	PublicURL         string // PUBLIC_URL
	DatabaseURL       string // DATABASE_URL
	HubURL            string // HUB_URL
	HubIssuer         string // HUB_ISSUER, default HubURL
	BusURL            string // BUS_URL, default HubURL
	BusSDKKey         string // BUS_SDK_KEY (secret)
	BusIntegrationKey string // BUS_INTEGRATION_KEY (secret)
	IntegrationKey    string // INTEGRATION_KEY (secret)
	MetricsAddr       string // METRICS_ADDR: "" serves /metrics on ListenAddr
	LogFormat         string // LOG_FORMAT: text or json
	LogLevel          string // LOG_LEVEL: debug, info, warn, error
}

// Error is a configuration error naming the offending variable.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

type setting struct {
	env, flag, def, usage string
	dst                   *string
}

func (c *Config) settings() []setting {
	return []setting{
		{"LISTEN_ADDR", "listen-addr", "127.0.0.1:8080", "address to listen on", &c.ListenAddr},
		{"PUBLIC_URL", "public-url", "http://localhost:8080", "public base URL (SSO callback, pairing QR)", &c.PublicURL},
		{"DATABASE_URL", "database-url", "sqlite:./var/cloud.db", "sqlite:PATH or postgres://…", &c.DatabaseURL},
		{"HUB_URL", "hub-url", "http://localhost:8090", "Hub base URL", &c.HubURL},
		{"HUB_ISSUER", "hub-issuer", "", "expected iss of Hub tokens (default HUB_URL)", &c.HubIssuer},
		{"BUS_URL", "bus-url", "", "Bus base URL (default HUB_URL)", &c.BusURL},
		{"BUS_SDK_KEY", "bus-sdk-key", "", "Bus publishing key", &c.BusSDKKey},
		{"BUS_INTEGRATION_KEY", "bus-integration-key", "", "key for Hub APIs (billing, permission registry)", &c.BusIntegrationKey},
		{"INTEGRATION_KEY", "integration-key", "", "platform key for the integration and search endpoints", &c.IntegrationKey},
		{"METRICS_ADDR", "metrics-addr", "", "separate address for /metrics (default: the main listener)", &c.MetricsAddr},
		{"LOG_FORMAT", "log-format", "text", "text or json", &c.LogFormat},
		{"LOG_LEVEL", "log-level", "info", "debug, info, warn or error", &c.LogLevel},
	}
}

// Load reads the configuration from getenv and args, then validates it.
// Flag parse errors and invalid values are *Error (flag.ErrHelp is
// returned as is after printing usage to out).
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("visitor-cloud", flag.ContinueOnError)
	fs.SetOutput(out)
	settings := c.settings()
	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		fs.StringVar(s.dst, s.flag, v, s.usage+" ($"+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, &Error{Var: "flags", Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return c, &Error{Var: "flags", Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if c.HubIssuer == "" {
		c.HubIssuer = c.HubURL
	}
	if c.BusURL == "" {
		c.BusURL = c.HubURL
	}
	return c, c.Validate()
}

// Validate checks every value and returns the first problem as an *Error.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return &Error{"LISTEN_ADDR", fmt.Sprintf("%q is not host:port", c.ListenAddr)}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return &Error{"METRICS_ADDR", fmt.Sprintf("%q is not host:port", c.MetricsAddr)}
		}
	}
	for _, u := range []struct{ name, value string }{
		{"PUBLIC_URL", c.PublicURL}, {"HUB_URL", c.HubURL}, {"BUS_URL", c.BusURL},
	} {
		if err := checkBaseURL(u.value); err != nil {
			return &Error{u.name, err.Error()}
		}
	}
	if c.HubIssuer == "" {
		return &Error{"HUB_ISSUER", "must not be empty"}
	}
	if _, _, err := store.ParseURL(c.DatabaseURL); err != nil {
		return &Error{"DATABASE_URL", err.Error()}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return &Error{"LOG_FORMAT", fmt.Sprintf("%q is not text or json", c.LogFormat)}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &Error{"LOG_LEVEL", fmt.Sprintf("%q is not debug, info, warn or error", c.LogLevel)}
	}
	for _, k := range []struct{ name, value string }{
		{"BUS_SDK_KEY", c.BusSDKKey}, {"BUS_INTEGRATION_KEY", c.BusIntegrationKey}, {"INTEGRATION_KEY", c.IntegrationKey},
	} {
		if k.value != "" && len(k.value) < 16 {
			return &Error{k.name, "is too short to be a key (at least 16 characters)"}
		}
		if strings.ContainsAny(k.value, " \t\r\n") {
			return &Error{k.name, "must not contain white space"}
		}
	}
	return nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", s)
	}
	return nil
}

// SecureCookies reports whether cookies must be Secure (PUBLIC_URL is https).
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.PublicURL, "https://") }

// BaseURL returns a URL with any trailing slash removed, for joining paths.
func BaseURL(s string) string { return strings.TrimRight(s, "/") }
