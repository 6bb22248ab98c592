package packaging

import (
	"bytes"
	"context"
	"debug/elf"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/theonestack/visitor/internal/testenv"
)

// testVersion is the package version the test builds with.
const testVersion = "1.2.3~test"

// debFile is one entry of `dpkg-deb -c`.
type debFile struct {
	mode  os.FileMode // permission bits
	owner string      // user/group
	dir   bool
}

// debContents lists a package's files by absolute path.
func debContents(t *testing.T, deb string) map[string]debFile {
	t.Helper()
	out := run(t, "", nil, "dpkg-deb", "-c", deb)
	files := map[string]debFile{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: bad line %q", line)
		}
		files[strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")] = debFile{mode: permBits(t, f[0]), owner: f[1], dir: f[0][0] == 'd'}
	}
	return files
}

// permBits turns "-rwxr-xr-x" into 0755.
func permBits(t *testing.T, s string) os.FileMode {
	t.Helper()
	if len(s) != 10 {
		t.Fatalf("bad permission string %q", s)
	}
	var m os.FileMode
	for i, c := range s[1:] {
		if c != '-' {
			m |= 1 << (8 - i)
		}
	}
	return m
}

// debField is a control field, e.g. Depends, as a list of package names
// (version constraints dropped).
func debField(t *testing.T, deb, field string) []string {
	t.Helper()
	var names []string
	for _, dep := range strings.Split(strings.TrimSpace(run(t, "", nil, "dpkg-deb", "-f", deb, field)), ",") {
		if name, _, _ := strings.Cut(strings.TrimSpace(dep), " "); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// run runs a command and returns its standard output; it fails the test
// on error.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestPackages runs `make package` into a temporary directory and checks
// the .deb files with dpkg-deb: files, owners and modes, conffiles,
// maintainer scripts, dependencies. Then it unpacks visitor-cloud into a
// temporary root and runs its binary with the packaged environment file
// until /healthz and /readyz answer.
//
// The kiosk app's main package may not exist yet; then a stand-in binary
// is packaged so the rest of the kiosk package is still checked.
func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the packages (-short)")
	}
	for _, tool := range []struct{ cmd, hint string }{
		{"dpkg-deb", "apt-get install dpkg"},
		{"make", "apt-get install make"},
	} {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			testenv.Need(t, tool.cmd, tool.hint)
		}
	}
	root := repoRoot(t)
	dist := t.TempDir()

	env := append(os.Environ(), "KIOSK_BIN=")
	realKiosk := true
	if _, err := os.Stat(filepath.Join(root, "kiosk-ui/cmd/visitor-kiosk")); err != nil {
		realKiosk = false
		stub := filepath.Join(t.TempDir(), "visitor-kiosk")
		if err := os.WriteFile(stub, []byte("#!/bin/sh\necho stand-in for visitor-kiosk\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		env = append(env, "KIOSK_BIN="+stub)
		t.Log("*** kiosk-ui/cmd/visitor-kiosk does not exist yet: the kiosk package holds a STAND-IN visitor-kiosk; its library dependencies are NOT checked ***")
	}
	// No -trimpath: the test reuses the build cache of ordinary builds.
	run(t, root, env, "make", "--no-print-directory", "-s", "package",
		"DIST="+dist, "PKG_VERSION="+testVersion, "PKG_BUILDFLAGS=")

	cloudDeb := filepath.Join(dist, "visitor-cloud_"+testVersion+"_amd64.deb")
	kioskDeb := filepath.Join(dist, "visitor-kiosk_"+testVersion+"_amd64.deb")

	type file struct {
		path  string
		mode  os.FileMode
		isDoc bool
	}
	pkgs := []struct {
		deb, name  string
		files      []file
		conffiles  []string
		depends    []string
		recommends []string
		forbidden  []string
	}{
		{
			deb: cloudDeb, name: "visitor-cloud",
			files: []file{
				{"/usr/bin/visitor-cloud", 0o755, false},
				{"/usr/lib/systemd/system/visitor-cloud.service", 0o644, false},
				{"/etc/default/visitor-cloud", 0o600, false},
				{"/usr/share/doc/visitor-cloud/deploy.md", 0o644, true},
			},
			conffiles: []string{"/etc/default/visitor-cloud"},
			depends:   []string{"adduser", "ca-certificates"},
			forbidden: []string{"/usr/bin/visitor-devhub"}, // development only
		},
		{
			deb: kioskDeb, name: "visitor-kiosk",
			files: []file{
				{"/usr/bin/visitor-kiosk", 0o755, false},
				{"/usr/bin/visitor-edge", 0o755, false},
				{"/usr/lib/systemd/system/visitor-kiosk.service", 0o644, false},
				{"/usr/lib/systemd/system/visitor-edge.service", 0o644, false},
				{"/etc/default/visitor-kiosk", 0o644, false},
				{"/usr/share/doc/visitor-kiosk/deploy.md", 0o644, true},
			},
			conffiles:  []string{"/etc/default/visitor-kiosk"},
			depends:    []string{"adduser", "cage", "libgl1", "libxkbcommon0", "libpam-systemd"},
			recommends: []string{"cups-client", "printer-driver-ptouch"},
			forbidden:  []string{"/usr/bin/visitor-cloud", "/usr/bin/visitor-devhub"},
		},
	}
	for _, p := range pkgs {
		t.Run(p.name, func(t *testing.T) {
			if _, err := os.Stat(p.deb); err != nil {
				t.Fatalf("make package did not make %s: %v (made: %v)", filepath.Base(p.deb), err, ls(dist))
			}
			info := run(t, "", nil, "dpkg-deb", "-I", p.deb)
			for _, want := range []string{"Package: " + p.name, "Version: " + testVersion, "Architecture: amd64"} {
				if !strings.Contains(info, want) {
					t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
				}
			}

			contents := debContents(t, p.deb)
			for _, f := range p.files {
				got, ok := contents[f.path]
				switch {
				case !ok:
					t.Errorf("%s missing", f.path)
				case got.mode != f.mode || got.owner != "root/root":
					t.Errorf("%s: %v %s, want %v root/root", f.path, got.mode, got.owner, f.mode)
				}
			}
			for path, f := range contents {
				if !f.dir && !slices.ContainsFunc(p.files, func(w file) bool { return w.path == path }) {
					t.Errorf("unexpected file %s", path)
				}
				if f.dir && f.mode != 0o755 {
					t.Errorf("directory %s has mode %v", path, f.mode)
				}
			}
			for _, path := range p.forbidden {
				if _, ok := contents[path]; ok {
					t.Errorf("%s must not be in %s", path, p.name)
				}
			}

			control := t.TempDir()
			run(t, "", nil, "dpkg-deb", "-e", p.deb, control)
			if got := strings.Fields(readFile(t, filepath.Join(control, "conffiles"))); !slices.Equal(got, p.conffiles) {
				t.Errorf("conffiles = %v, want %v", got, p.conffiles)
			}
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				path := filepath.Join(control, s)
				fi, err := os.Stat(path)
				if err != nil {
					t.Errorf("maintainer script %s missing", s)
					continue
				}
				if fi.Mode().Perm() != 0o755 {
					t.Errorf("%s has mode %v", s, fi.Mode().Perm())
				}
				if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
					t.Errorf("sh -n %s: %v\n%s", s, err, out)
				}
				if want := readFile(t, filepath.Join(p.name[len("visitor-"):], s)); readFile(t, path) != want {
					t.Errorf("packaged %s differs from the source", s)
				}
			}

			depends, recommends := debField(t, p.deb, "Depends"), debField(t, p.deb, "Recommends")
			for _, d := range p.depends {
				if !slices.Contains(depends, d) {
					t.Errorf("Depends %v lacks %s", depends, d)
				}
			}
			for _, r := range p.recommends {
				if !slices.Contains(recommends, r) {
					t.Errorf("Recommends %v lacks %s", recommends, r)
				}
			}
			checkKnownToApt(t, append(append(depends, recommends...), debField(t, p.deb, "Suggests")...))
		})
	}

	t.Run("visitor-kiosk libraries", func(t *testing.T) {
		if !realKiosk {
			t.Skip("*** NOT RUN: no kiosk app yet (kiosk-ui/cmd/visitor-kiosk) ***")
		}
		x := t.TempDir()
		run(t, "", nil, "dpkg-deb", "-x", kioskDeb, x)
		checkLibrariesDepended(t, filepath.Join(x, "usr/bin/visitor-kiosk"), debField(t, kioskDeb, "Depends"))
	})

	t.Run("visitor-cloud runs from the package", func(t *testing.T) {
		x := t.TempDir()
		run(t, "", nil, "dpkg-deb", "-x", cloudDeb, x)
		runPackagedCloud(t, x)
	})
}

