package store_test

import (
	"context"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

func newPairing(t *testing.T, f *fixture, n byte) store.Pairing {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(make32(n)).Public().(ed25519.PublicKey)
	p := store.Pairing{
		DeviceCodeHash: "device-hash-" + string('a'+rune(n)), UserCodeHash: "user-hash-" + string('a'+rune(n)),
		PublicKey: pub, Name: "Lobby kiosk", AppVersion: "1.2.3", Interval: 5,
		ExpiresAt: f.clock.Now().Add(10 * time.Minute),
	}
	if err := f.db.CreatePairing(context.Background(), p); err != nil {
		t.Fatalf("create pairing: %v", err)
	}
	return p
}

func make32(n byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = n
	}
	return b
}

func TestPairingLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		p := newPairing(t, f, 1)

		if err := f.db.CreatePairing(ctx, store.Pairing{DeviceCodeHash: "other", UserCodeHash: p.UserCodeHash,
			PublicKey: p.PublicKey, ExpiresAt: p.ExpiresAt}); visitor.ErrorCode(err) != visitor.ECONFLICT {
			t.Errorf("second pairing with a live user code: %v, want conflict", err)
		}
		got, err := f.db.LivePairingByUserCode(ctx, p.UserCodeHash)
		if err != nil || got.DeviceCodeHash != p.DeviceCodeHash || !got.PublicKey.Equal(p.PublicKey) || got.Status != store.PairingPending {
			t.Fatalf("live pairing = %+v, %v", got, err)
		}

		// First poll: pending. A second one at once: slow_down, interval 10.
		steps := []struct {
			advance      time.Duration
			want         store.PollOutcome
			wantInterval int
		}{
			{0, store.PollPending, 5},
			{time.Second, store.PollSlowDown, 10},
			{6 * time.Second, store.PollSlowDown, 15}, // 6 s < 10 s
			{15 * time.Second, store.PollPending, 15},
		}
		for i, s := range steps {
			f.clock.Add(s.advance)
			out, _, interval, err := f.db.PollPairing(ctx, p.DeviceCodeHash, 5, 500*time.Millisecond)
			if err != nil || out != s.want || interval != s.wantInterval {
				t.Errorf("poll %d = %v interval %d, %v; want %v interval %d", i, out, interval, err, s.want, s.wantInterval)
			}
		}

		// Another tenant's location is refused as not found; nothing changes.
		if _, err := f.db.ApprovePairing(ctx, store.Approval{TenantID: "org_acme", UserCodeHash: p.UserCodeHash,
			LocationID: f.otherLoc.ID}, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("approve with another tenant's location: %v, want not_found", err)
		}
		d, err := f.db.ApprovePairing(ctx, store.Approval{TenantID: "org_acme", UserCodeHash: p.UserCodeHash,
			LocationID: f.loc.ID, Name: "  Front desk "}, staff)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "Front desk" || d.TenantID != "org_acme" || d.LocationID != f.loc.ID || !ed25519.PublicKey(d.PublicKey).Equal(p.PublicKey) || d.Status != visitor.DeviceActive {
			t.Errorf("device = %+v", d)
		}
		stored, err := f.db.DeviceByID(ctx, d.ID)
		if err != nil || stored.Name != "Front desk" {
			t.Errorf("stored device = %+v, %v", stored, err)
		}
		// The code is no longer live: a second approval finds nothing.
		if _, err := f.db.ApprovePairing(ctx, store.Approval{TenantID: "org_acme", UserCodeHash: p.UserCodeHash,
			LocationID: f.loc.ID}, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("second approval: %v, want not_found", err)
		}

		f.clock.Add(20 * time.Second)
		out, b, _, err := f.db.PollPairing(ctx, p.DeviceCodeHash, 5, 0)
		want := store.Binding{DeviceID: d.ID, TenantID: "org_acme", TenantName: "ORG_ACME", LocationID: f.loc.ID,
			LocationName: "HQ Lobby", DisplayName: "Front desk"}
		if err != nil || out != store.PollApproved || b != want {
			t.Fatalf("poll after approval = %v %+v, %v", out, b, err)
		}
		// Single use: the next poll is expired, however long it waited.
		f.clock.Add(time.Minute)
		if out, _, _, err := f.db.PollPairing(ctx, p.DeviceCodeHash, 5, 0); err != nil || out != store.PollExpired {
			t.Errorf("reused code = %v, %v; want expired", out, err)
		}
		if out, _, _, err := f.db.PollPairing(ctx, "unknown", 5, 0); err != nil || out != store.PollExpired {
			t.Errorf("unknown code = %v, %v; want expired", out, err)
		}
	})
}

