package syncserver_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

// TestThroughCloudService connects a kiosk to a real cloud instance at
// /api/sync (the route, its middleware and the wiring in cloud.Start) and
// checks that Shutdown ends the connection with bye "shutdown".
func TestThroughCloudService(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{
			"LISTEN_ADDR": "127.0.0.1:0", "DATABASE_URL": storetest.URL(t, storetest.SQLite),
			"HUB_URL": "http://127.0.0.1:1", // never reached in this test
		}[k]
	}
	cfg, err := config.Load(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc, err := cloud.Start(ctx, cfg, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	shut := false
	defer func() {
		if !shut {
			svc.Shutdown(ctx)
		}
	}()
	db := svc.Store()
	if err := db.EnsureTenant(ctx, tenant, "Acme"); err != nil {
		t.Fatal(err)
	}
	loc, err := db.CreateLocation(ctx, tenant, visitor.Location{Name: "HQ", Timezone: "UTC"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	d, err := db.ProvisionDevice(ctx, tenant, loc.ID, "Lobby", pub, admin)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+svc.Addr()+"/api/sync", nil)
	if err != nil {
		t.Fatalf("dial /api/sync: %v", err)
	}
	tr := syncproto.NewWebSocketTransport(ws, 0)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w, _, err := syncproto.ClientHandshake(hctx, tr, syncproto.HelloParams{DeviceID: d.ID, BootID: "b", Mono: func() int64 { return 1 }},
		func(nonce []byte) ([]byte, error) { return pairing.SignChallenge(priv, d.ID, nonce), nil })
	if err != nil {
		t.Fatalf("handshake through the cloud: %v", err)
	}
	if w.TenantID != tenant || w.LocationID != loc.ID {
		t.Errorf("welcome %+v", w)
	}
	c := syncproto.NewConn(tr, syncproto.Options{HeartbeatInterval: w.Heartbeat()})
	defer c.Close()
	go func() { // keep receiving, as a kiosk does
		for {
			if _, err := c.Recv(ctx); err != nil {
				return
			}
		}
	}()
	shut = true
	if err := svc.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection open after Shutdown")
	}
	var bye *syncproto.ByeError
	if !errors.As(c.Err(), &bye) || bye.Reason != syncproto.ByeShutdown {
		t.Errorf("ended with %v, want bye shutdown", c.Err())
	}
}
