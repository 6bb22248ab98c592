package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// errUsage marks a bad flag or environment value (exit status 2).
var errUsage = errors.New("usage")

// Kiosk modes.
const (
	kioskAuto     = "auto"     // the app when a display and its binary are there
	kioskApp      = "app"      // the Fyne kiosk app (visitor-kiosk)
	kioskHeadless = "headless" // the kiosk engine with its local API (visitor-edge)
)

// config is the demo's configuration.
type config struct {
	DataDir      string        // the demo's state: cloud database, kiosk data, logs
	BinDir       string        // where visitor-devhub, -cloud, -edge (and -kiosk) are
	HubAddr      string        // development Hub listen address
	CloudAddr    string        // cloud listen address
	KioskAddr    string        // kiosk engine's local API address
	PublicHost   string        // host name in the printed and configured URLs
	Kiosk        string        // kioskAuto, kioskApp or kioskHeadless
	PairManually bool          // leave the kiosk unpaired, showing its code and QR
	Fullscreen   bool          // run the kiosk app full screen
	StopTimeout  time.Duration // SIGTERM to SIGKILL
}

func (c config) hubURL() string   { return c.url(c.HubAddr) }
func (c config) cloudURL() string { return c.url(c.CloudAddr) }
func (c config) kioskURL() string { return "http://" + c.KioskAddr }

func (c config) url(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "http://" + net.JoinHostPort(c.PublicHost, port)
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("visitor-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DataDir, "data", env("DEMO_DATA", "./var/demo"), "the demo's data directory ($DEMO_DATA)")
	fs.StringVar(&c.BinDir, "bin", env("DEMO_BIN", "./bin"), "directory of the built binaries ($DEMO_BIN)")
	fs.StringVar(&c.HubAddr, "hub-addr", env("DEMO_HUB_ADDR", "127.0.0.1:8090"), "development Hub listen address ($DEMO_HUB_ADDR)")
	fs.StringVar(&c.CloudAddr, "cloud-addr", env("DEMO_CLOUD_ADDR", "127.0.0.1:8080"), "cloud listen address ($DEMO_CLOUD_ADDR)")
	fs.StringVar(&c.KioskAddr, "kiosk-addr", env("DEMO_KIOSK_ADDR", "127.0.0.1:7071"), "kiosk engine local API address ($DEMO_KIOSK_ADDR)")
	fs.StringVar(&c.PublicHost, "public-host", env("DEMO_PUBLIC_HOST", "localhost"), "host name of the URLs a browser opens ($DEMO_PUBLIC_HOST)")
	fs.StringVar(&c.Kiosk, "kiosk", env("DEMO_KIOSK", kioskAuto), "kiosk: auto, app (Fyne) or headless (visitor-edge) ($DEMO_KIOSK)")
	fs.BoolVar(&c.Fullscreen, "fullscreen", false, "run the kiosk app full screen")
	pairDef, err := envBool(getenv, "DEMO_PAIR_MANUALLY")
	if err != nil {
		return config{}, err
	}
	fs.BoolVar(&c.PairManually, "pair-manually", pairDef, "leave the kiosk unpaired: it shows its pairing code and QR ($DEMO_PAIR_MANUALLY)")
	stop := fs.String("stop-timeout", env("DEMO_STOP_TIMEOUT", "10s"), "how long children get after SIGTERM before SIGKILL ($DEMO_STOP_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return config{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	d, err := time.ParseDuration(*stop)
	if err != nil || d <= 0 || d > 5*time.Minute {
		return config{}, fmt.Errorf("%w: DEMO_STOP_TIMEOUT (--stop-timeout) %q must be a duration up to 5m", errUsage, *stop)
	}
	c.StopTimeout = d
	return c, c.validate()
}

func envBool(getenv func(string) string, key string) (bool, error) {
	v := getenv(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s %q is not a boolean", errUsage, key, v)
	}
	return b, nil
}

func (c config) validate() error {
	for _, a := range []struct{ name, addr string }{
		{"DEMO_HUB_ADDR (--hub-addr)", c.HubAddr},
		{"DEMO_CLOUD_ADDR (--cloud-addr)", c.CloudAddr},
		{"DEMO_KIOSK_ADDR (--kiosk-addr)", c.KioskAddr},
	} {
		if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" || port == "0" {
			return fmt.Errorf("%w: %s %q must be host:port with a fixed port", errUsage, a.name, a.addr)
		}
	}
	if c.HubAddr == c.CloudAddr || c.HubAddr == c.KioskAddr || c.CloudAddr == c.KioskAddr {
		return fmt.Errorf("%w: the Hub, cloud and kiosk addresses must differ", errUsage)
	}
	switch c.Kiosk {
	case kioskAuto, kioskApp, kioskHeadless:
	default:
		return fmt.Errorf("%w: DEMO_KIOSK (--kiosk) %q must be auto, app or headless", errUsage, c.Kiosk)
	}
	if c.DataDir == "" || c.BinDir == "" || c.PublicHost == "" {
		return fmt.Errorf("%w: --data, --bin and --public-host must not be empty", errUsage)
	}
	return nil
}
