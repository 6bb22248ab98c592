package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shim stands in for the system commands the maintainer scripts call. It
// logs every call and keeps users and groups as files, so a test can run
// the scripts as dpkg would, any number of times, without root.
const shim = `#!/bin/sh
name=$(basename "$0")
echo "$name $*" >>"$SHIM_DIR/log"
case $name in
getent)
	[ -e "$SHIM_DIR/$1/$2" ]; exit $? ;;
adduser)
	if [ "$1" = --system ]; then
		eval "user=\${$#}"
		[ -e "$SHIM_DIR/passwd/$user" ] && { echo "adduser: $user exists" >&2; exit 0; }
		touch "$SHIM_DIR/passwd/$user" "$SHIM_DIR/group/$user"
	fi ;;
deluser)
	eval "user=\${$#}"; rm -f "$SHIM_DIR/passwd/$user" ;;
delgroup)
	eval "group=\${$#}"; rm -f "$SHIM_DIR/group/$group" ;;
esac
exit 0
`

// scriptEnv is a fake machine for maintainer scripts: DPKG_ROOT (where
// the state directory lives) and the shims.
type scriptEnv struct {
	t    *testing.T
	root string // DPKG_ROOT
	shim string // SHIM_DIR: log, passwd/, group/
	bin  string
}

