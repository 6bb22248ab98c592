package store

import (
	"context"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
)

// WebhookSecretOverlap is how long a replaced signing secret keeps
// verifying, so a sender can switch to the new one without refusals.
const WebhookSecretOverlap = 24 * time.Hour

// RotateWebhookSecret makes key the tenant's current webhook signing
// secret. A secret it replaces keeps working for WebhookSecretOverlap. The
// caller made the key and shows it to the user once.
func (db *DB) RotateWebhookSecret(ctx context.Context, tenantID string, key []byte, hint string, actor Actor) (visitor.WebhookSecret, error) {
	if len(key) < 24 || len(key) > 64 {
		return visitor.WebhookSecret{}, visitor.Errorf(visitor.EINVALID, "a signing secret must be 24 to 64 bytes")
	}
	now := db.now().UTC()
	s := visitor.WebhookSecret{ID: db.newID(), TenantID: tenantID, Key: key, Hint: hint, CreatedAt: now}
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.requireTenant(ctx, tenantID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE webhook_secrets SET expires_at = ? WHERE tenant_id = ? AND expires_at IS NULL`,
			tsText(now.Add(WebhookSecretOverlap)), tenantID); err != nil {
			return fmt.Errorf("expire webhook secret: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO webhook_secrets (id, tenant_id, key, hint, created_at) VALUES (?, ?, ?, ?, ?)`,
			s.ID, tenantID, key, hint, tsText(now)); err != nil {
			return fmt.Errorf("insert webhook secret: %w", err)
		}
		return tx.audit(ctx, tenantID, actor, "webhook_secret.rotate", s.ID, map[string]string{"hint": hint})
	})
	return s, err
}

// WebhookSecrets returns the tenant's secrets that still verify, newest
// first. None means inbound webhooks are not signature-checked.
func (db *DB) WebhookSecrets(ctx context.Context, tenantID string) ([]visitor.WebhookSecret, error) {
	rows, err := db.query(ctx, `SELECT id, tenant_id, key, hint, created_at, expires_at FROM webhook_secrets
		WHERE tenant_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC, id`,
		tenantID, tsText(db.now()))
	if err != nil {
		return nil, fmt.Errorf("list webhook secrets: %w", err)
	}
	defer rows.Close()
	var out []visitor.WebhookSecret
	for rows.Next() {
		var s visitor.WebhookSecret
		if err := rows.Scan(&s.ID, &s.TenantID, &s.Key, &s.Hint, tm(&s.CreatedAt), tm(&s.ExpiresAt)); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// RemoveWebhookSecrets deletes every signing secret of the tenant at once:
// inbound webhooks are accepted unsigned again.
func (db *DB) RemoveWebhookSecrets(ctx context.Context, tenantID string, actor Actor) error {
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM webhook_secrets WHERE tenant_id = ?`, tenantID)
		if err != nil {
			return fmt.Errorf("remove webhook secrets: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return visitor.Errorf(visitor.ENOTFOUND, "no signing secret is set")
		}
		return tx.audit(ctx, tenantID, actor, "webhook_secret.remove", tenantID, nil)
	})
}
