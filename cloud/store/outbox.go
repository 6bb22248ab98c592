package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
)

// appendEvent writes a Bus event to the outbox inside tx, so the event
// exists exactly when the change that caused it does.
func (tx *Tx) appendEvent(ctx context.Context, e visitor.OutboxEvent) error {
	return tx.appendEventTo(ctx, nil, e)
}

// appendEventTo writes an outbox event now, or adds it to b when b is set.
func (tx *Tx) appendEventTo(ctx context.Context, b *rowBatch, e visitor.OutboxEvent) error {
	if e.ID == "" {
		e.ID = tx.db.newID()
	}
	if e.Time.IsZero() {
		e.Time = tx.db.now()
	}
	err := tx.insertRow(ctx, b, tblOutbox,
		e.ID, e.TenantID, e.Type, e.Subject, tsText(e.Time), string(e.Data), tsText(tx.db.now()))
	if err != nil {
		return fmt.Errorf("append %s event: %w", e.Type, err)
	}
	return nil
}

// Events lists a tenant's outbox events, oldest first (pending and
// delivered), a page at a time; tenantID "" lists every tenant's.
func (db *DB) Events(ctx context.Context, tenantID string, limit int, cursor string) ([]visitor.OutboxEvent, string, error) {
	limit = clampLimit(limit)
	q := `SELECT seq, id, tenant_id, type, subject, time, data, attempts, last_error, parked FROM outbox WHERE seq > ?`
	var after int64
	if cursor != "" {
		if _, err := fmt.Sscan(cursor, &after); err != nil {
			return nil, "", visitor.Errorf(visitor.EINVALID, "bad cursor")
		}
	}
	args := []any{after}
	if tenantID != "" {
		q += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	rows, err := db.query(ctx, q+` ORDER BY seq LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	type row struct {
		seq int64
		e   visitor.OutboxEvent
	}
	var out []row
	for rows.Next() {
		var r row
		var data string
		var parked int
		if err := rows.Scan(&r.seq, &r.e.ID, &r.e.TenantID, &r.e.Type, &r.e.Subject, tm(&r.e.Time), &data, &r.e.Attempts, &r.e.LastError, &parked); err != nil {
			return nil, "", err
		}
		r.e.Data = json.RawMessage(data)
		r.e.Parked = parked != 0
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	items, next, err := page(out, limit, func(r row) string { return fmt.Sprint(r.seq) })
	events := make([]visitor.OutboxEvent, len(items))
	for i, r := range items {
		events[i] = r.e
	}
	return events, next, err
}

// PendingEventCount returns how many events wait for delivery (parked
// ones excluded).
func (db *DB) PendingEventCount(ctx context.Context) (int64, error) {
	var n int64
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND parked = 0`).Scan(&n)
	return n, err
}

// loginEventData is the data of auth.* events.
type loginEventData struct {
	UserID string `json:"user_id,omitempty"`
	Email  string `json:"email,omitempty"`
	Name   string `json:"name,omitempty"`
	IP     string `json:"ip"`
	Reason string `json:"reason,omitempty"`
}

// eventTime is when an event happened: the change's own time when known.
func eventTime(t time.Time, now func() time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return t
}
