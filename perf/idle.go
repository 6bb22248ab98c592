package perf

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

// ChildEnv, when set to "cloud" in a process's environment, makes
// RunChild serve as the visitor-cloud command does.
const ChildEnv = "VISITOR_BENCH_CHILD"

// RunChild runs the cloud service when this process was started as a
// benchmark child (ChildEnv=cloud) and reports whether it did; the caller
// then exits with the returned code. The idle-connection figure runs the
// cloud this way in a process of its own, so its memory is the cloud's
// alone. visitor-bench's main and the perf tests call it first thing.
func RunChild(ctx context.Context) (ran bool, code int) {
	if os.Getenv(ChildEnv) != "cloud" {
		return false, 0
	}
	if err := cloud.Run(ctx, nil, os.Getenv, os.Stderr); err != nil {
		if c := cloud.ExitCode(err); c != 0 {
			fmt.Fprintln(os.Stderr, "bench cloud:", err)
			return true, c
		}
	}
	return true, 0
}

// raiseFileLimit lifts the soft open-file limit to the hard one (children
// inherit it) and returns the new soft limit.
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, err
		}
	}
	return rl.Cur, nil
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// IdleConnections measures the memory one cloud process spends per idle,
// authenticated kiosk connection: the cloud runs as a child process (this
// executable re-run with ChildEnv=cloud, the same code as visitor-cloud)
// on a SQLite database with size.IdleConns provisioned devices; this
// process opens one real WebSocket per device, completes the signed
// handshake and then only answers heartbeats. The child's VmRSS is read
// before and after: idle_kiosk_conn_kib = growth ÷ connections, and
// cloud_rss_mib is its RSS under that load.
func IdleConnections(ctx context.Context, dir string, size Size) ([]Result, error) {
	n := size.IdleConns
	limit, err := raiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("raise open-file limit: %w", err)
	}
	if need := uint64(n + 200); limit < need {
		return nil, fmt.Errorf("open-file limit %d is below the %d this needs (ulimit -n)", limit, need)
	}
	dbPath := filepath.Join(dir, "idle.db")
	db, err := store.Open(ctx, "sqlite:"+dbPath, store.Options{})
	if err != nil {
		return nil, err
	}
	site, err := newSite(ctx, db, "org_bench_idle")
	if err != nil {
		db.Close()
		return nil, err
	}
	type device struct {
		id   string
		priv ed25519.PrivateKey
	}
	devices := []device{{site.deviceID, site.priv}}
	actor := store.Actor{Type: store.ActorSystem, ID: "bench"}
	for i := 1; i < n; i++ {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			db.Close()
			return nil, err
		}
		d, err := db.ProvisionDevice(ctx, site.tenantID, site.locationID, fmt.Sprintf("Idle kiosk %d", i), pub, actor)
		if err != nil {
			db.Close()
			return nil, err
		}
		devices = append(devices, device{d.ID, priv})
	}
	db.Close()

	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ChildEnv+"=cloud", "LISTEN_ADDR="+addr, "DATABASE_URL=sqlite:"+dbPath,
		"HUB_URL=http://127.0.0.1:9", "LOG_LEVEL=error")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := waitReady("http://"+addr+"/readyz", 30*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // let start-up work settle
	before, err := vmRSS(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		conns    []*syncproto.Conn
		firstErr error
		wg       sync.WaitGroup
	)
	defer func() {
		cancel()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	next := make(chan device)
	var dialWG sync.WaitGroup
	for range 32 {
		dialWG.Go(func() {
			for d := range next {
				c, err := idleClient(cctx, addr, d.id, d.priv)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
				if err == nil {
					wg.Go(func() { drainFrames(cctx, c) })
				}
			}
		})
	}
	for _, d := range devices {
		next <- d
	}
	close(next)
	dialWG.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("connect %d kiosks: %w", n, firstErr)
	}
	// rssAfter waits, checks that every connection is still open and
	// reads the cloud's RSS.
	rssAfter := func(wait time.Duration, when string) (float64, error) {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		mu.Lock()
		alive := 0
		for _, c := range conns {
			select {
			case <-c.Done():
			default:
				alive++
			}
		}
		mu.Unlock()
		if alive != n {
			return 0, fmt.Errorf("%d of %d idle connections still open %s", alive, n, when)
		}
		return vmRSS(cmd.Process.Pid)
	}
	// Just after the connects the heap still holds what the handshakes and
	// first snapshots left behind; after the idle window it is what an idle
	// connection costs. Both are reported; the idle one is the target's.
	connected, err := rssAfter(3*time.Second, "after settling")
	if err != nil {
		return nil, err
	}
	idle := connected
	if size.IdleWindow > 0 {
		if idle, err = rssAfter(size.IdleWindow, "after the idle window"); err != nil {
			return nil, err
		}
	}
	return []Result{
		{"idle_kiosk_conn_kib", max(idle-before, 0) / float64(n), "KiB"},
		{"idle_kiosk_conn_kib_after_connect", max(connected-before, 0) / float64(n), "KiB"},
		{"cloud_rss_mib", idle / 1024, "MiB"},
		{"idle_kiosk_conns", float64(n), "connections"},
	}, nil
}

func waitReady(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer 200 within %s", url, within)
}

// idleClient connects one kiosk and completes the signed handshake.
func idleClient(ctx context.Context, addr, deviceID string, priv ed25519.PrivateKey) (*syncproto.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	ws, resp, err := d.DialContext(ctx, "ws://"+addr+"/api/sync", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	t := syncproto.NewWebSocketTransport(ws, syncproto.DefaultMaxFrame)
	w, _, err := syncproto.ClientHandshake(ctx, t, syncproto.HelloParams{
		DeviceID: deviceID, BootID: deviceID, Mono: syncproto.MonoClock(time.Now()), AppVersion: "bench",
	}, func(nonce []byte) ([]byte, error) { return pairing.SignChallenge(priv, deviceID, nonce), nil })
	if err != nil {
		t.Close()
		return nil, err
	}
	return syncproto.NewConn(t, syncproto.Options{HeartbeatInterval: w.Heartbeat()}), nil
}

// drainFrames reads what the cloud sends (the first snapshot) and acks
// changes, as an idle kiosk does.
func drainFrames(ctx context.Context, c *syncproto.Conn) {
	for {
		f, err := c.Recv(ctx)
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *syncproto.Changes:
			if !f.More {
				c.Send(ctx, &syncproto.ChangesAck{Cursor: f.Cursor})
			}
		case *syncproto.SnapshotEnd:
			c.Send(ctx, &syncproto.ChangesAck{Cursor: f.Cursor})
		}
	}
}
