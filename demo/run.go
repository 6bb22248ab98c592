package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Development keys shared by the demo's Hub and cloud, so that permission
// registration, Bus delivery and the Hub Bar search work out of the box.
// They protect nothing: both processes listen on loopback only.
const (
	demoBusSDKKey         = "demo-bus-sdk-key"
	demoBusIntegrationKey = "demo-bus-integration-key"
	demoIntegrationKey    = "demo-integration-key"
)

const (
	stateFile     = "demo.json" // written when ready, removed on stop
	lockFile      = "demo.lock" // one demo per data directory
	kioskName     = "Paris HQ lobby kiosk"
	startTimeout  = 60 * time.Second
	pairTimeout   = 60 * time.Second
	kioskLocation = "hq"
)

// state is the demo.json file: where everything is, for scripts and tests.
// It exists only while the demo is ready and running.
type state struct {
	ConsoleURL string         `json:"console_url"`
	HubURL     string         `json:"hub_url"`
	KioskAPI   string         `json:"kiosk_api,omitempty"` // headless kiosk only
	Kiosk      string         `json:"kiosk"`               // app or headless
	Paired     bool           `json:"paired"`
	LocationID string         `json:"location_id"`
	Tenant     string         `json:"tenant_id"`
	PIDs       map[string]int `json:"pids"`
}

// run is the visitor-demo command: it parses its configuration, starts
// the Hub, the cloud and a kiosk, seeds the demo organisation, prints how
// to use it and waits until ctx ends or a child fails; then it stops every
// child (SIGTERM, then SIGKILL after the stop timeout). The banner goes to
// stdout, progress to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	d := &demo{
		cfg: cfg, out: stdout, getenv: getenv, now: time.Now,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		hc:  &http.Client{Timeout: 10 * time.Second},
	}
	return d.run(ctx)
}

// demo is one run of the demo.
type demo struct {
	cfg    config
	out    io.Writer
	log    *slog.Logger
	getenv func(string) string
	now    func() time.Time
	hc     *http.Client // health checks and the kiosk's local API

	dataDir, binDir, logDir string
	children                []*child // in start order
}

func (d *demo) run(ctx context.Context) (err error) {
	if d.dataDir, err = filepath.Abs(d.cfg.DataDir); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if d.binDir, err = filepath.Abs(d.cfg.BinDir); err != nil {
		return fmt.Errorf("bin dir: %w", err)
	}
	d.logDir = filepath.Join(d.dataDir, "logs")
	if err := os.MkdirAll(d.logDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDir(filepath.Join(d.dataDir, lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	mode, err := d.kioskMode()
	if err != nil {
		return err
	}
	// Another process on one of the ports (say `make run`'s cloud) would
	// answer the readiness checks in place of the demo's own.
	for _, a := range []struct{ flag, addr string }{
		{"--hub-addr", d.cfg.HubAddr}, {"--cloud-addr", d.cfg.CloudAddr}, {"--kiosk-addr", d.cfg.KioskAddr},
	} {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			return fmt.Errorf("%s is in use (is `make run` or another demo running?); choose another with %s: %w", a.addr, a.flag, err)
		}
		ln.Close()
	}
	defer d.stopAll()

	hub, err := d.start("visitor-devhub",
		[]string{"--listen", d.cfg.HubAddr, "--public-url", d.cfg.hubURL(), "--visitor-url", d.cfg.cloudURL()},
		"BUS_SDK_KEY="+demoBusSDKKey, "BUS_INTEGRATION_KEY="+demoBusIntegrationKey, "INTEGRATION_KEY="+demoIntegrationKey)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, d.hc, hub, "http://"+d.cfg.HubAddr+"/.well-known/jwks.json", startTimeout); err != nil {
		return err
	}
	cloud, err := d.start("visitor-cloud",
		[]string{"serve", "--listen-addr", d.cfg.CloudAddr, "--public-url", d.cfg.cloudURL(),
			"--database-url", "sqlite:" + filepath.Join(d.dataDir, "cloud.db"), "--hub-url", d.cfg.hubURL()},
		"BUS_SDK_KEY="+demoBusSDKKey, "BUS_INTEGRATION_KEY="+demoBusIntegrationKey, "INTEGRATION_KEY="+demoIntegrationKey)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, d.hc, cloud, "http://"+d.cfg.CloudAddr+"/readyz", startTimeout); err != nil {
		return err
	}

	// Sign in as the demo admin and seed, through the real APIs. The
	// cloud is reached at its public URL, the one its cookies are for.
	api := &apiClient{base: d.cfg.cloudURL(), hc: newSessionClient()}
	if err := signIn(ctx, api.hc, d.cfg.cloudURL(), demoAdmin); err != nil {
		return err
	}
	seeded, err := seed(ctx, api, defaultData(), d.now())
	if err != nil {
		return err
	}
	d.log.Info("demo organisation ready", "tenant", demoTenant, "seeded", seeded.summary())
	loc := seeded.Locations[kioskLocation]

	// The kiosk engine always starts first: it pairs through its local API
	// (the app has none) and then hands its data directory to the app.
	kioskDir := filepath.Join(d.dataDir, "kiosk")
	edge, err := d.start("visitor-edge",
		[]string{"--data", kioskDir, "--cloud", d.cfg.cloudURL(), "--local-api", d.cfg.KioskAddr})
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, d.hc, edge, d.cfg.kioskURL()+"/v1/status", startTimeout); err != nil {
		return err
	}
	st, err := d.kioskStatus(ctx)
	if err != nil {
		return err
	}
	var code *pairingCode
	switch {
	case st.Paired:
		d.log.Info("kiosk already paired", "location_id", st.LocationID)
	case !d.cfg.PairManually:
		if err := d.pair(ctx, api, loc.ID); err != nil {
			return err
		}
	case mode == kioskHeadless:
		if code, err = d.startPairing(ctx); err != nil {
			return err
		}
	}
	paired := st.Paired || !d.cfg.PairManually
	if paired {
		if err := d.waitSynced(ctx, edge); err != nil {
			return err
		}
	}

	if mode == kioskApp {
		d.stopChild(edge)
		if _, err := d.start("visitor-kiosk", d.kioskArgs(kioskDir)); err != nil {
			return err
		}
	}

	s := state{ConsoleURL: d.cfg.cloudURL() + "/", HubURL: d.cfg.hubURL() + "/", Kiosk: mode,
		Paired: paired, LocationID: loc.ID, Tenant: demoTenant, PIDs: map[string]int{}}
	if mode == kioskHeadless {
		s.KioskAPI = d.cfg.kioskURL()
	}
	for _, c := range d.children {
		if !c.exited() {
			s.PIDs[c.name] = c.pid()
		}
	}
	statePath := filepath.Join(d.dataDir, stateFile)
	if err := writeState(statePath, s); err != nil {
		return err
	}
	defer os.Remove(statePath)

	users, err := d.hubUsers(ctx)
	if err != nil {
		d.log.Warn("could not list the development Hub's users", "err", err)
	}
	d.log.Info("demo ready", "console", s.ConsoleURL, "kiosk", mode, "paired", paired)
	d.banner(s, loc, seeded, users, code)

	if code != nil {
		go d.watchPairing(ctx, edge)
	}
	return d.wait(ctx)
}

