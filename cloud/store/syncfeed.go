package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/theonestack/visitor"
)

// cursorPrefix starts every down-feed cursor this store issues. A cursor is
// opaque to kiosks; inside it is the seq of the last change covered.
const cursorPrefix = "c1."

// FormatCursor returns the down-feed cursor that covers every change up to
// and including seq.
func FormatCursor(seq int64) string { return cursorPrefix + strconv.FormatInt(seq, 10) }

// ParseCursor returns the seq inside a cursor made by FormatCursor, and
// false for anything else (including "").
func ParseCursor(c string) (int64, bool) {
	rest, ok := strings.CutPrefix(c, cursorPrefix)
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || seq < 0 || strconv.FormatInt(seq, 10) != rest {
		return 0, false
	}
	return seq, true
}

// Feed is one page of a device's down feed.
type Feed struct {
	// NeedSnapshot is set when the cursor cannot be continued (unparsable,
	// older than the oldest retained change, or ahead of the feed): the
	// device must get a DeviceSnapshot instead, never a silent gap.
	NeedSnapshot bool
	// Changes are the changes after the cursor that concern the device's
	// location, oldest first.
	Changes []Change
	// Cursor is the cursor after Changes (the given cursor if none).
	Cursor string
	// More is set when more changes follow at once.
	More bool
}

// DeviceFeed returns up to limit changes of the tenant after cursor that
// concern the location. The tenant and location are the device's, as
// read by the caller from the device record.
//
// Changes of one tenant become visible in seq order on both engines (see
// migration 00002), so reading after a cursor never skips a change that
// commits later.
func (db *DB) DeviceFeed(ctx context.Context, tenantID, locationID, cursor string, limit int) (Feed, error) {
	after, ok := ParseCursor(cursor)
	if !ok {
		return Feed{NeedSnapshot: true}, nil
	}
	var horizon, maxSeq int64
	err := db.queryRow(ctx, `SELECT
		COALESCE((SELECT pruned_through FROM change_horizons WHERE tenant_id = ?), 0),
		COALESCE((SELECT MAX(seq) FROM changes WHERE tenant_id = ?), 0)`, tenantID, tenantID).Scan(&horizon, &maxSeq)
	if err != nil {
		return Feed{}, fmt.Errorf("feed bounds: %w", err)
	}
	if after < horizon || after > max(maxSeq, horizon) {
		return Feed{NeedSnapshot: true}, nil
	}
	limit = clampLimit(limit)
	cs, err := db.Changes(ctx, tenantID, locationID, after, limit+1)
	if err != nil {
		return Feed{}, err
	}
	f := Feed{Changes: cs, Cursor: cursor}
	if len(cs) > limit {
		f.Changes, f.More = cs[:limit], true
	}
	if n := len(f.Changes); n > 0 {
		f.Cursor = FormatCursor(f.Changes[n-1].Seq)
	}
	return f, nil
}

