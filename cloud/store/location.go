package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/theonestack/visitor"
)

const locationColumns = `id, tenant_id, name, address, type, timezone, created_at, updated_at`

func scanLocation(row interface{ Scan(...any) error }) (visitor.Location, error) {
	var l visitor.Location
	err := row.Scan(&l.ID, &l.TenantID, &l.Name, &l.Address, &l.Type, &l.Timezone, tm(&l.CreatedAt), tm(&l.UpdatedAt))
	return l, err
}

// CreateLocation adds a location to the tenant.
func (db *DB) CreateLocation(ctx context.Context, tenantID string, l visitor.Location, actor Actor) (visitor.Location, error) {
	l.Name = strings.TrimSpace(l.Name)
	l.Address = strings.TrimSpace(l.Address)
	l.Type = strings.TrimSpace(l.Type)
	if l.Timezone == "" {
		l.Timezone = "UTC"
	}
	if l.Type == "" {
		l.Type = "office"
	}
	if err := l.Validate(); err != nil {
		return visitor.Location{}, err
	}
	l.TenantID = tenantID
	if l.ID == "" {
		l.ID = db.newID()
	}
	l.CreatedAt = db.now().UTC()
	l.UpdatedAt = l.CreatedAt
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.requireTenant(ctx, tenantID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO locations (`+locationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.TenantID, l.Name, l.Address, l.Type, l.Timezone, tsText(l.CreatedAt), tsText(l.UpdatedAt)); err != nil {
			if isUniqueViolation(err) {
				return visitor.Errorf(visitor.ECONFLICT, "location %s exists", l.ID)
			}
			return fmt.Errorf("insert location: %w", err)
		}
		if err := tx.appendChange(ctx, tenantID, l.ID, "location", l.ID, "upsert", l); err != nil {
			return err
		}
		if err := tx.indexTerms(ctx, tenantID, searchLocation, l.ID, l.Name, l.Address); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "location.create", l.ID, map[string]string{"name": l.Name})
	})
	return l, err
}

// Location returns one of the tenant's locations.
func (db *DB) Location(ctx context.Context, tenantID, id string) (visitor.Location, error) {
	l, err := scanLocation(db.queryRow(ctx, `SELECT `+locationColumns+` FROM locations WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return l, notFound(err, "location")
}

// Locations lists the tenant's locations by id, a page at a time. The
// returned cursor is "" on the last page.
func (db *DB) Locations(ctx context.Context, tenantID string, limit int, cursor string) ([]visitor.Location, string, error) {
	limit = clampLimit(limit)
	return queryPage(ctx, db, "locations", scanLocation, func(l visitor.Location) string { return l.ID }, limit,
		`SELECT `+locationColumns+` FROM locations
		WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, tenantID, cursor, limit+1)
}

// EachLocation calls fn for every location of every tenant (tenantID "")
// or of one tenant, streaming rows without loading them all.
func (db *DB) EachLocation(ctx context.Context, tenantID string, fn func(visitor.Location) error) error {
	q := `SELECT ` + locationColumns + ` FROM locations`
	var args []any
	if tenantID != "" {
		q += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	rows, err := db.query(ctx, q+` ORDER BY tenant_id, id`, args...)
	if err != nil {
		return fmt.Errorf("list locations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLocation(rows)
		if err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryPage runs a list query that asks for limit+1 rows and returns one
// page of them with the cursor of the next page ("" on the last).
func queryPage[T any](ctx context.Context, db *DB, what string, scan func(interface{ Scan(...any) error }) (T, error),
	key func(T) string, limit int, q string, args ...any) ([]T, string, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return page(out, limit, key)
}

// page trims a limit+1 result to limit and returns the cursor of the next page.
func page[T any](items []T, limit int, key func(T) string) ([]T, string, error) {
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	return items, key(items[limit-1]), nil
}

func (tx *Tx) requireTenant(ctx context.Context, tenantID string) error {
	var one int
	err := tx.queryRow(ctx, `SELECT 1 FROM tenants WHERE id = ?`, tenantID).Scan(&one)
	return notFound(err, "tenant")
}

func (tx *Tx) location(ctx context.Context, tenantID, id string) (visitor.Location, error) {
	if c := tx.lookups; c != nil {
		if l, ok := c.locations[tenantID+"/"+id]; ok {
			return l, nil
		}
	}
	l, err := scanLocation(tx.queryRow(ctx, `SELECT `+locationColumns+` FROM locations WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err == nil && tx.lookups != nil {
		tx.lookups.locations[tenantID+"/"+id] = l
	}
	return l, notFound(err, "location")
}
