package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/theonestack/visitor"
)

const preregColumns = `id, tenant_id, location_id, host_id, visitor_name, visitor_email, visitor_company, visitor_phone,
	visitor_type, invite_code, expected_at, status, visit_id, updated_at`

func scanPrereg(row interface{ Scan(...any) error }) (visitor.Preregistration, error) {
	var p visitor.Preregistration
	err := row.Scan(&p.ID, &p.TenantID, &p.LocationID, &p.HostID, &p.Visitor.Name, &p.Visitor.Email, &p.Visitor.Company,
		&p.Visitor.Phone, &p.VisitorType, &p.InviteCode, tm(&p.ExpectedAt), &p.Status, &p.VisitID, tm(&p.UpdatedAt))
	return p, err
}

// CreatePreregistration adds an expected guest with an invite code (made
// by the caller, unique within the tenant) and publishes it to the
// location's kiosks.
func (db *DB) CreatePreregistration(ctx context.Context, tenantID string, p visitor.Preregistration, actor Actor) (visitor.Preregistration, error) {
	p.Visitor = p.Visitor.Normalize()
	if err := p.Visitor.Validate(); err != nil {
		return visitor.Preregistration{}, err
	}
	p.InviteCode = strings.ToUpper(strings.TrimSpace(p.InviteCode))
	if p.InviteCode == "" {
		return visitor.Preregistration{}, visitor.Errorf(visitor.EINVALID, "invite code is required")
	}
	if p.VisitorType == "" {
		p.VisitorType = visitor.TypeGuest
	}
	if p.ID == "" {
		p.ID = db.newID()
	}
	p.TenantID = tenantID
	p.Status = visitor.PreregPending
	p.UpdatedAt = db.now().UTC()
	err := db.write(ctx, func(tx *Tx) error {
		if _, err := tx.location(ctx, tenantID, p.LocationID); err != nil {
			return err
		}
		if p.HostID != "" {
			if _, err := tx.host(ctx, tenantID, p.HostID); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `INSERT INTO preregistrations (`+preregColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, tenantID, p.LocationID, p.HostID, p.Visitor.Name, p.Visitor.Email, p.Visitor.Company, p.Visitor.Phone,
			p.VisitorType, p.InviteCode, ts(p.ExpectedAt), string(p.Status), p.VisitID, tsText(p.UpdatedAt)); err != nil {
			if isUniqueViolation(err) {
				return visitor.Errorf(visitor.ECONFLICT, "invite code %s is in use", p.InviteCode)
			}
			return fmt.Errorf("insert preregistration: %w", err)
		}
		if err := tx.appendChange(ctx, tenantID, p.LocationID, "preregistration", p.ID, "upsert", p); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "preregistration.create", p.ID, nil)
	})
	return p, err
}

// Preregistrations lists the tenant's pre-registrations by id, a page at a time.
func (db *DB) Preregistrations(ctx context.Context, tenantID, locationID string, limit int, cursor string) ([]visitor.Preregistration, string, error) {
	limit = clampLimit(limit)
	q := `SELECT ` + preregColumns + ` FROM preregistrations WHERE tenant_id = ? AND id > ?`
	args := []any{tenantID, cursor}
	if locationID != "" {
		q += ` AND location_id = ?`
		args = append(args, locationID)
	}
	return queryPage(ctx, db, "preregistrations", scanPrereg, func(p visitor.Preregistration) string { return p.ID }, limit,
		q+` ORDER BY id LIMIT ?`, append(args, limit+1)...)
}
