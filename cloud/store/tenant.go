package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/theonestack/visitor"
)

// DefaultSettings are a new tenant's settings.
func DefaultSettings() visitor.TenantSettings {
	return visitor.TenantSettings{
		AutoCheckoutTime: "23:00",
		RetentionDays:    365,
		NDAVersion:       "1",
		RequiredFields:   []string{"name"},
	}
}

// EnsureTenant creates the tenant if it does not exist and keeps its name
// current. The id is the Hub org_id.
func (db *DB) EnsureTenant(ctx context.Context, id, name string) error {
	if id == "" {
		return visitor.Errorf(visitor.EINVALID, "tenant id is required")
	}
	settings, err := json.Marshal(DefaultSettings())
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO tenants (id, name, settings, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
			id, name, string(settings), tsText(db.now()))
		if err != nil {
			return fmt.Errorf("ensure tenant: %w", err)
		}
		return nil
	})
}

// Tenant returns a tenant.
func (db *DB) Tenant(ctx context.Context, id string) (visitor.Tenant, error) {
	var t visitor.Tenant
	err := db.queryRow(ctx, `SELECT id, name, created_at FROM tenants WHERE id = ?`, id).
		Scan(&t.ID, &t.Name, tm(&t.CreatedAt))
	return t, notFound(err, "tenant")
}

// TenantIDs returns every tenant id, in order.
func (db *DB) TenantIDs(ctx context.Context) ([]string, error) {
	rows, err := db.query(ctx, `SELECT id FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Settings returns a tenant's settings, defaults filled in.
func (db *DB) Settings(ctx context.Context, tenantID string) (visitor.TenantSettings, error) {
	var raw string
	err := db.queryRow(ctx, `SELECT settings FROM tenants WHERE id = ?`, tenantID).Scan(&raw)
	if err != nil {
		return visitor.TenantSettings{}, notFound(err, "tenant")
	}
	s := DefaultSettings()
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return visitor.TenantSettings{}, fmt.Errorf("decode settings of %s: %w", tenantID, err)
	}
	return s, nil
}

// UpdateSettings replaces a tenant's settings, records who did it, and
// publishes them to the tenant's kiosks through the change feed.
func (db *DB) UpdateSettings(ctx context.Context, tenantID string, s visitor.TenantSettings, actor Actor) error {
	if s.RetentionDays < 0 || s.RetentionDays > 3650 {
		return visitor.Errorf(visitor.EINVALID, "retention must be between 0 and 3650 days")
	}
	if len(s.Logo) > 0 {
		if err := visitor.ValidateLogo(s.Logo); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE tenants SET settings = ? WHERE id = ?`, string(raw), tenantID)
		if err != nil {
			return fmt.Errorf("update settings: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return visitor.Errorf(visitor.ENOTFOUND, "tenant not found")
		}
		if err := tx.appendChange(ctx, tenantID, "", "settings", tenantID, "upsert", s); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "settings.update", tenantID, nil)
	})
}
