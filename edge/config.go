package edge

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
)

// Config is the engine's configuration: flags, else environment, else
// defaults (DESIGN.md §3, visitor-edge command line).
type Config struct {
	DataDir      string // --data, VISITOR_EDGE_DATA
	CloudURL     string // --cloud, VISITOR_CLOUD_URL
	LocalAPIAddr string // --local-api, VISITOR_LOCAL_API
}

// Defaults of Config.
const (
	DefaultDataDir      = "./var/edge"
	DefaultCloudURL     = "http://localhost:8080"
	DefaultLocalAPIAddr = "127.0.0.1:7071"
)

// ParseConfig reads args (without the program name) and getenv into a
// validated Config. A bad value is an error wrapping ErrUsage that names the
// variable and the flag.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	envOr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var c Config
	fs := flag.NewFlagSet("visitor-edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DataDir, "data", envOr("VISITOR_EDGE_DATA", DefaultDataDir), "data directory (VISITOR_EDGE_DATA)")
	fs.StringVar(&c.CloudURL, "cloud", envOr("VISITOR_CLOUD_URL", DefaultCloudURL), "cloud base URL (VISITOR_CLOUD_URL)")
	fs.StringVar(&c.LocalAPIAddr, "local-api", envOr("VISITOR_LOCAL_API", DefaultLocalAPIAddr), "local API listen address (VISITOR_LOCAL_API)")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return c, c.Validate()
}

// Validate checks every field; the error names the variable at fault.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: VISITOR_EDGE_DATA (--data) must not be empty", ErrUsage)
	}
	u, err := url.Parse(c.CloudURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: VISITOR_CLOUD_URL (--cloud) %q is not an http(s) URL", ErrUsage, c.CloudURL)
	}
	host, port, err := net.SplitHostPort(c.LocalAPIAddr)
	if err == nil {
		var p int
		if p, err = strconv.Atoi(port); err == nil && (p < 0 || p > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err == nil && host != "" && host != "localhost" && net.ParseIP(host) == nil {
		err = errors.New("host must be an IP address or localhost")
	}
	if err != nil {
		return fmt.Errorf("%w: VISITOR_LOCAL_API (--local-api) %q: %w", ErrUsage, c.LocalAPIAddr, err)
	}
	return nil
}
