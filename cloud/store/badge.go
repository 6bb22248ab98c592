package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/theonestack/visitor"
)

const badgeColumns = `id, tenant_id, location_id, number, status, visit_id, updated_at`

func scanBadge(row interface{ Scan(...any) error }) (visitor.Badge, error) {
	var b visitor.Badge
	err := row.Scan(&b.ID, &b.TenantID, &b.LocationID, &b.Number, &b.Status, &b.VisitID, tm(&b.UpdatedAt))
	return b, err
}

// AddBadge adds a physical badge to a location's inventory.
func (db *DB) AddBadge(ctx context.Context, tenantID, locationID, number string, actor Actor) (visitor.Badge, error) {
	number = strings.TrimSpace(number)
	if number == "" || len(number) > 32 {
		return visitor.Badge{}, visitor.Errorf(visitor.EINVALID, "badge number must be 1 to 32 characters")
	}
	b := visitor.Badge{ID: db.newID(), TenantID: tenantID, LocationID: locationID, Number: number,
		Status: visitor.BadgeAvailable, UpdatedAt: db.now().UTC()}
	err := db.write(ctx, func(tx *Tx) error {
		if _, err := tx.location(ctx, tenantID, locationID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO badges (`+badgeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.ID, tenantID, locationID, number, string(b.Status), "", tsText(b.UpdatedAt)); err != nil {
			if isUniqueViolation(err) {
				return visitor.Errorf(visitor.ECONFLICT, "badge %s exists at this location", number)
			}
			return fmt.Errorf("insert badge: %w", err)
		}
		if err := tx.appendChange(ctx, tenantID, locationID, "badge", b.ID, "upsert", b); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "badge.add", b.ID, map[string]string{"number": number})
	})
	return b, err
}

// Badges lists a location's badges (all locations with locationID "").
func (db *DB) Badges(ctx context.Context, tenantID, locationID string, limit int, cursor string) ([]visitor.Badge, string, error) {
	limit = clampLimit(limit)
	q := `SELECT ` + badgeColumns + ` FROM badges WHERE tenant_id = ? AND id > ?`
	args := []any{tenantID, cursor}
	if locationID != "" {
		q += ` AND location_id = ?`
		args = append(args, locationID)
	}
	return queryPage(ctx, db, "badges", scanBadge, func(b visitor.Badge) string { return b.ID }, limit,
		q+` ORDER BY id LIMIT ?`, append(args, limit+1)...)
}

// SetBadgeStatus assigns (to a visit), returns or retires a badge. A
// retired badge stays retired.
func (db *DB) SetBadgeStatus(ctx context.Context, tenantID, id string, status visitor.BadgeStatus, visitID string, actor Actor) (visitor.Badge, error) {
	if status == visitor.BadgeAssigned && visitID == "" {
		return visitor.Badge{}, visitor.Errorf(visitor.EINVALID, "assigning a badge needs a visit")
	}
	if status != visitor.BadgeAssigned {
		visitID = ""
	}
	var b visitor.Badge
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		b, err = scanBadge(tx.queryRow(ctx, `SELECT `+badgeColumns+` FROM badges WHERE tenant_id = ? AND id = ?`, tenantID, id))
		if err != nil {
			return notFound(err, "badge")
		}
		if b.Status == visitor.BadgeRetired {
			return visitor.Errorf(visitor.ECONFLICT, "badge %s is retired", b.Number)
		}
		b.Status, b.VisitID, b.UpdatedAt = status, visitID, db.now().UTC()
		if _, err := tx.exec(ctx, `UPDATE badges SET status = ?, visit_id = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			string(status), visitID, tsText(b.UpdatedAt), tenantID, id); err != nil {
			return fmt.Errorf("update badge: %w", err)
		}
		if err := tx.appendChange(ctx, tenantID, b.LocationID, "badge", b.ID, "upsert", b); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "badge."+string(status), b.ID, map[string]string{"visit_id": visitID})
	})
	return b, err
}
