package store

import (
	"context"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
)

// ActiveLocations counts the tenant's locations with at least one check-in
// in [from, to) — a calendar month, UTC, for billing.
func (db *DB) ActiveLocations(ctx context.Context, tenantID string, from, to time.Time) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(DISTINCT location_id) FROM visits
		WHERE tenant_id = ? AND checked_in_at >= ? AND checked_in_at < ?`, tenantID, tsText(from), tsText(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count active locations: %w", err)
	}
	return n, nil
}

// ClaimBillingReport records the report under its idempotency key unless a
// report with that key exists; it returns the stored report either way, and
// whether this call created it. A report is counted once (the first
// claim's quantity and as_of are kept), so a retry resends the same figure.
func (db *DB) ClaimBillingReport(ctx context.Context, r visitor.BillingReport) (visitor.BillingReport, bool, error) {
	var created bool
	err := db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `INSERT INTO billing_reports (idempotency_key, tenant_id, period, quantity, as_of)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
			r.IdempotencyKey, r.TenantID, r.Period, r.Quantity, tsText(r.AsOf))
		if err != nil {
			return fmt.Errorf("claim billing report: %w", err)
		}
		n, _ := res.RowsAffected()
		created = n == 1
		return nil
	})
	if err != nil {
		return visitor.BillingReport{}, false, err
	}
	stored, err := db.BillingReport(ctx, r.IdempotencyKey)
	return stored, created, err
}

// BillingReport returns a stored report by its idempotency key.
func (db *DB) BillingReport(ctx context.Context, key string) (visitor.BillingReport, error) {
	var r visitor.BillingReport
	err := db.queryRow(ctx, `SELECT idempotency_key, tenant_id, period, quantity, as_of, sent_at, last_error
		FROM billing_reports WHERE idempotency_key = ?`, key).
		Scan(&r.IdempotencyKey, &r.TenantID, &r.Period, &r.Quantity, tm(&r.AsOf), tm(&r.SentAt), &r.LastError)
	return r, notFound(err, "billing report")
}

// MarkBillingReport records the outcome of one attempt to send a report:
// sent (sendErr nil) or the error to show in Settings.
func (db *DB) MarkBillingReport(ctx context.Context, key string, sendErr error) error {
	return db.write(ctx, func(tx *Tx) error {
		var err error
		if sendErr == nil {
			_, err = tx.exec(ctx, `UPDATE billing_reports SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE idempotency_key = ?`,
				tsText(db.now()), key)
		} else {
			_, err = tx.exec(ctx, `UPDATE billing_reports SET attempts = attempts + 1, last_error = ? WHERE idempotency_key = ?`,
				sendErr.Error(), key)
		}
		return err
	})
}
