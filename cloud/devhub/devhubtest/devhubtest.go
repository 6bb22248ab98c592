// Package devhubtest starts a development Hub for a test on a loopback
// port, so tests of the cloud's Hub and Bus clients run against the same
// stand-in the whole system uses.
package devhubtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/theonestack/visitor/cloud/devhub"
)

// Start runs a Hub with cfg on 127.0.0.1 (cfg.PublicURL is set to its
// address) and returns it with its base URL. It is closed when the test
// ends.
func Start(t testing.TB, cfg devhub.Config) (*devhub.Hub, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	cfg.PublicURL = url
	hub, err := devhub.New(cfg, devhub.Options{})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: hub.Handler()}}
	srv.Start()
	t.Cleanup(func() { srv.Close(); hub.Close() })
	return hub, url
}
