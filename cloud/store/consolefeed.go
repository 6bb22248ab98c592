package store

import (
	"context"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
)

// VisitMark is one visit event's place in the global visit-event order:
// enough for a watcher to know which tenant's visitor log changed.
type VisitMark struct {
	Seq      int64
	TenantID string
}

// VisitMarksAfter returns up to limit visit events (check-ins and
// check-outs, from kiosks and staff alike) with a seq above after, in seq
// order. It reads the primary key range only, so a watcher polling it
// twice a second costs next to nothing; it works across cloud instances
// because it reads the shared database, not process memory.
//
// On PostgreSQL a seq is taken before its transaction commits, so a lower
// seq may become visible after a higher one: a watcher should look back a
// little below the highest seq it has seen and remember which seqs it
// already knows.
func (db *DB) VisitMarksAfter(ctx context.Context, after int64, limit int) ([]VisitMark, error) {
	if limit < 1 {
		limit = DefaultLimit
	}
	rows, err := db.query(ctx, `SELECT seq, tenant_id FROM visit_events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("visit marks: %w", err)
	}
	defer rows.Close()
	var out []VisitMark
	for rows.Next() {
		var m VisitMark
		if err := rows.Scan(&m.Seq, &m.TenantID); err != nil {
			return nil, fmt.Errorf("visit marks: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// LatestVisitSeq returns the highest visit event seq of any tenant (0 if
// none): where a new watcher starts.
func (db *DB) LatestVisitSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := db.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM visit_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("latest visit seq: %w", err)
	}
	return n, nil
}

// EachVisitBetween streams a tenant's visits whose check-in falls on a
// local date from first to last inclusive (only the calendar dates of first
// and last count), each location judged by its own timezone, calling fn
// for each row as it is read: location by location, then by check-in
// time. Memory stays bounded whatever the count.
func (db *DB) EachVisitBetween(ctx context.Context, tenantID string, first, last time.Time, fn func(ExportVisit) error) error {
	if last.Before(first) {
		return visitor.Errorf(visitor.EINVALID, "the end date is before the start date")
	}
	type place struct{ id, name, tz string }
	var places []place
	if err := db.EachLocation(ctx, tenantID, func(l visitor.Location) error {
		places = append(places, place{l.ID, l.Name, l.Timezone})
		return nil
	}); err != nil {
		return err
	}
	for _, p := range places {
		tz, err := time.LoadLocation(p.tz)
		if err != nil {
			tz = time.UTC
		}
		from := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, tz)
		to := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, tz).AddDate(0, 0, 1)
		rows, err := db.query(ctx, `SELECT v.id, v.visitor_name, v.visitor_company, v.visitor_email, COALESCE(h.name, ''),
				v.status, v.checked_in_at, v.checked_out_at, v.badge_number
			FROM visits v LEFT JOIN hosts h ON h.tenant_id = v.tenant_id AND h.id = v.host_id
			WHERE v.tenant_id = ? AND v.location_id = ? AND v.checked_in_at >= ? AND v.checked_in_at < ?
			ORDER BY v.checked_in_at, v.id`, tenantID, p.id, tsText(from), tsText(to))
		if err != nil {
			return fmt.Errorf("visits between: %w", err)
		}
		if err := scanExport(rows, tenantID, p.id, p.name, fn); err != nil {
			return fmt.Errorf("visits between: %w", err)
		}
	}
	return nil
}

// CancelPreregistration cancels a pending pre-registration: its invite
// code stops working and the cancellation reaches the location's kiosks
// through the change feed. A kiosk that was offline and already checked
// the guest in keeps that visit (it is flagged, never rejected). A used or
// already cancelled pre-registration cannot be cancelled (ECONFLICT).
func (db *DB) CancelPreregistration(ctx context.Context, tenantID, id string, actor Actor) (visitor.Preregistration, error) {
	var p visitor.Preregistration
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		p, err = scanPrereg(tx.queryRow(ctx, `SELECT `+preregColumns+` FROM preregistrations WHERE tenant_id = ? AND id = ?`, tenantID, id))
		if err = notFound(err, "preregistration"); err != nil {
			return err
		}
		if p.Status != visitor.PreregPending {
			return visitor.Errorf(visitor.ECONFLICT, "preregistration is %s, not pending", p.Status)
		}
		p.Status = visitor.PreregCancelled
		p.UpdatedAt = db.now().UTC()
		if _, err := tx.exec(ctx, `UPDATE preregistrations SET status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			string(p.Status), tsText(p.UpdatedAt), tenantID, id); err != nil {
			return fmt.Errorf("cancel preregistration: %w", err)
		}
		if err := tx.appendChange(ctx, tenantID, p.LocationID, "preregistration", p.ID, "upsert", p); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "preregistration.cancel", p.ID, nil)
	})
	return p, err
}