func TestPairingDenyExpireRename(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		denied := newPairing(t, f, 2)
		expired := newPairing(t, f, 3)

		if err := f.db.DenyPairing(ctx, "org_acme", denied.UserCodeHash, staff); err != nil {
			t.Fatal(err)
		}
		if out, _, _, err := f.db.PollPairing(ctx, denied.DeviceCodeHash, 5, 0); err != nil || out != store.PollDenied {
			t.Errorf("denied poll = %v, %v", out, err)
		}
		if out, _, _, _ := f.db.PollPairing(ctx, denied.DeviceCodeHash, 5, 0); out != store.PollExpired {
			t.Errorf("poll after denial answered = %v, want expired (used up)", out)
		}

		f.clock.Add(10 * time.Minute)
		if out, _, _, err := f.db.PollPairing(ctx, expired.DeviceCodeHash, 5, 0); err != nil || out != store.PollExpired {
			t.Errorf("expired poll = %v, %v", out, err)
		}
		if _, err := f.db.LivePairingByUserCode(ctx, expired.UserCodeHash); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("expired code still live: %v", err)
		}
		if _, err := f.db.ApprovePairing(ctx, store.Approval{TenantID: "org_acme", UserCodeHash: expired.UserCodeHash,
			LocationID: f.loc.ID}, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("approve expired: %v", err)
		}
		// The expired user code may be issued again, to a new device code.
		again := expired
		again.DeviceCodeHash = "device-hash-again"
		again.ExpiresAt = f.clock.Now().Add(10 * time.Minute)
		if err := f.db.CreatePairing(ctx, again); err != nil {
			t.Errorf("reissue an expired user code: %v", err)
		}
		// A day later, the old rows are gone.
		f.clock.Add(25 * time.Hour)
		newPairing(t, f, 4)
		if _, err := f.db.PairingByDeviceCode(ctx, denied.DeviceCodeHash); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("old pairing kept: %v", err)
		}

		p := newPairing(t, f, 5)
		d, err := f.db.ApprovePairing(ctx, store.Approval{TenantID: "org_acme", UserCodeHash: p.UserCodeHash, LocationID: f.loc.ID}, staff)
		if err != nil || d.Name != "Lobby kiosk" {
			t.Fatalf("approve without a name = %+v, %v (want the kiosk's suggestion)", d, err)
		}
		renames := []struct {
			tenant, name string
			code         string
		}{
			{"org_acme", "Reception 2", ""},
			{"org_acme", "   ", visitor.EINVALID},
			{"org_globex", "Stolen", visitor.ENOTFOUND},
		}
		for _, r := range renames {
			got, err := f.db.RenameDevice(ctx, r.tenant, d.ID, r.name, staff)
			if visitor.ErrorCode(err) != r.code {
				t.Errorf("rename %q in %s: %v, want %q", r.name, r.tenant, err, r.code)
			}
			if err == nil && got.Name != r.name {
				t.Errorf("renamed to %q", got.Name)
			}
		}
	})
}

// TestPollPairingConcurrent: of many concurrent polls after approval,
// exactly one receives the binding.
func TestPollPairingConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		p := newPairing(t, f, 6)
		if _, err := f.db.ApprovePairing(ctx, store.Approval{TenantID: "org_acme", UserCodeHash: p.UserCodeHash, LocationID: f.loc.ID}, staff); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make(chan store.PollOutcome, 8)
		for range 8 {
			wg.Go(func() {
				out, _, _, err := f.db.PollPairing(ctx, p.DeviceCodeHash, 5, 0)
				if err != nil {
					t.Error(err)
				}
				results <- out
			})
		}
		wg.Wait()
		close(results)
		approved := 0
		for out := range results {
			if out == store.PollApproved {
				approved++
			}
		}
		if approved != 1 {
			t.Errorf("%d polls got the binding, want exactly 1", approved)
		}
	})
}
