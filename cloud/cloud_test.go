package cloud_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRunRefusesBadConfigurationWithExitCode2(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		env     map[string]string
		wantVar string
	}{
		{nil, map[string]string{"DATABASE_URL": "nonsense"}, "DATABASE_URL"},
		{[]string{"serve", "--listen-addr", "nope"}, nil, "LISTEN_ADDR"},
		{[]string{"frobnicate"}, nil, "unknown command"},
	} {
		var stderr bytes.Buffer
		err := cloud.Run(context.Background(), tt.args, env(tt.env), &stderr)
		if cloud.ExitCode(err) != 2 || !strings.Contains(err.Error(), tt.wantVar) {
			t.Errorf("Run(%v, %v) = %v (exit %d); want exit 2 naming %s", tt.args, tt.env, err, cloud.ExitCode(err), tt.wantVar)
		}
	}
}

// TestServeAndShutdown runs the real service on a loopback port on each
// engine, checks the health endpoints, and shuts it down.
func TestServeAndShutdown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		dbURL := storetest.URL(t, engine)
		cfgEnv := env(map[string]string{"DATABASE_URL": dbURL, "LISTEN_ADDR": "127.0.0.1:0"})
		svc := startService(t, cfgEnv)
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get("http://" + svc.Addr() + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s = %d %s", path, resp.StatusCode, body)
			}
		}
		if err := svc.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if _, err := http.Get("http://" + svc.Addr() + "/healthz"); err == nil {
			t.Error("still serving after shutdown")
		}
	})
}

// TestBinaryDefaults builds visitor-cloud and runs it with no
// configuration in an empty directory: it creates ./var/cloud.db and
// answers /healthz and /readyz; DATABASE_URL=nonsense exits 2 naming the
// variable.
func TestBinaryDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "visitor-cloud")
	build := exec.Command("go", "build", "-o", bin, "./cmd/visitor-cloud")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	bad := exec.Command(bin)
	bad.Dir = dir
	bad.Env = append(os.Environ(), "DATABASE_URL=nonsense")
	out, err := bad.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "DATABASE_URL") {
		t.Errorf("DATABASE_URL=nonsense: %v, output %q; want exit 2 naming DATABASE_URL", err, out)
	}

	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(filteredEnv(), "LISTEN_ADDR=127.0.0.1:"+port)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://127.0.0.1:" + port
	waitFor(t, base+"/readyz")
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	resp.Body.Close()
	if _, err := os.Stat(filepath.Join(dir, "var", "cloud.db")); err != nil {
		t.Errorf("./var/cloud.db not created: %v", err)
	}
	cmd.Process.Signal(os.Interrupt)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("exit after SIGINT: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Error("did not stop within 15 s of SIGINT")
	}
}
