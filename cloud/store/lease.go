package store

import (
	"context"
	"fmt"
	"time"
)

// AcquireLease makes holder the holder of the named lease for ttl if the
// lease is free, expired, or already held by holder (a renewal). It
// returns whether holder holds the lease now. Of concurrent callers on any
// number of instances, at most one holds a lease at a time.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var held bool
	err := db.write(ctx, func(tx *Tx) error {
		now := db.now()
		_, err := tx.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
			name, holder, tsText(now.Add(ttl)), tsText(now))
		if err != nil {
			return fmt.Errorf("acquire lease %s: %w", name, err)
		}
		var current string
		if err := tx.queryRow(ctx, `SELECT holder FROM leases WHERE name = ?`, name).Scan(&current); err != nil {
			return fmt.Errorf("read lease %s: %w", name, err)
		}
		held = current == holder
		return nil
	})
	return held, err
}

// ReleaseLease gives up the lease if holder holds it.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
}