func ls(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkKnownToApt checks that apt knows every named package (Debian 12's
// real names); skipped when apt has no package lists.
func checkKnownToApt(t *testing.T, names []string) {
	t.Helper()
	if _, err := exec.LookPath("apt-cache"); err != nil {
		t.Log("apt-cache not installed: package names not checked")
		return
	}
	out, err := exec.Command("apt-cache", append([]string{"policy"}, names...)...).Output()
	if err != nil || !strings.Contains(string(out), "Candidate: ") {
		t.Log("apt has no package lists (apt-get update): package names not checked")
		return
	}
	var pkg string
	known := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && line[0] != ' ' && strings.HasSuffix(line, ":") {
			pkg = strings.TrimSuffix(line, ":")
		}
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate: "); ok && c != "(none)" {
			known[pkg] = true
		}
	}
	for _, n := range names {
		if !known[n] {
			t.Errorf("apt knows no installable package %q", n)
		}
	}
}

// checkLibrariesDepended checks that every shared library the binary
// links comes from a package in depends (found with dpkg -S on this
// machine).
func checkLibrariesDepended(t *testing.T, bin string, depends []string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		out, err := exec.Command("dpkg", "-S", "*/"+lib).Output()
		if err != nil {
			t.Errorf("%s links %s, which no installed package provides", filepath.Base(bin), lib)
			continue
		}
		// "libgl1:amd64: /usr/lib/x86_64-linux-gnu/libGL.so.1"
		found := false
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkgs, _, _ := strings.Cut(line, ": ")
			for _, p := range strings.Split(pkgs, ", ") {
				name, _, _ := strings.Cut(p, ":")
				found = found || slices.Contains(depends, name)
			}
		}
		if !found {
			t.Errorf("%s links %s (%s), but Depends %v names none of its packages", filepath.Base(bin), lib, strings.TrimSpace(string(out)), depends)
		}
	}
}

