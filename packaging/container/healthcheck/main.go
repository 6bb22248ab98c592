// Command visitor-healthcheck is the container image's health probe: the
// image has no shell, curl or wget, so Docker's HEALTHCHECK runs this
// small static binary instead. It asks the visitor-cloud in the same
// container for a health endpoint and exits 0 on 200, 1 otherwise.
//
//	visitor-healthcheck [-timeout 3s] [URL]
//
// Without URL it probes /healthz on the address of LISTEN_ADDR (default
// 127.0.0.1:8080), with a wildcard host (":8080", "0.0.0.0:8080",
// "[::]:8080") replaced by 127.0.0.1. It ignores HTTP_PROXY and friends:
// the probe is always local.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stderr))
}

// run probes once and returns the exit code: 0 healthy, 1 unhealthy, 2
// usage error.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("visitor-healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "usage: visitor-healthcheck [-timeout D] [URL]")
		return 2
	}
	url := fs.Arg(0)
	if url == "" {
		var err error
		if url, err = defaultURL(getenv("LISTEN_ADDR")); err != nil {
			fmt.Fprintln(stderr, "visitor-healthcheck:", err)
			return 2
		}
	}
	if err := probe(ctx, url, *timeout); err != nil {
		fmt.Fprintln(stderr, "visitor-healthcheck:", err)
		return 1
	}
	return 0
}

// defaultURL turns a listen address into the URL of its /healthz.
func defaultURL(listenAddr string) (string, error) {
	if listenAddr == "" {
		listenAddr = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "", fmt.Errorf("LISTEN_ADDR %q: %w", listenAddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// probe succeeds when a GET of url answers 200 within timeout.
func probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe %s: status %d", url, resp.StatusCode)
	}
	return nil
}
