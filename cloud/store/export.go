package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
)

// ExportVisit is one row of the visitors-today export.
type ExportVisit struct {
	ID           string     `json:"id"`
	TenantID     string     `json:"tenant_id"`
	LocationID   string     `json:"location_id"`
	LocationName string     `json:"location_name"`
	VisitorName  string     `json:"visitor_name"`
	Company      string     `json:"company"`
	Email        string     `json:"email"`
	HostName     string     `json:"host_name"`
	Status       string     `json:"status"`
	CheckedInAt  time.Time  `json:"checked_in_at"`
	CheckedOutAt *time.Time `json:"checked_out_at"`
	BadgeNumber  string     `json:"badge_number"`
}

// LocalDay returns the UTC bounds [from, to) of the calendar day that
// contains now in the IANA timezone tz (UTC when tz is unknown).
func LocalDay(now time.Time, tz string) (from, to time.Time) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	local := now.In(loc)
	start := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	return start.UTC(), start.AddDate(0, 0, 1).UTC()
}

// EachVisitToday streams today's visits — each location's own local date
// — of one tenant, or of every tenant when tenantID is "", calling fn for
// each row as it is read. Memory stays bounded whatever the count.
func (db *DB) EachVisitToday(ctx context.Context, tenantID string, fn func(ExportVisit) error) error {
	now := db.now()
	type place struct{ tenant, id, name, tz string }
	var places []place
	if err := db.EachLocation(ctx, tenantID, func(l visitor.Location) error {
		places = append(places, place{l.TenantID, l.ID, l.Name, l.Timezone})
		return nil
	}); err != nil {
		return err
	}
	for _, p := range places {
		from, to := LocalDay(now, p.tz)
		rows, err := db.query(ctx, `SELECT v.id, v.visitor_name, v.visitor_company, v.visitor_email, COALESCE(h.name, ''),
				v.status, v.checked_in_at, v.checked_out_at, v.badge_number
			FROM visits v LEFT JOIN hosts h ON h.tenant_id = v.tenant_id AND h.id = v.host_id
			WHERE v.tenant_id = ? AND v.location_id = ? AND v.checked_in_at >= ? AND v.checked_in_at < ?
			ORDER BY v.checked_in_at, v.id`, p.tenant, p.id, tsText(from), tsText(to))
		if err != nil {
			return fmt.Errorf("visits today: %w", err)
		}
		if err := scanExport(rows, p.tenant, p.id, p.name, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanExport(rows *sql.Rows, tenant, locID, locName string, fn func(ExportVisit) error) error {
	defer rows.Close()
	for rows.Next() {
		e := ExportVisit{TenantID: tenant, LocationID: locID, LocationName: locName}
		var out time.Time
		if err := rows.Scan(&e.ID, &e.VisitorName, &e.Company, &e.Email, &e.HostName, &e.Status,
			tm(&e.CheckedInAt), tm(&out), &e.BadgeNumber); err != nil {
			return err
		}
		if !out.IsZero() {
			e.CheckedOutAt = &out
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
