package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// passEnv are the variables a child inherits: enough to find libraries,
// a display and a locale, and nothing that would reconfigure it (a
// DATABASE_URL in the caller's shell must not move the demo's data).
var passEnv = []string{
	"PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR",
	"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR", "XDG_SESSION_TYPE",
	"DBUS_SESSION_BUS_ADDRESS", "FYNE_SCALE", "FYNE_THEME",
}

func childEnv(getenv func(string) string, extra ...string) []string {
	var env []string
	for _, k := range passEnv {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// child is one supervised process. Its output goes to a log file; it has
// its own process group, so a Ctrl-C in the terminal reaches only the demo,
// which then stops the children in order; and it gets SIGTERM if the demo
// itself dies.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // exit error, valid after done
}

func startChild(name, bin string, args, env []string, logDir string) (*child, error) {
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	return c, nil
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to timeout, then sends SIGKILL and waits
// for the process to be reaped. It reports whether SIGKILL was needed.
func (c *child) stop(timeout time.Duration) (killed bool) {
	if c.exited() {
		return false
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return false
	case <-t.C:
	}
	// The child leads its own process group: kill anything it started too.
	if err := syscall.Kill(-c.pid(), syscall.SIGKILL); err != nil {
		_ = c.cmd.Process.Kill()
	}
	<-c.done
	return true
}

// logTail returns the last lines of the child's log, for error messages.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// errChildExited is returned when a child ends while the demo waits for it.
var errChildExited = errors.New("exited")

// waitHTTP polls url until it answers 200, the child exits, ctx ends or
// within passes.
func waitHTTP(ctx context.Context, hc *http.Client, c *child, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s %w (%v); its log %s ends:\n%s", c.name, errChildExited, c.err, c.logPath, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s within %s: %w; its log is %s", c.name, url, within, ctx.Err(), c.logPath)
		case <-tick.C:
		}
	}
}
