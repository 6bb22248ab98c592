package cloud_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/devhub/devhubtest"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

const (
	testHubKey = "hub-integration-key-0123456789"
	testSDKKey = "bus-sdk-key-0123456789abcdef"
)

func startDevhub(t *testing.T) (*devhub.Hub, string) {
	t.Helper()
	return devhubtest.Start(t, devhub.Config{HubIntegrationKey: testHubKey, BusSDKKey: testSDKKey})
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServiceTalksToHubAndBus starts a real instance against the
// development Hub: the permissions are registered within 10 s of start,
// and a check-in's visitor.checked_in event reaches the Bus.
func TestServiceTalksToHubAndBus(t *testing.T) {
	hub, hubURL := startDevhub(t)
	cfg, err := config.Load(nil, env(map[string]string{
		"LISTEN_ADDR": "127.0.0.1:0", "DATABASE_URL": storetest.URL(t, storetest.SQLite), "HUB_URL": hubURL,
		"BUS_INTEGRATION_KEY": testHubKey, "BUS_SDK_KEY": testSDKKey,
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cloud.Start(context.Background(), cfg, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Shutdown(context.Background())
	eventually(t, 10*time.Second, "permissions registered", func() bool { return len(hub.Permissions().Permissions) == 12 })

	ctx := context.Background()
	db := svc.Store()
	actor := store.Actor{Type: store.ActorUser, ID: "u_admin"}
	db.EnsureTenant(ctx, "org_acme", "Acme")
	loc, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ", Timezone: "UTC"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: "Grace"}}, actor)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "checked_in event delivered", func() bool {
		for _, e := range hub.Events() {
			if e.Type == visitor.EventCheckedIn && e.Subject == v.ID && e.TenantID == "org_acme" {
				return true
			}
		}
		return false
	})
}

func TestBillingRunCommand(t *testing.T) {
	hub, hubURL := startDevhub(t)
	dbURL := storetest.URL(t, storetest.SQLite)
	db, err := store.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.EnsureTenant(context.Background(), "org_acme", "Acme")
	db.Close()
	e := env(map[string]string{"DATABASE_URL": dbURL, "HUB_URL": hubURL, "BUS_INTEGRATION_KEY": testHubKey})

	for _, args := range [][]string{
		{"billing", "run", "--date", "2026-02-30"},
		{"billing", "run"},
		{"billing", "frobnicate"},
		{"billing", "run", "--date"},
	} {
		if err := cloud.Run(context.Background(), args, e, io.Discard); cloud.ExitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want exit 2", args, err, cloud.ExitCode(err))
		}
	}
	var logs bytes.Buffer
	for i := 0; i < 2; i++ { // a re-run for the same day sends nothing new
		if err := cloud.Run(context.Background(), []string{"billing", "run", "--date=2026-11-01"}, e, &logs); err != nil {
			t.Fatalf("billing run: %v\n%s", err, logs.String())
		}
	}
	reps := hub.Billing()
	var keys []string
	for _, r := range reps {
		keys = append(keys, r.IdempotencyKey)
		if r.Duplicates != 0 {
			t.Errorf("%s sent %d extra times", r.IdempotencyKey, r.Duplicates)
		}
	}
	joined := strings.Join(keys, ",")
	if len(reps) != 2 || !strings.Contains(joined, "org_acme:2026-11-01") || !strings.Contains(joined, "org_acme:2026-10:final") {
		t.Errorf("reports = %v; want the day's and October's final", keys)
	}
}
