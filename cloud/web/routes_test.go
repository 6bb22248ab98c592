package web

import (
	"io"
	"log/slog"
	"testing"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// TestEveryRouteDeclaresAccess walks Echo's route table: a route is
// either on the explicit public list or declared a permission when it was
// registered. A new route that forgets its check fails here.
func TestEveryRouteDeclaresAccess(t *testing.T) {
	db := storetest.Open(t, storetest.SQLite, store.Options{})
	cfg, err := config.Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{Store: db, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	routes := s.Routes()
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	for _, r := range routes {
		key := r.Method + " " + r.Path
		if publicRoute(r.Method, r.Path) {
			continue
		}
		p, ok := s.perms[key]
		if !ok {
			t.Errorf("route %s is not public and declares no permission", key)
			continue
		}
		if p != anySession && p != integrationKey && p != deviceKey && !visitor.ValidPermission(p) {
			t.Errorf("route %s declares unknown permission %q", key, p)
		}
	}
}
