package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/theonestack/visitor"
)

// HashIntegrationKey is the stored form of an integration key.
func HashIntegrationKey(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// CreateIntegrationKey stores a tenant key by its hash. The caller made the
// secret and shows it to the user once; it is never stored.
func (db *DB) CreateIntegrationKey(ctx context.Context, tenantID, name, secret string, actor Actor) (visitor.IntegrationKey, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return visitor.IntegrationKey{}, visitor.Errorf(visitor.EINVALID, "key name is required")
	}
	if len(secret) < 32 {
		return visitor.IntegrationKey{}, visitor.Errorf(visitor.EINVALID, "key secret too short")
	}
	k := visitor.IntegrationKey{
		ID: db.newID(), TenantID: tenantID, Name: name, Prefix: secret[:8],
		Hash: HashIntegrationKey(secret), CreatedAt: db.now().UTC(),
	}
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.requireTenant(ctx, tenantID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO integration_keys (id, tenant_id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.TenantID, k.Name, k.Prefix, k.Hash, tsText(k.CreatedAt)); err != nil {
			return fmt.Errorf("insert integration key: %w", err)
		}
		return tx.audit(ctx, tenantID, actor, "integration_key.create", k.ID, map[string]string{"name": name})
	})
	return k, err
}

// IntegrationKeyByHash finds an unrevoked key by the hash of its secret.
// The lookup is by hash equality in the database; the secret itself is
// never compared byte by byte in Go.
func (db *DB) IntegrationKeyByHash(ctx context.Context, hash []byte) (visitor.IntegrationKey, error) {
	var k visitor.IntegrationKey
	err := db.queryRow(ctx, `SELECT id, tenant_id, name, prefix, hash, created_at FROM integration_keys
		WHERE hash = ? AND revoked_at IS NULL`, hash).
		Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Hash, tm(&k.CreatedAt))
	return k, notFound(err, "integration key")
}

// IntegrationKeys lists a tenant's keys (revoked ones included).
func (db *DB) IntegrationKeys(ctx context.Context, tenantID string) ([]visitor.IntegrationKey, error) {
	rows, err := db.query(ctx, `SELECT id, tenant_id, name, prefix, created_at, revoked_at FROM integration_keys
		WHERE tenant_id = ? ORDER BY created_at DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list integration keys: %w", err)
	}
	defer rows.Close()
	var out []visitor.IntegrationKey
	for rows.Next() {
		var k visitor.IntegrationKey
		if err := rows.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, tm(&k.CreatedAt), tm(&k.RevokedAt)); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeIntegrationKey revokes one of the tenant's keys at once.
func (db *DB) RevokeIntegrationKey(ctx context.Context, tenantID, id string, actor Actor) error {
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE integration_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`,
			tsText(db.now()), tenantID, id)
		if err != nil {
			return fmt.Errorf("revoke integration key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return visitor.Errorf(visitor.ENOTFOUND, "integration key not found")
		}
		return tx.audit(ctx, tenantID, actor, "integration_key.revoke", id, nil)
	})
}
