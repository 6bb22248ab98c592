package devhub

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// syncWriter collects log output from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// fakeSearch is Visitor's search provider as the Hub Bar sees it.
type fakeSearch struct {
	mu     sync.Mutex
	status int
	body   string
	seen   []*http.Request
}

func (f *fakeSearch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, r.Clone(r.Context()))
	if r.URL.Path != "/api/search" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	_, _ = w.Write([]byte(f.body))
}

func (f *fakeSearch) set(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func (f *fakeSearch) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.seen...)
}

func TestHubBar(t *testing.T) {
	search := &fakeSearch{}
	visitorSrv := newLoopbackServer(t, search)
	_, srv := newTestHub(t, Config{VisitorURL: visitorSrv.URL, VisitorIntegrationKey: "visitor-key"}, Options{})
	const results = `{"visitors":[{"id":"v1","name":"Vera <b>Visitor</b>","company":"Initech","status":"checked_in",
		"location":{"id":"l1","name":"Lobby North"},"checked_in_at":"2026-03-14T09:30:00Z"}],
		"locations":[{"id":"l2","name":"Vera Tower","address":"1 Main St","type":"office"}]}`

	for _, tc := range []struct {
		name       string
		status     int
		body       string
		query      string
		wantStatus int
		want       []string
		notWant    []string
	}{
		{"results", 200, results, "q=ver&tenant_id=org_globex", 200,
			[]string{"Vera &lt;b&gt;Visitor&lt;/b&gt;", "Initech", "Lobby North", "Vera Tower", "1 Main St"}, []string{"Search failed", "<b>Visitor"}},
		{"no matches", 200, `{"visitors":[],"locations":[]}`, "q=zz", 200,
			[]string{"No visitors match", "No locations match"}, []string{"Search failed"}},
		{"error from Visitor", 401, `{"error":"unauthorized","message":"Missing or invalid integration key."}`, "q=ver", 502,
			[]string{"Search failed", "401", "invalid integration key"}, []string{"No visitors match"}},
		{"malformed answer", 200, `<html>`, "q=ver", 502,
			[]string{"Search failed", "malformed"}, nil},
		{"empty query shows the box only", 200, results, "", 200,
			[]string{`name="q"`, "Acme Corp", "Globex Corporation"}, []string{"Lobby North", "Search failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			search.set(tc.status, tc.body)
			before := len(search.requests())
			status, _, body := do(t, http.MethodGet, srv.URL+"/hub-bar?"+tc.query, nil, "")
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d\n%s", status, tc.wantStatus, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
			reqs := search.requests()[before:]
			if tc.query == "" {
				if len(reqs) != 0 {
					t.Fatalf("searched with an empty query")
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("%d search calls, want 1", len(reqs))
			}
			r := reqs[0]
			q, _ := url.ParseQuery(tc.query)
			wantTenant := q.Get("tenant_id")
			if wantTenant == "" {
				wantTenant = OrgAcme // the first fixture org
			}
			if r.Header.Get("X-Integration-Key") != "visitor-key" || r.URL.Query().Get("q") != q.Get("q") || r.URL.Query().Get("tenant_id") != wantTenant {
				t.Errorf("search call %s with key %q", r.URL, r.Header.Get("X-Integration-Key"))
			}
		})
	}

	t.Run("Visitor unreachable", func(t *testing.T) {
		dead := newLoopbackServer(t, http.NotFoundHandler())
		dead.Close()
		var logs syncWriter
		_, srv := newTestHub(t, Config{VisitorURL: dead.URL}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		status, _, body := do(t, http.MethodGet, srv.URL+"/hub-bar?q=secretname", nil, "")
		if status != http.StatusBadGateway || !strings.Contains(body, "Search failed") {
			t.Fatalf("%d %s", status, body)
		}
		if l := logs.String(); !strings.Contains(l, "hub bar search failed") || strings.Contains(l, "secretname") {
			t.Fatalf("the failure is not logged, or the query (visitor PII) is:\n%s", l)
		}
	})
}

func TestHomePage(t *testing.T) {
	_, srv := newTestHub(t, Config{VisitorURL: "http://visitor.test"}, Options{})
	status, _, body := do(t, http.MethodGet, srv.URL+"/", nil, "")
	if status != http.StatusOK {
		t.Fatalf("home: %d", status)
	}
	for _, want := range []string{`href="http://visitor.test/"`, `href="/hub-bar"`, UserNoOrg, "/api/devhub/events"} {
		if !strings.Contains(body, want) {
			t.Errorf("home lacks %q", want)
		}
	}
	if status, _, _ := do(t, http.MethodGet, srv.URL+"/nothing-here", nil, ""); status != http.StatusNotFound {
		t.Errorf("unknown path: %d", status)
	}
}
