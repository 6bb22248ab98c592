package cloud_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/config"
)

func startService(t *testing.T, getenv func(string) string) *cloud.Service {
	t.Helper()
	cfg, err := config.Load(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cloud.Start(context.Background(), cfg, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// filteredEnv is the test's environment without the service's variables,
// so a developer's shell settings do not leak into the binary under test.
func filteredEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "LISTEN_ADDR", "PUBLIC_URL", "DATABASE_URL", "HUB_URL", "HUB_ISSUER", "BUS_URL",
			"BUS_SDK_KEY", "BUS_INTEGRATION_KEY", "INTEGRATION_KEY", "METRICS_ADDR":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func waitFor(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within 20 s", url)
}
