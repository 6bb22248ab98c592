package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for success
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.DataDir != "./var/demo" || c.BinDir != "./bin" || c.CloudAddr != "127.0.0.1:8080" ||
				c.HubAddr != "127.0.0.1:8090" || c.KioskAddr != "127.0.0.1:7071" || c.Kiosk != kioskAuto ||
				c.PairManually || c.StopTimeout != 10*time.Second {
				t.Errorf("defaults = %+v", c)
			}
			if c.cloudURL() != "http://localhost:8080" || c.hubURL() != "http://localhost:8090" || c.kioskURL() != "http://127.0.0.1:7071" {
				t.Errorf("urls = %s %s %s", c.cloudURL(), c.hubURL(), c.kioskURL())
			}
		}},
		{name: "environment", env: map[string]string{"DEMO_CLOUD_ADDR": "127.0.0.1:9080", "DEMO_PAIR_MANUALLY": "true", "DEMO_KIOSK": "headless", "DEMO_PUBLIC_HOST": "127.0.0.1"},
			check: func(t *testing.T, c config) {
				if c.CloudAddr != "127.0.0.1:9080" || !c.PairManually || c.Kiosk != kioskHeadless || c.cloudURL() != "http://127.0.0.1:9080" {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "flag wins over environment", args: []string{"--cloud-addr", "127.0.0.1:9081", "--pair-manually=false"},
			env: map[string]string{"DEMO_CLOUD_ADDR": "127.0.0.1:9080", "DEMO_PAIR_MANUALLY": "1"},
			check: func(t *testing.T, c config) {
				if c.CloudAddr != "127.0.0.1:9081" || c.PairManually {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "port zero refused", args: []string{"--kiosk-addr", "127.0.0.1:0"}, wantErr: "DEMO_KIOSK_ADDR"},
		{name: "not host:port", env: map[string]string{"DEMO_HUB_ADDR": "8090"}, wantErr: "DEMO_HUB_ADDR"},
		{name: "same address twice", args: []string{"--hub-addr", "127.0.0.1:8080"}, wantErr: "must differ"},
		{name: "unknown kiosk mode", args: []string{"--kiosk", "tablet"}, wantErr: "DEMO_KIOSK"},
		{name: "bad boolean", env: map[string]string{"DEMO_PAIR_MANUALLY": "maybe"}, wantErr: "DEMO_PAIR_MANUALLY"},
		{name: "bad stop timeout", args: []string{"--stop-timeout", "forever"}, wantErr: "DEMO_STOP_TIMEOUT"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected argument"},
		{name: "unknown flag", args: []string{"--colour"}, wantErr: "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			c, err := parseConfig(tt.args, getenv, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a usage error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestChildEnvPassesOnlyTheSafeList(t *testing.T) {
	env := map[string]string{"PATH": "/usr/bin", "DISPLAY": ":1", "DATABASE_URL": "postgres://elsewhere", "LISTEN_ADDR": "0.0.0.0:80"}
	got := strings.Join(childEnv(func(k string) string { return env[k] }, "BUS_SDK_KEY=k"), " ")
	for _, want := range []string{"PATH=/usr/bin", "DISPLAY=:1", "BUS_SDK_KEY=k"} {
		if !strings.Contains(got, want) {
			t.Errorf("child env %q lacks %s", got, want)
		}
	}
	for _, not := range []string{"DATABASE_URL", "LISTEN_ADDR"} {
		if strings.Contains(got, not) {
			t.Errorf("child env %q passes %s", got, not)
		}
	}
}

func TestChildStop(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	tests := []struct {
		name       string
		script     string
		wantKilled bool
	}{
		{name: "stops on SIGTERM", script: "trap 'exit 0' TERM; while sleep 0.05; do :; done"},
		{name: "ignores SIGTERM, gets SIGKILL", script: "trap '' TERM; while sleep 0.05; do :; done", wantKilled: true},
		{name: "already exited", script: "exit 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := startChild("sh", sh, []string{"-c", tt.script}, nil, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if tt.script == "exit 3" {
				<-c.done
			} else {
				time.Sleep(100 * time.Millisecond) // let the trap be installed
			}
			start := time.Now()
			killed := c.stop(300 * time.Millisecond)
			if killed != tt.wantKilled {
				t.Errorf("killed = %v, want %v", killed, tt.wantKilled)
			}
			if !c.exited() {
				t.Error("the child has not exited after stop")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("stop took %s", d)
			}
		})
	}
}

func TestKioskMode(t *testing.T) {
	withKiosk, without := t.TempDir(), t.TempDir()
	for _, dir := range []string{withKiosk, without} {
		for _, b := range []string{"visitor-devhub", "visitor-cloud", "visitor-edge"} {
			touch(t, filepath.Join(dir, b))
		}
	}
	touch(t, filepath.Join(withKiosk, "visitor-kiosk"))
	tests := []struct {
		name, bin, mode string
		env             map[string]string
		want, wantErr   string
	}{
		{name: "auto with a display and the app", bin: withKiosk, mode: kioskAuto, env: map[string]string{"DISPLAY": ":0"}, want: kioskApp},
		{name: "auto on Wayland", bin: withKiosk, mode: kioskAuto, env: map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, want: kioskApp},
		{name: "auto without a display", bin: withKiosk, mode: kioskAuto, want: kioskHeadless},
		{name: "auto without the app", bin: without, mode: kioskAuto, env: map[string]string{"DISPLAY": ":0"}, want: kioskHeadless},
		{name: "headless asked", bin: withKiosk, mode: kioskHeadless, env: map[string]string{"DISPLAY": ":0"}, want: kioskHeadless},
		{name: "app asked but not built", bin: without, mode: kioskApp, wantErr: "kiosk app is not built"},
		{name: "system not built", bin: t.TempDir(), mode: kioskHeadless, wantErr: "visitor-devhub is not built"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &demo{cfg: config{Kiosk: tt.mode}, binDir: tt.bin, getenv: func(k string) string { return tt.env[k] }}
			got, err := d.kioskMode()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("kioskMode = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesABusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bin := t.TempDir()
	for _, b := range []string{"visitor-devhub", "visitor-cloud", "visitor-edge"} {
		touch(t, filepath.Join(bin, b))
	}
	args := []string{"--data", t.TempDir(), "--bin", bin, "--kiosk", "headless",
		"--hub-addr", freeAddr(t), "--cloud-addr", busy.Addr().String(), "--kiosk-addr", freeAddr(t)}
	err = run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--cloud-addr") {
		t.Fatalf("err = %v, want the busy cloud address refused", err)
	}
}
