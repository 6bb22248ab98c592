package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/localapi"
	"github.com/theonestack/visitor/syncproto"
)

func do(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object", method, path, raw)
	}
	return resp.StatusCode, out
}

func TestLocalAPINotPaired(t *testing.T) {
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	srv := httptest.NewServer(localapi.Handler(e, nil))
	defer srv.Close()
	code, body := do(t, srv.URL, "POST", "/v1/checkins", `{"name":"Ada"}`)
	if code != http.StatusConflict || body["error"] != "not_paired" {
		t.Errorf("check-in unpaired = %d %v, want 409 not_paired", code, body)
	}
	code, body = do(t, srv.URL, "GET", "/v1/status", "")
	if code != 200 || body["paired"] != false || body["revoked"] != false || body["last_sync_at"] != nil {
		t.Errorf("status = %d %v", code, body)
	}
	for _, k := range []string{"paired", "online", "pending_ops", "device_id", "tenant_id", "location_id", "last_sync_at"} {
		if _, ok := body[k]; !ok {
			t.Errorf("status lacks %q", k)
		}
	}
}

func TestLocalAPI(t *testing.T) {
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	provision(t, e)
	feed(t, e, "c1",
		upsert(t, syncproto.EntityHost, "h1", visitor.Host{Name: "Ada Lovelace", Active: true}),
		upsert(t, syncproto.EntityBadge, "b1", visitor.Badge{LocationID: testLocation, Number: "12", Status: visitor.BadgeAvailable}))
	srv := httptest.NewServer(localapi.Handler(e, nil))
	defer srv.Close()

	code, body := do(t, srv.URL, "POST", "/v1/checkins", `{"name":"Grace","email":"g@x.io","company":"Navy","host_id":"h1","visitor_type":"guest"}`)
	if code != http.StatusCreated || body["visit_id"] == "" || body["visit_id"] != body["id"] || body["badge_number"] != "12" || body["status"] != "checked_in" {
		t.Fatalf("check-in = %d %v", code, body)
	}
	visitID := body["visit_id"].(string)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		errCode, msg             string
	}{
		{"bad json", "POST", "/v1/checkins", `{"name":`, 400, "invalid", "not valid JSON"},
		{"unknown field", "POST", "/v1/checkins", `{"nmae":"x"}`, 400, "invalid", "unknown field"},
		{"wrong type", "POST", "/v1/checkins", `{"name":5}`, 400, "invalid", `"name"`},
		{"missing name", "POST", "/v1/checkins", `{"company":"x"}`, 400, "invalid", "name or invite_code"},
		{"trailing data", "POST", "/v1/checkins", `{"name":"a"} {}`, 400, "invalid", "after the JSON"},
		{"too big", "POST", "/v1/checkins", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "invalid", "above"},
		{"unknown invite", "POST", "/v1/checkins", `{"invite_code":"NOPE"}`, 404, "not_found", "ask reception"},
		{"checkout nothing", "POST", "/v1/checkouts", `{}`, 400, "invalid", "visit_id or badge_number"},
		{"checkout unknown", "POST", "/v1/checkouts", `{"visit_id":"nope"}`, 404, "not_found", ""},
		{"bad status filter", "GET", "/v1/visits?status=checked_out", "", 400, "invalid", "on_site"},
		{"no route", "GET", "/v1/nope", "", 404, "not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, srv.URL, tc.method, tc.path, tc.body)
			msg, _ := body["message"].(string)
			if code != tc.status || body["error"] != tc.errCode || !strings.Contains(msg, tc.msg) {
				t.Errorf("= %d %v, want %d %s %q", code, body, tc.status, tc.errCode, tc.msg)
			}
		})
	}

	code, body = do(t, srv.URL, "GET", "/v1/visits?status=on_site", "")
	if visits, _ := body["visits"].([]any); code != 200 || len(visits) != 1 || visits[0].(map[string]any)["visit_id"] != visitID {
		t.Errorf("on-site = %d %v", code, body)
	}
	code, body = do(t, srv.URL, "GET", "/v1/hosts?q=lov", "")
	if hosts, _ := body["hosts"].([]any); code != 200 || len(hosts) != 1 || hosts[0].(map[string]any)["id"] != "h1" {
		t.Errorf("hosts = %d %v", code, body)
	}
	code, body = do(t, srv.URL, "POST", "/v1/checkouts", `{"badge_number":"12"}`)
	if code != 200 || body["visit_id"] != visitID || body["status"] != "checked_out" {
		t.Errorf("check-out = %d %v", code, body)
	}
	code, body = do(t, srv.URL, "POST", "/v1/checkouts", `{"visit_id":"`+visitID+`"}`)
	if code != 200 || body["status"] != "checked_out" {
		t.Errorf("second check-out = %d %v", code, body)
	}
	code, body = do(t, srv.URL, "GET", "/v1/status", "")
	if code != 200 || body["pending_ops"] != float64(4) || body["paired"] != true || body["device_id"] != testDevice {
		t.Errorf("status = %d %v", code, body)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad cloud env", nil, map[string]string{"VISITOR_CLOUD_URL": "ftp://x"}, "VISITOR_CLOUD_URL"},
		{"bad cloud flag", []string{"--cloud", "not a url"}, nil, "VISITOR_CLOUD_URL"},
		{"bad local api", nil, map[string]string{"VISITOR_LOCAL_API": "localhost"}, "VISITOR_LOCAL_API"},
		{"bad port", []string{"--local-api", "127.0.0.1:99999"}, nil, "VISITOR_LOCAL_API"},
		{"empty data", []string{"--data", ""}, nil, "VISITOR_EDGE_DATA"},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := edge.Run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &stderr)
			if edge.ExitCode(err) != 2 || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Errorf("err = %v (exit %d), want exit 2 naming %s", err, edge.ExitCode(err), tc.want)
			}
		})
	}
	cfg, err := edge.ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || cfg != (edge.Config{DataDir: "./var/edge", CloudURL: "http://localhost:8080", LocalAPIAddr: "127.0.0.1:7071"}) {
		t.Errorf("defaults = %+v, %v", cfg, err)
	}
	cfg, err = edge.ParseConfig([]string{"--data", "/d"}, func(k string) string {
		return map[string]string{"VISITOR_EDGE_DATA": "/env", "VISITOR_CLOUD_URL": "https://c.example"}[k]
	}, io.Discard)
	if err != nil || cfg.DataDir != "/d" || cfg.CloudURL != "https://c.example" {
		t.Errorf("flag over env over default: %+v, %v", cfg, err)
	}
}

