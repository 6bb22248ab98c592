package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/theonestack/visitor"
)

const hostColumns = `id, tenant_id, location_id, name, email, phone, active, updated_at`

func scanHost(row interface{ Scan(...any) error }) (visitor.Host, error) {
	var h visitor.Host
	var active int
	err := row.Scan(&h.ID, &h.TenantID, &h.LocationID, &h.Name, &h.Email, &h.Phone, &active, tm(&h.UpdatedAt))
	h.Active = active != 0
	return h, err
}

// CreateHost adds a person to the tenant's host directory.
func (db *DB) CreateHost(ctx context.Context, tenantID string, h visitor.Host, actor Actor) (visitor.Host, error) {
	h.Name = strings.TrimSpace(h.Name)
	h.Email = strings.ToLower(strings.TrimSpace(h.Email))
	h.Phone = strings.TrimSpace(h.Phone)
	switch {
	case h.Name == "":
		return visitor.Host{}, visitor.Errorf(visitor.EINVALID, "host name is required")
	case h.Email != "" && !strings.Contains(h.Email, "@"):
		return visitor.Host{}, visitor.Errorf(visitor.EINVALID, "host email %q is not an email address", h.Email)
	}
	h.TenantID = tenantID
	h.Active = true
	if h.ID == "" {
		h.ID = db.newID()
	}
	h.UpdatedAt = db.now().UTC()
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.requireTenant(ctx, tenantID); err != nil {
			return err
		}
		if h.LocationID != "" {
			if _, err := tx.location(ctx, tenantID, h.LocationID); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `INSERT INTO hosts (`+hostColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			h.ID, tenantID, h.LocationID, h.Name, h.Email, h.Phone, boolInt(h.Active), tsText(h.UpdatedAt)); err != nil {
			if isUniqueViolation(err) {
				return visitor.Errorf(visitor.ECONFLICT, "host %s exists", h.ID)
			}
			return fmt.Errorf("insert host: %w", err)
		}
		if err := tx.appendChange(ctx, tenantID, h.LocationID, "host", h.ID, "upsert", h); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "host.create", h.ID, nil)
	})
	return h, err
}

// Host returns one host of the tenant.
func (db *DB) Host(ctx context.Context, tenantID, id string) (visitor.Host, error) {
	h, err := scanHost(db.queryRow(ctx, `SELECT `+hostColumns+` FROM hosts WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return h, notFound(err, "host")
}

// Hosts lists the tenant's active hosts whose name or email starts with q
// (case-insensitive; "" for all), by id, a page at a time.
func (db *DB) Hosts(ctx context.Context, tenantID, q string, limit int, cursor string) ([]visitor.Host, string, error) {
	limit = clampLimit(limit)
	prefix := likePrefix(q)
	return queryPage(ctx, db, "hosts", scanHost, func(h visitor.Host) string { return h.ID }, limit,
		`SELECT `+hostColumns+` FROM hosts
		WHERE tenant_id = ? AND active = 1 AND id > ?
		  AND (LOWER(name) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\')
		ORDER BY id LIMIT ?`, tenantID, cursor, prefix, prefix, limit+1)
}

// likePrefix makes a lower-case LIKE pattern matching strings that start
// with q, with LIKE's wildcards in q escaped.
func likePrefix(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(strings.TrimSpace(q))) + "%"
}

func (tx *Tx) host(ctx context.Context, tenantID, id string) (visitor.Host, error) {
	if c := tx.lookups; c != nil {
		if h, ok := c.hosts[tenantID+"/"+id]; ok {
			return h, nil
		}
	}
	h, err := scanHost(tx.queryRow(ctx, `SELECT `+hostColumns+` FROM hosts WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err == nil && tx.lookups != nil {
		tx.lookups.hosts[tenantID+"/"+id] = h
	}
	return h, notFound(err, "host")
}