// LatestChangeSeq returns the highest change seq of the tenant (0 if none).
func (db *DB) LatestChangeSeq(ctx context.Context, tenantID string) (int64, error) {
	var seq int64
	err := db.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes WHERE tenant_id = ?`, tenantID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("latest change: %w", err)
	}
	return seq, nil
}

// TenantsChangedAfter returns the tenants with a change after seq, and the
// highest change seq of any tenant (the next call's seq). The sync server
// polls it as a fallback for in-process notifications.
func (db *DB) TenantsChangedAfter(ctx context.Context, seq int64) ([]string, int64, error) {
	var top int64
	if err := db.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&top); err != nil {
		return nil, seq, fmt.Errorf("latest change: %w", err)
	}
	if top <= seq {
		return nil, top, nil
	}
	rows, err := db.query(ctx, `SELECT DISTINCT tenant_id FROM changes WHERE seq > ? AND seq <= ?`, seq, top)
	if err != nil {
		return nil, seq, fmt.Errorf("changed tenants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, seq, err
		}
		out = append(out, id)
	}
	return out, top, rows.Err()
}

// Snapshot is everything a kiosk keeps of its tenant and location, read at
// one moment, with the cursor to follow the feed from.
type Snapshot struct {
	Cursor           string
	Location         visitor.Location
	Settings         visitor.TenantSettings
	Hosts            []visitor.Host            // active hosts of every location and of this one
	Preregistrations []visitor.Preregistration // pending ones of this location
	Badges           []visitor.Badge           // this location's inventory
	Visits           []visitor.Visit           // this location's visits of the last day, and any still on site
}

// DeviceSnapshot reads a snapshot for a device of the tenant at the
// location in one read transaction, so the data and the cursor agree.
func (db *DB) DeviceSnapshot(ctx context.Context, tenantID, locationID string) (Snapshot, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	sqlTx, err := db.r.BeginTx(ctx, opts)
	if err != nil {
		return Snapshot{}, fmt.Errorf("begin snapshot: %w", err)
	}
	defer sqlTx.Rollback()
	tx := &Tx{tx: sqlTx, db: db}
	var s Snapshot
	var horizon, maxSeq int64
	if err := tx.queryRow(ctx, `SELECT
		COALESCE((SELECT pruned_through FROM change_horizons WHERE tenant_id = ?), 0),
		COALESCE((SELECT MAX(seq) FROM changes WHERE tenant_id = ?), 0)`, tenantID, tenantID).Scan(&horizon, &maxSeq); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot cursor: %w", err)
	}
	s.Cursor = FormatCursor(max(horizon, maxSeq))
	if s.Location, err = tx.location(ctx, tenantID, locationID); err != nil {
		return Snapshot{}, err
	}
	var raw string
	if err := tx.queryRow(ctx, `SELECT settings FROM tenants WHERE id = ?`, tenantID).Scan(&raw); err != nil {
		return Snapshot{}, notFound(err, "tenant")
	}
	s.Settings = DefaultSettings()
	if err := json.Unmarshal([]byte(raw), &s.Settings); err != nil {
		return Snapshot{}, fmt.Errorf("decode settings of %s: %w", tenantID, err)
	}
	if s.Hosts, err = scanAll(ctx, tx, scanHost, `SELECT `+hostColumns+` FROM hosts
		WHERE tenant_id = ? AND active = 1 AND (location_id = '' OR location_id = ?) ORDER BY id`, tenantID, locationID); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot hosts: %w", err)
	}
	if s.Preregistrations, err = scanAll(ctx, tx, scanPrereg, `SELECT `+preregColumns+` FROM preregistrations
		WHERE tenant_id = ? AND location_id = ? AND status = ? ORDER BY id`, tenantID, locationID, string(visitor.PreregPending)); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot preregistrations: %w", err)
	}
	if s.Badges, err = scanAll(ctx, tx, scanBadge, `SELECT `+badgeColumns+` FROM badges
		WHERE tenant_id = ? AND location_id = ? ORDER BY id`, tenantID, locationID); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot badges: %w", err)
	}
	if s.Visits, err = scanAll(ctx, tx, scanVisit, `SELECT `+visitColumns+` FROM visits
		WHERE tenant_id = ? AND location_id = ? AND (status = ? OR checked_in_at >= ? OR checked_out_at >= ?) ORDER BY id`,
		tenantID, locationID, string(visitor.VisitCheckedIn), tsText(db.now().Add(-24*time.Hour)), tsText(db.now().Add(-24*time.Hour))); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot visits: %w", err)
	}
	return s, nil
}

func scanAll[T any](ctx context.Context, tx *Tx, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PruneChanges deletes changes recorded before the given time and records,
// per tenant, how far the feed was pruned, so a kiosk whose cursor is
// older gets a snapshot. It returns the number of changes deleted.
func (db *DB) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *Tx) error {
		type horizon struct {
			tenant string
			seq    int64
		}
		rows, err := tx.query(ctx, `SELECT tenant_id, MAX(seq) FROM changes WHERE at < ? GROUP BY tenant_id`, tsText(before))
		if err != nil {
			return fmt.Errorf("prune changes: %w", err)
		}
		var hs []horizon
		for rows.Next() {
			var h horizon
			if err := rows.Scan(&h.tenant, &h.seq); err != nil {
				rows.Close()
				return err
			}
			hs = append(hs, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, h := range hs {
			if _, err := tx.exec(ctx, `INSERT INTO change_horizons (tenant_id, pruned_through) VALUES (?, ?)
				ON CONFLICT (tenant_id) DO UPDATE SET pruned_through = CASE
					WHEN excluded.pruned_through > change_horizons.pruned_through THEN excluded.pruned_through
					ELSE change_horizons.pruned_through END`, h.tenant, h.seq); err != nil {
				return fmt.Errorf("record change horizon: %w", err)
			}
			res, err := tx.exec(ctx, `DELETE FROM changes WHERE tenant_id = ? AND seq <= ?`, h.tenant, h.seq)
			if err != nil {
				return fmt.Errorf("prune changes: %w", err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, err
}