func newScriptEnv(t *testing.T, systemdRunning bool, groups ...string) *scriptEnv {
	t.Helper()
	e := &scriptEnv{t: t, root: t.TempDir(), shim: t.TempDir(), bin: t.TempDir()}
	for _, d := range []string{"passwd", "group"} {
		if err := os.Mkdir(filepath.Join(e.shim, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range groups {
		if err := os.WriteFile(filepath.Join(e.shim, "group", g), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if systemdRunning {
		if err := os.MkdirAll(filepath.Join(e.root, "run/systemd/system"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(e.bin, "shim"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"adduser", "deluser", "delgroup", "getent", "chown", "systemctl", "deb-systemd-helper", "deb-systemd-invoke"} {
		if err := os.Symlink("shim", filepath.Join(e.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// run runs script with args and returns the commands it called; it fails
// the test when the exit status is not wantExit.
func (e *scriptEnv) run(script string, wantExit int, args ...string) []string {
	e.t.Helper()
	os.Remove(filepath.Join(e.shim, "log"))
	cmd := exec.Command("sh", append([]string{script}, args...)...)
	cmd.Env = []string{"PATH=" + e.bin + ":/usr/sbin:/usr/bin:/sbin:/bin", "DPKG_ROOT=" + e.root, "SHIM_DIR=" + e.shim}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("%s %v: %v", script, args, err)
		}
		code = ee.ExitCode()
	}
	if code != wantExit {
		e.t.Fatalf("%s %v: exit %d, want %d\n%s", script, args, code, wantExit, out)
	}
	log, _ := os.ReadFile(filepath.Join(e.shim, "log"))
	return strings.Split(strings.TrimSpace(string(log)), "\n")
}

func (e *scriptEnv) exists(path string) bool {
	_, err := os.Stat(filepath.Join(e.root, path))
	return err == nil
}

func (e *scriptEnv) hasUser(name string) bool {
	_, err := os.Stat(filepath.Join(e.shim, "passwd", name))
	return err == nil
}

// called reports whether one of calls starts with prefix.
func called(calls []string, prefix string) bool {
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// TestMaintainerScripts runs each package's postinst, prerm and postrm
// through the life of a package — install, reinstall, upgrade, remove,
// purge, purge again — and checks what they do at each step: the user is
// created once, the unit is enabled only on first install, the service is
// stopped only on removal, and the data is deleted only on purge.
func TestMaintainerScripts(t *testing.T) {
	pkgs := []struct {
		dir, user, state string
		enabled          string   // enabled on first install
		stopped          []string // stopped on removal
	}{
		{"cloud", "visitor", "var/lib/visitor-cloud", "visitor-cloud.service", []string{"visitor-cloud.service"}},
		{"kiosk", "kiosk", "var/lib/visitor-kiosk", "visitor-kiosk.service", []string{"visitor-kiosk.service", "visitor-edge.service"}},
	}
	for _, p := range pkgs {
		t.Run(p.dir, func(t *testing.T) {
			postinst, prerm, postrm := p.dir+"/postinst", p.dir+"/prerm", p.dir+"/postrm"
			for _, s := range []string{postinst, prerm, postrm} {
				if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
					t.Fatalf("sh -n %s: %v\n%s", s, err, out)
				}
				if !strings.HasPrefix(readFile(t, s), "#!/bin/sh\n") || !strings.Contains(readFile(t, s), "\nset -e\n") {
					t.Errorf("%s: want #!/bin/sh and set -e", s)
				}
				// Git keeps only the executable bit; the checkout's umask
				// decides the rest. (nfpm packages them 0755.)
				if fi, err := os.Stat(s); err != nil || fi.Mode().Perm()&0o111 != 0o111 {
					t.Errorf("%s: mode %v, want executable", s, fi.Mode())
				}
			}

			e := newScriptEnv(t, true, "video", "input")

			// First install.
			calls := e.run(postinst, 0, "configure", "")
			if !called(calls, "adduser --system --group --quiet --home /"+p.state) || !e.hasUser(p.user) {
				t.Errorf("first install did not create the %s user: %v", p.user, calls)
			}
			if !called(calls, "systemctl --system daemon-reload") || !called(calls, "deb-systemd-helper enable "+p.enabled) {
				t.Errorf("first install: want daemon-reload and enable %s: %v", p.enabled, calls)
			}
			if called(calls, "systemctl try-restart") || called(calls, "systemctl start") {
				t.Errorf("first install must not start anything: %v", calls)
			}
			if fi, err := os.Stat(filepath.Join(e.root, p.state)); err != nil || fi.Mode().Perm() != 0o750 {
				t.Errorf("state directory: %v, %v; want mode 0750", fi, err)
			}
			if p.user == "kiosk" {
				for _, g := range []string{"video", "input"} {
					if !called(calls, "adduser --quiet kiosk "+g) {
						t.Errorf("kiosk not added to %s: %v", g, calls)
					}
				}
				if called(calls, "adduser --quiet kiosk render") {
					t.Errorf("kiosk added to a group that does not exist: %v", calls)
				}
			}

			// The same configure again (dpkg --configure after a failure):
			// nothing is created twice.
			calls = e.run(postinst, 0, "configure", "")
			if called(calls, "adduser --system") {
				t.Errorf("second run created the user again: %v", calls)
			}

			// Upgrade: keeps running, then restarts on the new binary;
			// enablement is the administrator's.
			if calls = e.run(prerm, 0, "upgrade", "2.0"); called(calls, "deb-systemd-invoke stop") || called(calls, "systemctl stop") {
				t.Errorf("prerm upgrade stopped the service: %v", calls)
			}
			calls = e.run(postinst, 0, "configure", "1.0")
			if called(calls, "deb-systemd-helper enable") || called(calls, "adduser --system") {
				t.Errorf("upgrade re-enabled or re-created: %v", calls)
			}
			if !called(calls, "systemctl try-restart "+p.stopped[0]) {
				t.Errorf("upgrade did not restart %s: %v", p.stopped[0], calls)
			}

			// Remove: stops, keeps user and data.
			calls = e.run(prerm, 0, "remove")
			if !called(calls, "deb-systemd-invoke stop "+strings.Join(p.stopped, " ")) {
				t.Errorf("prerm remove: want stop %v: %v", p.stopped, calls)
			}
			e.run(postrm, 0, "remove")
			if !e.exists(p.state) || !e.hasUser(p.user) {
				t.Errorf("remove deleted the data or the user (state %v, user %v)", e.exists(p.state), e.hasUser(p.user))
			}

			// Purge: deletes both; a second purge is harmless.
			calls = e.run(postrm, 0, "purge")
			if e.exists(p.state) || e.hasUser(p.user) {
				t.Errorf("purge kept the data or the user (state %v, user %v): %v", e.exists(p.state), e.hasUser(p.user), calls)
			}
			if calls = e.run(postrm, 0, "purge"); called(calls, "deluser") {
				t.Errorf("second purge called deluser for a user that is gone: %v", calls)
			}

			// Unknown arguments are refused, as Debian policy asks.
			e.run(postinst, 1, "bogus")
			e.run(prerm, 1, "bogus")
			e.run(postrm, 1, "bogus")
		})

		t.Run(p.dir+"/without systemd", func(t *testing.T) {
			// A chroot or image build: no running systemd, so nothing may
			// talk to it; enabling still works (deb-systemd-helper writes
			// the symlinks itself).
			e := newScriptEnv(t, false)
			calls := e.run(p.dir+"/postinst", 0, "configure", "")
			if called(calls, "systemctl") {
				t.Errorf("called systemctl without a running systemd: %v", calls)
			}
			if !called(calls, "deb-systemd-helper enable "+p.enabled) {
				t.Errorf("not enabled: %v", calls)
			}
			if calls = e.run(p.dir+"/prerm", 0, "remove"); called(calls, "deb-systemd-invoke") || called(calls, "systemctl") {
				t.Errorf("stopped a service without a running systemd: %v", calls)
			}
		})
	}
}
