package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/syncproto"
)

// entityTables maps the down-feed entities a kiosk keeps to their tables.
// Entities not listed (and EntityDevice, which updates the identity) are
// ignored by snapshots; the set is open, unknown items are skipped.
var entityTables = map[string]string{
	syncproto.EntityHost:            "hosts",
	syncproto.EntityPreregistration: "preregistrations",
	syncproto.EntityBadge:           "badges",
	syncproto.EntityLocation:        "locations",
	syncproto.EntitySettings:        "settings",
}

// Cursor returns the durable down-feed cursor, "" if none.
func (db *DB) Cursor(ctx context.Context) (string, error) { return db.Meta(ctx, MetaCursor) }

// ApplyChanges applies live down-feed items and stores cursor in one
// transaction: after a crash either both are there or neither is.
func (db *DB) ApplyChanges(ctx context.Context, items []syncproto.Change, cursor string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		for i := range items {
			if err := applyChange(ctx, tx, items[i]); err != nil {
				return err
			}
		}
		return SetMeta(ctx, tx, MetaCursor, cursor)
	})
}

// ClearStaging forgets a snapshot that was interrupted.
func (db *DB) ClearStaging(ctx context.Context) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM snapshot_staging`); err != nil {
			return fmt.Errorf("clear snapshot staging: %w", err)
		}
		return nil
	})
}

// StageSnapshot keeps the items of one snapshot frame until FinishSnapshot.
// Nothing the kiosk reads changes yet.
func (db *DB) StageSnapshot(ctx context.Context, items []syncproto.Change) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		for _, it := range items {
			if _, err := tx.ExecContext(ctx, `INSERT INTO snapshot_staging (entity, id, data) VALUES (?, ?, ?)
				ON CONFLICT (entity, id) DO UPDATE SET data = excluded.data`, it.Entity, it.ID, string(it.Data)); err != nil {
				return fmt.Errorf("stage snapshot item: %w", err)
			}
		}
		return nil
	})
}

// FinishSnapshot replaces the listed entities wholesale with the staged
// items and stores cursor, in one transaction. The outbox and visits are
// untouched, and local badge assignments and used invites that the cloud
// has not acknowledged yet are kept.
func (db *DB) FinishSnapshot(ctx context.Context, entities []string, cursor string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		for _, e := range entities {
			if table, ok := entityTables[e]; ok {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+table); err != nil {
					return fmt.Errorf("snapshot: clear %s: %w", e, err)
				}
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT entity, id, data FROM snapshot_staging ORDER BY entity, id`)
		if err != nil {
			return fmt.Errorf("snapshot: read staging: %w", err)
		}
		var items []syncproto.Change
		for rows.Next() {
			var c syncproto.Change
			var data string
			if err := rows.Scan(&c.Entity, &c.ID, &data); err != nil {
				rows.Close()
				return fmt.Errorf("snapshot: read staging: %w", err)
			}
			c.Op, c.Data = syncproto.ChangeUpsert, json.RawMessage(data)
			items = append(items, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("snapshot: read staging: %w", err)
		}
		for _, it := range items {
			if err := applyChange(ctx, tx, it); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM snapshot_staging`); err != nil {
			return fmt.Errorf("snapshot: clear staging: %w", err)
		}
		return SetMeta(ctx, tx, MetaCursor, cursor)
	})
}

func applyChange(ctx context.Context, tx *sql.Tx, c syncproto.Change) error {
	if c.Op == syncproto.ChangeDelete {
		if c.Entity == syncproto.EntitySettings {
			_, err := tx.ExecContext(ctx, `DELETE FROM settings`)
			return wrapChange(c, err)
		}
		if table, ok := entityTables[c.Entity]; ok {
			_, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, c.ID)
			return wrapChange(c, err)
		}
		return nil
	}
	switch c.Entity {
	case syncproto.EntityHost:
		var h visitor.Host
		if err := json.Unmarshal(c.Data, &h); err != nil {
			return wrapChange(c, err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO hosts (id, location_id, name, email, phone, active) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET location_id = excluded.location_id, name = excluded.name,
				email = excluded.email, phone = excluded.phone, active = excluded.active`,
			c.ID, h.LocationID, h.Name, h.Email, h.Phone, h.Active)
		return wrapChange(c, err)
	case syncproto.EntityPreregistration:
		var p visitor.Preregistration
		if err := json.Unmarshal(c.Data, &p); err != nil {
			return wrapChange(c, err)
		}
		// A check-in with this invite that the cloud has not seen yet wins.
		var visitID string
		err := tx.QueryRowContext(ctx, `SELECT json_extract(payload, '$.visit_id') FROM outbox
			WHERE state = 'pending' AND kind = ? AND json_extract(payload, '$.preregistration_id') = ?
			ORDER BY seq DESC LIMIT 1`, syncproto.KindVisitCheckIn, c.ID).Scan(&visitID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return wrapChange(c, err)
		default:
			p.Status, p.VisitID = visitor.PreregUsed, visitID
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM preregistrations WHERE invite_code = ? AND id <> ?`, p.InviteCode, c.ID); err != nil {
			return wrapChange(c, err)
		}
		var expected any
		if !p.ExpectedAt.IsZero() {
			expected = ts(p.ExpectedAt)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO preregistrations (id, location_id, host_id, visitor_name, visitor_email,
			visitor_company, visitor_phone, visitor_type, invite_code, expected_at, status, visit_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET location_id = excluded.location_id, host_id = excluded.host_id,
				visitor_name = excluded.visitor_name, visitor_email = excluded.visitor_email,
				visitor_company = excluded.visitor_company, visitor_phone = excluded.visitor_phone,
				visitor_type = excluded.visitor_type, invite_code = excluded.invite_code,
				expected_at = excluded.expected_at, status = excluded.status, visit_id = excluded.visit_id`,
			c.ID, p.LocationID, p.HostID, p.Visitor.Name, p.Visitor.Email, p.Visitor.Company, p.Visitor.Phone,
			p.VisitorType, p.InviteCode, expected, p.Status, p.VisitID)
		return wrapChange(c, err)
	case syncproto.EntityBadge:
		var b visitor.Badge
		if err := json.Unmarshal(c.Data, &b); err != nil {
			return wrapChange(c, err)
		}
		// A local assignment or return the cloud has not seen yet wins.
		var kind, visitID string
		err := tx.QueryRowContext(ctx, `SELECT kind, COALESCE(json_extract(payload, '$.visit_id'), '') FROM outbox
			WHERE state = 'pending' AND kind IN (?, ?) AND json_extract(payload, '$.badge_id') = ?
			ORDER BY seq DESC LIMIT 1`, syncproto.KindBadgeAssign, syncproto.KindBadgeReturn, c.ID).Scan(&kind, &visitID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return wrapChange(c, err)
		case kind == syncproto.KindBadgeAssign:
			b.Status, b.VisitID = visitor.BadgeAssigned, visitID
		default:
			b.Status, b.VisitID = visitor.BadgeAvailable, ""
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM badges WHERE location_id = ? AND number = ? AND id <> ?`, b.LocationID, b.Number, c.ID); err != nil {
			return wrapChange(c, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO badges (id, location_id, number, status, visit_id) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET location_id = excluded.location_id, number = excluded.number,
				status = excluded.status, visit_id = excluded.visit_id`,
			c.ID, b.LocationID, b.Number, b.Status, b.VisitID)
		return wrapChange(c, err)
	case syncproto.EntityLocation:
		var l visitor.Location
		if err := json.Unmarshal(c.Data, &l); err != nil {
			return wrapChange(c, err)
		}
		if l.Timezone == "" {
			l.Timezone = "UTC"
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO locations (id, name, address, type, timezone) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address,
				type = excluded.type, timezone = excluded.timezone`,
			c.ID, l.Name, l.Address, l.Type, l.Timezone)
		return wrapChange(c, err)
	case syncproto.EntitySettings:
		if !json.Valid(c.Data) {
			return wrapChange(c, errors.New("settings are not JSON"))
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (id, data) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET data = excluded.data`, string(c.Data))
		return wrapChange(c, err)
	case syncproto.EntityVisit:
		return wrapChange(c, applyVisitState(ctx, tx, c))
	case syncproto.EntityDevice:
		var d visitor.Device
		if err := json.Unmarshal(c.Data, &d); err != nil {
			return wrapChange(c, err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE identity SET name = ?, location_id = CASE WHEN ? <> '' THEN ? ELSE location_id END
			WHERE id = 1 AND device_id = ?`, d.Name, d.LocationID, d.LocationID, c.ID)
		return wrapChange(c, err)
	}
	return nil
}

// applyVisitState brings a visit of this location as the cloud knows it
// into the local on-site list: a staff check-in appears, a check-out made
// anywhere ends the visit here too. A visit checked out locally never
// reopens, and a visit this kiosk still has a pending check-out for keeps
// it. A delete is ignored: visits leave the kiosk only by retention or
// unpair.
func applyVisitState(ctx context.Context, tx *sql.Tx, c syncproto.Change) error {
	if c.Op == syncproto.ChangeDelete {
		return nil
	}
	var v syncproto.VisitState
	if err := json.Unmarshal(c.Data, &v); err != nil {
		return err
	}
	if v.ID == "" || v.Visitor.Name == "" || v.CheckedInMs == 0 {
		return nil // not a visit this kiosk can show
	}
	in := ts(time.UnixMilli(v.CheckedInMs))
	var out any
	if v.Status == string(visitor.VisitCheckedOut) && v.CheckedOutMs != 0 {
		out = ts(time.UnixMilli(v.CheckedOutMs))
	}
	vtype := v.VisitorType
	if vtype == "" {
		vtype = visitor.TypeGuest
	}
	status := v.Status
	if status != string(visitor.VisitCheckedOut) {
		status = string(visitor.VisitCheckedIn)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO visits (id, location_id, host_id, visitor_name, visitor_email,
		visitor_company, visitor_phone, visitor_type, status, badge_number, checked_in_at, checked_out_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		v.ID, v.LocationID, v.HostID, v.Visitor.Name, v.Visitor.Email, v.Visitor.Company, v.Visitor.Phone,
		vtype, status, v.BadgeNumber, in, out); err != nil {
		return err
	}
	if status == string(visitor.VisitCheckedOut) {
		_, err := tx.ExecContext(ctx, `UPDATE visits SET status = ?, checked_out_at = ? WHERE id = ? AND status = ?`,
			string(visitor.VisitCheckedOut), out, v.ID, string(visitor.VisitCheckedIn))
		return err
	}
	return nil
}

func wrapChange(c syncproto.Change, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("apply %s %s of %s: %w", c.Op, c.Entity, c.ID, err)
}

// Hosts searches the synced directory: active hosts of this location (or
// of every location) whose name, a word of the name, or email starts with
// q, case-insensitive, by name; at most limit. An empty q lists them all.
func (db *DB) Hosts(ctx context.Context, locationID, q string, limit int) ([]visitor.Host, error) {
	query := `SELECT h.id, h.location_id, h.name, h.email, h.phone, h.active, COALESCE(i.tenant_id, '')
		FROM hosts h LEFT JOIN identity i ON i.id = 1
		WHERE h.active = 1 AND (h.location_id = '' OR h.location_id = ?)`
	args := []any{locationID}
	if q = strings.TrimSpace(q); q != "" {
		p := likePrefix(q)
		query += ` AND (h.name LIKE ? ESCAPE '\' OR h.name LIKE ? ESCAPE '\' OR h.email LIKE ? ESCAPE '\')`
		args = append(args, p, "% "+p, p)
	}
	query += ` ORDER BY h.name COLLATE NOCASE, h.id LIMIT ?`
	args = append(args, limit)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search hosts: %w", err)
	}
	defer rows.Close()
	hosts := []visitor.Host{}
	for rows.Next() {
		var h visitor.Host
		if err := rows.Scan(&h.ID, &h.LocationID, &h.Name, &h.Email, &h.Phone, &h.Active, &h.TenantID); err != nil {
			return nil, fmt.Errorf("search hosts: %w", err)
		}
		hosts = append(hosts, h)
	}
	return hosts, rows.Err()
}
