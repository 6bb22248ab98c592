package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/cloud/web"
)

func newServer(t *testing.T, engine storetest.Engine) (*web.Server, *store.DB) {
	t.Helper()
	db := storetest.Open(t, engine, store.Options{})
	cfg, err := config.Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Deps{Store: db, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func TestHealthAndReadiness(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		s, db := newServer(t, engine)
		tests := []struct {
			path       string
			wantStatus int
			wantBody   string
		}{
			{"/healthz", 200, `"ok"`},
			{"/readyz", 200, `"ready"`},
			{"/metrics", 200, "visitor_http_requests_total"},
			{"/api/nothing-here", 404, `"error":"not_found"`},
		}
		for _, tt := range tests {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("GET %s = %d %s; want %d containing %s", tt.path, rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
		}
		// With the database gone, /readyz says so and /healthz does not care.
		db.Close()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("readyz without a database = %d", rec.Code)
		}
		rec = httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("healthz without a database = %d", rec.Code)
		}
	})
}

func TestUnknownConsolePageIsHTML(t *testing.T) {
	s, _ := newServer(t, storetest.SQLite)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/no-such-page", nil))
	if rec.Code != 404 || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("console 404 = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/nope", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "not_found" {
		t.Errorf("API 404 body = %s", rec.Body)
	}
	_ = context.Background()
}
