package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

func TestWebhookSecretRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		db := f.db
		k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)

		if got, err := db.WebhookSecrets(ctx, "org_acme"); err != nil || len(got) != 0 {
			t.Fatalf("no secret yet: %v, %v", got, err)
		}
		if _, err := db.RotateWebhookSecret(ctx, "org_acme", []byte("short"), "x", staff); visitor.ErrorCode(err) != visitor.EINVALID {
			t.Errorf("short key: got %v, want EINVALID", err)
		}
		if _, err := db.RotateWebhookSecret(ctx, "org_nobody", k1, "x", staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("unknown tenant: got %v, want ENOTFOUND", err)
		}
		if _, err := db.RotateWebhookSecret(ctx, "org_acme", k1, "whsec_AQ", staff); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(time.Hour)
		if _, err := db.RotateWebhookSecret(ctx, "org_acme", k2, "whsec_Ag", staff); err != nil {
			t.Fatal(err)
		}
		// Both verify during the overlap, newest first; the old one expires.
		got, err := db.WebhookSecrets(ctx, "org_acme")
		if err != nil || len(got) != 2 || !bytes.Equal(got[0].Key, k2) || !bytes.Equal(got[1].Key, k1) ||
			!got[0].ExpiresAt.IsZero() || !got[1].ExpiresAt.Equal(f.clock.Now().Add(store.WebhookSecretOverlap)) {
			t.Fatalf("during overlap: %+v, %v", got, err)
		}
		// Another tenant sees none of them.
		if other, err := db.WebhookSecrets(ctx, "org_globex"); err != nil || len(other) != 0 {
			t.Errorf("globex secrets = %+v, %v", other, err)
		}
		f.clock.Add(store.WebhookSecretOverlap + time.Second)
		if got, err = db.WebhookSecrets(ctx, "org_acme"); err != nil || len(got) != 1 || !bytes.Equal(got[0].Key, k2) {
			t.Fatalf("after overlap: %+v, %v", got, err)
		}
		if err := db.RemoveWebhookSecrets(ctx, "org_acme", staff); err != nil {
			t.Fatal(err)
		}
		if got, err = db.WebhookSecrets(ctx, "org_acme"); err != nil || len(got) != 0 {
			t.Errorf("after removal: %+v, %v", got, err)
		}
		if err := db.RemoveWebhookSecrets(ctx, "org_acme", staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("second removal: got %v, want ENOTFOUND", err)
		}
		// Each change is on the audit trail, without the secret.
		recs, _, err := db.Audit(ctx, "org_acme", 50, "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range recs {
			switch r.Action {
			case "webhook_secret.rotate", "webhook_secret.remove":
				n++
				if bytes.Contains(r.Details, []byte("AQEBAQ")) || bytes.Contains(r.Details, k1) {
					t.Errorf("audit details hold the secret: %s", r.Details)
				}
			}
		}
		if n != 3 {
			t.Errorf("audit records for secrets = %d, want 3", n)
		}
	})
}