func TestServeEndToEndOffline(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	cfg := edge.Config{DataDir: dir, CloudURL: "http://127.0.0.1:1", LocalAPIAddr: "127.0.0.1:0"}
	go func() { done <- edge.Serve(ctx, cfg, edge.Options{}, func(a net.Addr) { addrc <- a }) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not start")
	}
	if code, body := do(t, base, "POST", "/v1/checkins", `{"name":"Ada"}`); code != 409 || body["error"] != "not_paired" {
		t.Errorf("unpaired check-in = %d %v", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not stop")
	}
	// Provision offline, then serve again: check-ins work with no cloud.
	e := openEngine(t, dir, "", edge.Options{})
	provision(t, e)
	e.Close()
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- edge.Serve(ctx, cfg, edge.Options{}, func(a net.Addr) { addrc <- a }) }()
	base = "http://" + (<-addrc).String()
	if code, body := do(t, base, "POST", "/v1/checkins", `{"name":"Ada"}`); code != 201 {
		t.Errorf("offline check-in = %d %v", code, body)
	}
	if code, body := do(t, base, "GET", "/v1/status", ""); code != 200 || body["online"] != false || body["pending_ops"] != float64(1) {
		t.Errorf("offline status = %d %v", code, body)
	}
	cancel()
	<-done
}
