package config_test

import (
	"errors"
	"io"
	"testing"

	"github.com/theonestack/visitor/cloud/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := config.Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{ListenAddr: "127.0.0.1:8080", PublicURL: "http://localhost:8080", DatabaseURL: "sqlite:./var/cloud.db",
		HubURL: "http://localhost:8090", HubIssuer: "http://localhost:8090", BusURL: "http://localhost:8090", LogFormat: "text", LogLevel: "info"}
	if c != want {
		t.Errorf("defaults = %+v\nwant %+v", c, want)
	}
	if c.SecureCookies() {
		t.Error("http PUBLIC_URL must not force Secure cookies")
	}
}

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	c, err := config.Load([]string{"--listen-addr", "127.0.0.1:9999"},
		env(map[string]string{"LISTEN_ADDR": "127.0.0.1:7777", "HUB_URL": "https://hub.example", "PUBLIC_URL": "https://visitor.example"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "127.0.0.1:9999" || c.HubURL != "https://hub.example" || c.HubIssuer != "https://hub.example" || !c.SecureCookies() {
		t.Errorf("got %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	tests := []struct {
		env     map[string]string
		args    []string
		wantVar string
	}{
		{map[string]string{"DATABASE_URL": "nonsense"}, nil, "DATABASE_URL"},
		{map[string]string{"LISTEN_ADDR": "8080"}, nil, "LISTEN_ADDR"},
		{map[string]string{"PUBLIC_URL": "ftp://x"}, nil, "PUBLIC_URL"},
		{map[string]string{"HUB_URL": "not a url"}, nil, "HUB_URL"},
		{map[string]string{"BUS_URL": "http://"}, nil, "BUS_URL"},
		{map[string]string{"INTEGRATION_KEY": "short"}, nil, "INTEGRATION_KEY"},
		{map[string]string{"LOG_FORMAT": "xml"}, nil, "LOG_FORMAT"},
		{nil, []string{"--database-url", "mysql://x"}, "DATABASE_URL"},
		{nil, []string{"--no-such-flag"}, "flags"},
	}
	for _, tt := range tests {
		_, err := config.Load(tt.args, env(tt.env), io.Discard)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != tt.wantVar {
			t.Errorf("env %v args %v: error %v, want one naming %s", tt.env, tt.args, err, tt.wantVar)
		}
	}
}
