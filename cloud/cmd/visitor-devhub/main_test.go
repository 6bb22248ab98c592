package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// syncBuffer is a stderr the test can read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunRefusesBadValues(t *testing.T) {
	badFixture := filepath.Join(t.TempDir(), "fx.json")
	if err := os.WriteFile(badFixture, []byte(`{"users":[{"id":"u","name":"U","email":"u@x","permissions":["visitor.nope"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"algorithm", nil, map[string]string{"DEVHUB_ALG": "HS256"}, "DEVHUB_ALG"},
		{"algorithm flag wins and is named", []string{"-alg", "none"}, map[string]string{"DEVHUB_ALG": "EdDSA"}, "-alg"},
		{"rotation not a duration", nil, map[string]string{"DEVHUB_KEY_ROTATION": "hourly"}, "DEVHUB_KEY_ROTATION"},
		{"lifetime over 5 minutes", nil, map[string]string{"DEVHUB_TOKEN_LIFETIME": "10m"}, "DEVHUB_TOKEN_LIFETIME"},
		{"grace shorter than lifetime", nil, map[string]string{"DEVHUB_KEY_GRACE": "30s"}, "DEVHUB_KEY_GRACE"},
		{"visitor url", nil, map[string]string{"VISITOR_URL": "ftp://visitor"}, "VISITOR_URL"},
		{"public url", nil, map[string]string{"DEVHUB_PUBLIC_URL": "localhost:8090"}, "DEVHUB_PUBLIC_URL"},
		{"listen address", nil, map[string]string{"DEVHUB_LISTEN_ADDR": "8090"}, "DEVHUB_LISTEN_ADDR"},
		{"subscribers", nil, map[string]string{"DEVHUB_SUBSCRIBERS": "http://127.0.0.1:1/a, nope"}, "DEVHUB_SUBSCRIBERS"},
		{"missing fixture", nil, map[string]string{"DEVHUB_FIXTURES": "/nonexistent/fx.json"}, "DEVHUB_FIXTURES"},
		{"bad fixture", nil, map[string]string{"DEVHUB_FIXTURES": badFixture}, "DEVHUB_FIXTURES"},
		{"log format", nil, map[string]string{"DEVHUB_LOG_FORMAT": "xml"}, "DEVHUB_LOG_FORMAT"},
		{"unknown flag", []string{"-nope"}, nil, "nope"},
		{"stray argument", []string{"serve"}, nil, "serve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, env(tc.env), io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v, want a usage error (exit 2)", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestRunHelpIsNotAnError(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, env(nil), &out); err != nil {
		t.Fatalf("-h: %v", err)
	}
	if !strings.Contains(out.String(), "DEVHUB_ALG") {
		t.Fatalf("usage does not list the variables:\n%s", out.String())
	}
}

func TestRunServesJWKS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-alg", "RS256"}, env(map[string]string{
			"DEVHUB_LISTEN_ADDR": "127.0.0.1:0",
			"BUS_SDK_KEY":        "secret-sdk-key",
		}), stderr)
	}()

	addrRe := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	var addr string
	deadline := time.Now().Add(5 * time.Second)
	for addr == "" {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}

	resp, err := http.Get("http://" + addr + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Use, N, E string
		} `json:"keys"`
	}
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %d %v", resp.StatusCode, err)
	}
	if len(set.Keys) != 1 || set.Keys[0].Alg != "RS256" || set.Keys[0].Kty != "RSA" || set.Keys[0].Kid == "" || set.Keys[0].Use != "sig" {
		t.Fatalf("jwks %+v", set)
	}

	// The Bus key from the environment is enforced.
	resp, err = http.Post("http://"+addr+"/api/bus/events", "application/cloudevents-batch+json", strings.NewReader(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bus without key: %d, want 401", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	if strings.Contains(stderr.String(), "secret-sdk-key") {
		t.Fatal("a secret was logged")
	}
}