// runPackagedCloud starts ROOT/usr/bin/visitor-cloud as systemd would:
// only the variables of ROOT/etc/default/visitor-cloud in its
// environment, "serve" as its argument — with LISTEN_ADDR moved to a free
// loopback port and DATABASE_URL to a temporary file (/var/lib is not
// writable here). It waits for /healthz and /readyz, checks the container
// image's health probe against it, then stops it with SIGTERM.
func runPackagedCloud(t *testing.T, root string) {
	vars := setVars(parseEnvFile(t, filepath.Join(root, "etc/default/visitor-cloud")))
	if vars["DATABASE_URL"] != "sqlite:/var/lib/visitor-cloud/cloud.db" {
		t.Errorf("packaged DATABASE_URL = %q", vars["DATABASE_URL"])
	}
	bin := filepath.Join(root, "usr/bin/visitor-cloud")

	// Every variable the binary reads (its -h names them) is in the file.
	help, _ := exec.Command(bin, "-h").CombinedOutput()
	documented := parseEnvFile(t, filepath.Join(root, "etc/default/visitor-cloud"))
	mentioned := regexp.MustCompile(`\(\$([A-Z_]+)\)`).FindAllStringSubmatch(string(help), -1)
	if len(mentioned) < 9 {
		t.Errorf("visitor-cloud -h names only %d variables:\n%s", len(mentioned), help)
	}
	for _, m := range mentioned {
		if _, ok := documented[m[1]]; !ok {
			t.Errorf("visitor-cloud reads %s, which /etc/default/visitor-cloud does not document", m[1])
		}
	}

	state := t.TempDir()
	addr := freeAddr(t)
	vars["LISTEN_ADDR"] = addr
	vars["DATABASE_URL"] = "sqlite:" + filepath.Join(state, "cloud.db")
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)

	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, state, &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
			t.Logf("visitor-cloud output:\n%s", logs.String())
		}
	}()

	client := &http.Client{Timeout: 2 * time.Second}
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("visitor-cloud exited before answering: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 from /healthz within 15 s (last error %v)", err)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "cloud.db")); err != nil {
		t.Errorf("the database is not where DATABASE_URL says: %v", err)
	}

	// The container's HEALTHCHECK command, configured by LISTEN_ADDR as
	// in the image.
	probe := filepath.Join(t.TempDir(), "visitor-healthcheck")
	run(t, repoRoot(t), nil, "go", "build", "-o", probe, "./packaging/container/healthcheck")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc := exec.CommandContext(ctx, probe)
	pc.Env = []string{"LISTEN_ADDR=" + addr}
	if out, err := pc.CombinedOutput(); err != nil {
		t.Errorf("health probe against the running service: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("visitor-cloud after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("visitor-cloud did not stop within 15 s of SIGTERM")
	}
	if t.Failed() {
		t.Logf("visitor-cloud output:\n%s", logs.String())
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
