package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
)

// DueEvents returns up to limit outbox events waiting for delivery, oldest
// first, when the oldest of them is due; otherwise none. Delivery is
// strictly in outbox order: while the head waits out its backoff, nothing
// behind it overtakes it, so events about one subject arrive in the order
// they happened.
func (db *DB) DueEvents(ctx context.Context, limit int) ([]visitor.OutboxEvent, error) {
	var head int64
	var next time.Time
	err := db.queryRow(ctx, `SELECT seq, next_attempt_at FROM outbox WHERE delivered_at IS NULL AND parked = 0 ORDER BY seq LIMIT 1`).
		Scan(&head, tm(&next))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("due events: %w", err)
	}
	if next.After(db.now()) {
		return nil, nil
	}
	rows, err := db.query(ctx, `SELECT id, tenant_id, type, subject, time, data, attempts, last_error FROM outbox
		WHERE delivered_at IS NULL AND parked = 0 AND seq >= ? ORDER BY seq LIMIT ?`, head, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("due events: %w", err)
	}
	defer rows.Close()
	var out []visitor.OutboxEvent
	for rows.Next() {
		var e visitor.OutboxEvent
		var data string
		if err := rows.Scan(&e.ID, &e.TenantID, &e.Type, &e.Subject, tm(&e.Time), &data, &e.Attempts, &e.LastError); err != nil {
			return nil, err
		}
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// MarkEventsDelivered records that the Bus accepted these events.
func (db *DB) MarkEventsDelivered(ctx context.Context, ids []string) error {
	return db.write(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := tx.exec(ctx, `UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`,
				tsText(db.now()), id); err != nil {
				return fmt.Errorf("mark delivered: %w", err)
			}
		}
		return nil
	})
}

// RetryEvents records a failed attempt for these events and when to try
// again.
func (db *DB) RetryEvents(ctx context.Context, ids []string, cause string, next time.Time) error {
	return db.write(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := tx.exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?`,
				cause, tsText(next), id); err != nil {
				return fmt.Errorf("retry event: %w", err)
			}
		}
		return nil
	})
}

// ParkEvent stops retrying an event the Bus refused for good; it stays
// visible in Settings with the reason.
func (db *DB) ParkEvent(ctx context.Context, id, cause string) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET parked = 1, attempts = attempts + 1, last_error = ? WHERE id = ?`, cause, id)
		return err
	})
}

// ParkedEvents lists a tenant's parked events, newest first.
func (db *DB) ParkedEvents(ctx context.Context, tenantID string, limit int) ([]visitor.OutboxEvent, error) {
	rows, err := db.query(ctx, `SELECT id, tenant_id, type, subject, time, data, attempts, last_error FROM outbox
		WHERE tenant_id = ? AND parked = 1 ORDER BY seq DESC LIMIT ?`, tenantID, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("parked events: %w", err)
	}
	defer rows.Close()
	var out []visitor.OutboxEvent
	for rows.Next() {
		var e visitor.OutboxEvent
		var data string
		if err := rows.Scan(&e.ID, &e.TenantID, &e.Type, &e.Subject, tm(&e.Time), &data, &e.Attempts, &e.LastError); err != nil {
			return nil, err
		}
		e.Data, e.Parked = json.RawMessage(data), true
		out = append(out, e)
	}
	return out, rows.Err()
}

// IntegrationHealth is the last success and last error of one integration
// (bus, billing, permissions), shown in Settings.
type IntegrationHealth struct {
	Name        string    `json:"name"`
	LastOKAt    time.Time `json:"last_ok_at,omitzero"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// RecordHealth notes a success (cause nil) or an error of an integration.
func (db *DB) RecordHealth(ctx context.Context, name string, cause error) error {
	return db.write(ctx, func(tx *Tx) error {
		now := tsText(db.now())
		var err error
		if cause == nil {
			_, err = tx.exec(ctx, `INSERT INTO integration_health (name, last_ok_at) VALUES (?, ?)
				ON CONFLICT (name) DO UPDATE SET last_ok_at = excluded.last_ok_at`, name, now)
		} else {
			_, err = tx.exec(ctx, `INSERT INTO integration_health (name, last_error_at, last_error) VALUES (?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET last_error_at = excluded.last_error_at, last_error = excluded.last_error`,
				name, now, cause.Error())
		}
		if err != nil {
			return fmt.Errorf("record %s health: %w", name, err)
		}
		return nil
	})
}

// Health returns every integration's health, by name.
func (db *DB) Health(ctx context.Context) ([]IntegrationHealth, error) {
	rows, err := db.query(ctx, `SELECT name, last_ok_at, last_error_at, last_error FROM integration_health ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("integration health: %w", err)
	}
	defer rows.Close()
	var out []IntegrationHealth
	for rows.Next() {
		var h IntegrationHealth
		if err := rows.Scan(&h.Name, tm(&h.LastOKAt), tm(&h.LastErrorAt), &h.LastError); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
