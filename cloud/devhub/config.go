package devhub

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Algorithms the development Hub signs tokens with. They are the only two the
// cloud accepts (DESIGN.md §3, Hub SSO).
const (
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultListenAddr    = "127.0.0.1:8090"
	DefaultPublicURL     = "http://localhost:8090"
	DefaultVisitorURL    = "http://localhost:8080"
	DefaultTokenLifetime = 2 * time.Minute
	// MaxTokenLifetime is the contract's ceiling on exp - iat.
	MaxTokenLifetime = 5 * time.Minute
	// DefaultKeyGrace keeps a retired key in the JWKS long enough for any
	// token it signed (≤ 5 min) plus the cloud's 60 s leeway.
	DefaultKeyGrace = 10 * time.Minute
)

// Config is the development Hub's configuration. The zero value plus
// WithDefaults is a working configuration on 127.0.0.1:8090.
type Config struct {
	// ListenAddr is where the command listens; the Hub itself does not
	// listen (the caller serves Handler()).
	ListenAddr string
	// PublicURL is the Hub's own base URL as browsers and the cloud see it.
	PublicURL string
	// Issuer is the iss claim of issued tokens; empty means PublicURL.
	Issuer string
	// VisitorURL is the Visitor cloud's public base URL: the SSO callback is
	// VisitorURL + "/auth/hub/callback", the Hub Bar calls VisitorURL + "/api/search".
	VisitorURL string
	// Algorithm is AlgEdDSA (default) or AlgRS256.
	Algorithm string
	// KeyRotation rotates the signing key this often; 0 never rotates.
	KeyRotation time.Duration
	// KeyGrace is how long a retired key stays in the JWKS.
	KeyGrace time.Duration
	// TokenLifetime is exp - iat of issued tokens; never more than 5 minutes.
	TokenLifetime time.Duration
	// HubIntegrationKey, when set, must be sent as X-Integration-Key on the
	// Hub API (/api/hub/*). It is the cloud's BUS_INTEGRATION_KEY.
	HubIntegrationKey string
	// BusSDKKey, when set, must be sent as "Authorization: Bearer" on Bus
	// posts. It is the cloud's BUS_SDK_KEY.
	BusSDKKey string
	// VisitorIntegrationKey is sent as X-Integration-Key when the Hub Bar
	// calls Visitor's search and when events are forwarded to subscribers.
	// It is the cloud's INTEGRATION_KEY.
	VisitorIntegrationKey string
	// FixturesPath is a JSON fixture file of orgs and users; empty uses the
	// built-in default (DefaultFixture).
	FixturesPath string
	// Subscribers are URLs every newly received Bus event is forwarded to.
	Subscribers []string
}

// ConfigError is a configuration value that failed validation. Field is the
// Config field's name so a command can name its own flag or variable.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// WithDefaults returns c with every empty field set to its default.
func (c Config) WithDefaults() Config {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.PublicURL == "" {
		c.PublicURL = DefaultPublicURL
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Issuer == "" {
		c.Issuer = c.PublicURL
	}
	if c.VisitorURL == "" {
		c.VisitorURL = DefaultVisitorURL
	}
	c.VisitorURL = strings.TrimRight(c.VisitorURL, "/")
	if c.Algorithm == "" {
		c.Algorithm = AlgEdDSA
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.KeyGrace == 0 {
		c.KeyGrace = DefaultKeyGrace
	}
	return c
}

// Validate reports the first invalid field as a *ConfigError. It expects
// defaults to have been applied.
func (c Config) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return &ConfigError{Field: "ListenAddr", Err: err}
	}
	if err := checkBaseURL(c.PublicURL); err != nil {
		return &ConfigError{Field: "PublicURL", Err: err}
	}
	if strings.TrimSpace(c.Issuer) == "" {
		return bad("Issuer", "must not be empty")
	}
	if err := checkBaseURL(c.VisitorURL); err != nil {
		return &ConfigError{Field: "VisitorURL", Err: err}
	}
	if c.Algorithm != AlgEdDSA && c.Algorithm != AlgRS256 {
		return bad("Algorithm", "unsupported algorithm %q (want %s or %s)", c.Algorithm, AlgEdDSA, AlgRS256)
	}
	if c.KeyRotation < 0 {
		return bad("KeyRotation", "must not be negative")
	}
	if c.KeyRotation > 0 && c.KeyRotation < time.Second {
		return bad("KeyRotation", "must be 0 (never) or at least 1s")
	}
	if c.TokenLifetime <= 0 || c.TokenLifetime > MaxTokenLifetime {
		return bad("TokenLifetime", "must be more than 0 and at most %s", MaxTokenLifetime)
	}
	if c.KeyGrace < c.TokenLifetime {
		return bad("KeyGrace", "must be at least the token lifetime (%s)", c.TokenLifetime)
	}
	for _, s := range c.Subscribers {
		if err := checkBaseURL(s); err != nil {
			return &ConfigError{Field: "Subscribers", Err: fmt.Errorf("%q: %w", s, err)}
		}
	}
	return nil
}

// checkBaseURL accepts an absolute http or https URL with a host.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http or https URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

// Options holds the Hub's optional dependencies. The zero value works.
type Options struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock for token times, key rotation and record times;
	// nil means time.Now.
	Now func() time.Time
	// Rand supplies randomness for jti, kid and keys; nil means crypto/rand.
	Rand io.Reader
	// HTTPClient makes the Hub Bar's search calls and subscriber
	// forwarding; nil means a client with a 5 s timeout.
	HTTPClient *http.Client
	// Fixture, when non-nil, replaces Config.FixturesPath and the default.
	Fixture *Fixture
	// ForwardAttempts bounds deliveries of one event to one subscriber
	// (default 3).
	ForwardAttempts int
	// ForwardBackoff is the first wait between forwarding attempts; it
	// doubles per attempt (default 200 ms). Tests shorten it.
	ForwardBackoff time.Duration
	// ForwardQueue bounds events waiting to be forwarded (default 1024);
	// when full, new forwards are dropped and counted.
	ForwardQueue int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.ForwardAttempts <= 0 {
		o.ForwardAttempts = 3
	}
	if o.ForwardBackoff <= 0 {
		o.ForwardBackoff = 200 * time.Millisecond
	}
	if o.ForwardQueue <= 0 {
		o.ForwardQueue = 1024
	}
	return o
}
