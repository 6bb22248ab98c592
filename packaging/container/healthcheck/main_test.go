package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDefaultURL(t *testing.T) {
	tests := []struct {
		listen, want string
		wantErr      bool
	}{
		{"", "http://127.0.0.1:8080/healthz", false},
		{"127.0.0.1:8080", "http://127.0.0.1:8080/healthz", false},
		{":8080", "http://127.0.0.1:8080/healthz", false},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/healthz", false},
		{"[::]:8080", "http://127.0.0.1:8080/healthz", false},
		{"[::1]:8080", "http://[::1]:8080/healthz", false},
		{"10.1.2.3:8080", "http://10.1.2.3:8080/healthz", false},
		{"8080", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			got, err := defaultURL(tt.listen)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("defaultURL(%q) = %q, %v; want %q, error %v", tt.listen, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestRun(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"healthy by URL", []string{srv.URL + "/healthz"}, nil, 0},
		{"healthy from LISTEN_ADDR", nil, map[string]string{"LISTEN_ADDR": srv.Listener.Addr().String()}, 0},
		{"503 is unhealthy", []string{srv.URL + "/readyz"}, nil, 1},
		{"404 is unhealthy", []string{srv.URL + "/nothing"}, nil, 1},
		{"connection refused", []string{"http://" + closedAddr + "/healthz"}, nil, 1},
		{"timeout", []string{"-timeout", "200ms", srv.URL + "/slow"}, nil, 1},
		{"proxy variables are ignored", []string{srv.URL + "/healthz"}, map[string]string{"HTTP_PROXY": "http://" + closedAddr}, 0},
		{"bad LISTEN_ADDR", nil, map[string]string{"LISTEN_ADDR": "nonsense"}, 2},
		{"two URLs", []string{srv.URL, srv.URL}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			start := time.Now()
			got := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &stderr)
			if got != tt.want {
				t.Errorf("exit %d, want %d; stderr: %s", got, tt.want, stderr.String())
			}
			if got != 0 && !strings.Contains(stderr.String(), "visitor-healthcheck") && !strings.Contains(stderr.String(), "usage") {
				t.Errorf("a failure must say why; stderr: %q", stderr.String())
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v: the timeout is not honoured", d)
			}
		})
	}
}