// kioskMode resolves --kiosk auto and checks that the binaries exist.
func (d *demo) kioskMode() (string, error) {
	for _, b := range []string{"visitor-devhub", "visitor-cloud", "visitor-edge"} {
		if _, err := os.Stat(filepath.Join(d.binDir, b)); err != nil {
			return "", fmt.Errorf("%s is not built in %s (run `make demo`, or go build -o %s/ ./...): %w", b, d.binDir, d.binDir, err)
		}
	}
	kioskBin := filepath.Join(d.binDir, "visitor-kiosk")
	_, kerr := os.Stat(kioskBin)
	display := d.getenv("DISPLAY") != "" || d.getenv("WAYLAND_DISPLAY") != ""
	switch d.cfg.Kiosk {
	case kioskApp:
		if kerr != nil {
			return "", fmt.Errorf("the kiosk app is not built in %s: %w", d.binDir, kerr)
		}
		return kioskApp, nil
	case kioskAuto:
		if display && kerr == nil {
			return kioskApp, nil
		}
		return kioskHeadless, nil
	}
	return kioskHeadless, nil
}

func (d *demo) kioskArgs(dir string) []string {
	args := []string{"--data", dir, "--cloud", d.cfg.cloudURL()}
	if d.cfg.Fullscreen {
		args = append(args, "--fullscreen")
	}
	return args
}

// start starts a binary of the bin directory as a supervised child.
func (d *demo) start(name string, args []string, extraEnv ...string) (*child, error) {
	c, err := startChild(name, filepath.Join(d.binDir, name), args, childEnv(d.getenv, extraEnv...), d.logDir)
	if err != nil {
		return nil, err
	}
	d.children = append(d.children, c)
	d.log.Info("started", "process", name, "pid", c.pid(), "log", c.logPath)
	return c, nil
}

// stopChild stops one child and forgets it.
func (d *demo) stopChild(c *child) {
	if c.stop(d.cfg.StopTimeout) {
		d.log.Warn("did not stop in time; killed", "process", c.name, "timeout", d.cfg.StopTimeout)
	}
	for i, x := range d.children {
		if x == c {
			d.children = append(d.children[:i], d.children[i+1:]...)
			break
		}
	}
}

