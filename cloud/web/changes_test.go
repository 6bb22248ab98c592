package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/cloud/web"
)

// tenantLog records the tenants Deps.Changes was told of.
type tenantLog struct {
	mu      sync.Mutex
	tenants []string
}

func (l *tenantLog) Notify(tenantID string) {
	l.mu.Lock()
	l.tenants = append(l.tenants, tenantID)
	l.mu.Unlock()
}

func (l *tenantLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.tenants
	l.tenants = nil
	return out
}

// TestChangesNotifiedAfterCommit: a successful state-changing request
// tells Deps.Changes the session's tenant (once, after the handler has
// committed); reads, refused and failed requests, and requests without a
// session tell it nothing.
func TestChangesNotifiedAfterCommit(t *testing.T) {
	db := storetest.Open(t, storetest.SQLite, store.Options{})
	cfg, err := config.Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := &tenantLog{}
	var committed []string // hosts in the store when Notify ran
	s, err := web.New(web.Deps{Store: db, Config: cfg, Logger: slog.New(slog.DiscardHandler), Changes: notifyFunc(func(tenant string) {
		hs, _, _ := db.Hosts(t.Context(), tenant, "", 100, "")
		for _, h := range hs {
			committed = append(committed, h.Name)
		}
		log.Notify(tenant)
	})})
	if err != nil {
		t.Fatal(err)
	}
	admin := sessionWith(t, db, []visitor.Permission{visitor.PermHostsManage, visitor.PermHostsView, visitor.PermLocationsManage})
	reader := sessionWith(t, db, []visitor.Permission{visitor.PermHostsView})
	tests := []struct {
		name         string
		method, path string
		body         string
		cookie       *http.Cookie
		wantStatus   int
		wantNotified []string
	}{
		{"create host", http.MethodPost, "/api/v1/hosts", `{"name":"Hedy Lamarr","email":"h@acme.example"}`, admin, 201, []string{"org_acme"}},
		{"list hosts", http.MethodGet, "/api/v1/hosts", "", admin, 200, nil},
		{"invalid host", http.MethodPost, "/api/v1/hosts", `{"name":""}`, admin, 400, nil},
		{"no permission", http.MethodPost, "/api/v1/hosts", `{"name":"Eve"}`, reader, 403, nil},
		{"no session", http.MethodPost, "/api/v1/hosts", `{"name":"Eve"}`, nil, 401, nil},
		{"create location", http.MethodPost, "/api/v1/locations", `{"name":"Annex","timezone":"UTC"}`, admin, 201, []string{"org_acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.cookie != nil {
				req.AddCookie(tt.cookie)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.wantStatus)
			}
			if got := log.take(); !slices.Equal(got, tt.wantNotified) {
				t.Errorf("notified %v, want %v", got, tt.wantNotified)
			}
		})
	}
	if !slices.Contains(committed, "Hedy Lamarr") {
		t.Errorf("hosts visible when Notify ran: %v; want the new host (notify after commit)", committed)
	}
}

type notifyFunc func(string)

func (f notifyFunc) Notify(tenantID string) { f(tenantID) }