// stopAll stops the children in reverse start order: the kiosk first (it
// says goodbye to the cloud), then the cloud, then the Hub.
func (d *demo) stopAll() {
	for i := len(d.children) - 1; i >= 0; i-- {
		c := d.children[i]
		if c.stop(d.cfg.StopTimeout) {
			d.log.Warn("did not stop in time; killed", "process", c.name, "timeout", d.cfg.StopTimeout)
		} else {
			d.log.Info("stopped", "process", c.name)
		}
	}
	d.children = nil
}

// wait blocks until ctx ends (nil) or a child exits (an error naming it).
func (d *demo) wait(ctx context.Context) error {
	exited := make(chan *child, len(d.children))
	stop := make(chan struct{})
	defer close(stop)
	for _, c := range d.children {
		go func() {
			select {
			case <-c.done:
				exited <- c
			case <-stop:
			}
		}()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(d.out, "\nStopping the demo…")
		return nil
	case c := <-exited:
		return fmt.Errorf("%s %w (%v); its log %s ends:\n%s", c.name, errChildExited, c.err, c.logPath, c.logTail())
	}
}

// kioskStatus is the part of the kiosk's GET /v1/status the demo reads.
type kioskStatus struct {
	Paired     bool   `json:"paired"`
	Revoked    bool   `json:"revoked"`
	Online     bool   `json:"online"`
	LocationID string `json:"location_id"`
}

func (d *demo) kioskStatus(ctx context.Context) (kioskStatus, error) {
	var st kioskStatus
	err := call(ctx, d.hc, http.MethodGet, d.cfg.kioskURL()+"/v1/status", nil, &st)
	return st, err
}

// pairingCode is the kiosk's answer to POST /v1/pairing.
type pairingCode struct {
	UserCode string    `json:"user_code"`
	URI      string    `json:"verification_uri_complete"`
	Expires  time.Time `json:"expires_at"`
}

func (d *demo) startPairing(ctx context.Context) (*pairingCode, error) {
	var pc pairingCode
	if err := call(ctx, d.hc, http.MethodPost, d.cfg.kioskURL()+"/v1/pairing", nil, &pc); err != nil {
		return nil, fmt.Errorf("start pairing: %w", err)
	}
	return &pc, nil
}

// pair pairs the kiosk the way an admin does: the kiosk asks the cloud for
// a code, and the admin approves it for a location.
func (d *demo) pair(ctx context.Context, api *apiClient, locationID string) error {
	pc, err := d.startPairing(ctx)
	if err != nil {
		return err
	}
	body := map[string]string{"user_code": pc.UserCode, "location_id": locationID, "name": kioskName}
	if err := api.call(ctx, http.MethodPost, "/api/v1/displays/approve", body, nil); err != nil {
		return fmt.Errorf("approve the kiosk: %w", err)
	}
	d.log.Info("kiosk pairing approved; waiting for the kiosk's next poll")
	return nil
}

// waitSynced waits until the kiosk is paired, connected and has the host
// directory, so that a check-in right after "ready" syncs at once.
func (d *demo) waitSynced(ctx context.Context, edge *child) error {
	ctx, cancel := context.WithTimeout(ctx, pairTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := d.kioskStatus(ctx)
		if err == nil && st.Paired && st.Online {
			var hosts struct {
				Hosts []json.RawMessage `json:"hosts"`
			}
			if call(ctx, d.hc, http.MethodGet, d.cfg.kioskURL()+"/v1/hosts", nil, &hosts) == nil && len(hosts.Hosts) > 0 {
				return nil
			}
		}
		select {
		case <-edge.done:
			return fmt.Errorf("%s %w (%v); its log %s ends:\n%s", edge.name, errChildExited, edge.err, edge.logPath, edge.logTail())
		case <-ctx.Done():
			return fmt.Errorf("the kiosk was not paired and in sync within %s (last status %+v, err %v); see %s", pairTimeout, st, err, edge.logPath)
		case <-tick.C:
		}
	}
}

// watchPairing tells the terminal when a manually paired kiosk is paired.
func (d *demo) watchPairing(ctx context.Context, edge *child) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-edge.done:
			return
		case <-tick.C:
		}
		if st, err := d.kioskStatus(ctx); err == nil && st.Paired {
			fmt.Fprintf(d.out, "\nThe kiosk is paired (location %s). Try a check-in now (see above).\n", st.LocationID)
			return
		}
	}
}

// hubUser is a user of the development Hub's fixture.
type hubUser struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Role        string   `json:"role"`
	OrgID       string   `json:"org_id"`
	Permissions []string `json:"permissions"`
}

func (d *demo) hubUsers(ctx context.Context) ([]hubUser, error) {
	var f struct {
		Users []hubUser `json:"users"`
	}
	err := call(ctx, d.hc, http.MethodGet, "http://"+d.cfg.HubAddr+"/api/devhub/users", nil, &f)
	return f.Users, err
}

func writeState(path string, s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// lockDir takes an exclusive lock on path, so two demos never share one
// data directory (one SQLite database, one kiosk identity).
func lockDir(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another demo is running on %s (stop it first)", filepath.Dir(path))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
