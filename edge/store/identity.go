package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/pairing"
)

// Identity states kept in the identity table.
const (
	IdentityActive  = "active"  // paired: check-ins accepted, sync runs
	IdentityRevoked = "revoked" // revoked by an admin: refuse check-ins, stop syncing
)

// Identity is the kiosk's binding to the cloud.
type Identity struct {
	DeviceID   string
	TenantID   string
	LocationID string
	Name       string
	Status     string
	Key        ed25519.PrivateKey
}

// Paired reports whether the kiosk may check visitors in and sync.
func (i Identity) Paired() bool { return i.DeviceID != "" && i.Status == IdentityActive }

// Identity returns the kiosk's identity, or ok=false when it has none
// (never paired, or unpaired and wiped).
func (db *DB) Identity(ctx context.Context) (id Identity, ok bool, err error) {
	return identityQ(ctx, db.r)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func identityQ(ctx context.Context, q queryer) (Identity, bool, error) {
	var id Identity
	var seed []byte
	err := q.QueryRowContext(ctx, `SELECT device_id, tenant_id, location_id, name, status, private_key
		FROM identity WHERE id = 1`).Scan(&id.DeviceID, &id.TenantID, &id.LocationID, &id.Name, &id.Status, &seed)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, false, nil
	}
	if err != nil {
		return Identity{}, false, fmt.Errorf("read identity: %w", err)
	}
	if len(seed) > 0 {
		if id.Key, err = pairing.PrivateKeyFromSeed(seed); err != nil {
			return Identity{}, false, fmt.Errorf("read identity: %w", err)
		}
	}
	return id, true, nil
}

// Provision binds the kiosk to a device, tenant and location with the
// device's private key, status active. If the kiosk was bound to another
// device, that device's tenant data, outbox, sequence and cursor are wiped
// first (a new device starts at seq 1); Provision refuses, with ECONFLICT,
// while the previous device still has unacknowledged ops.
func (db *DB) Provision(ctx context.Context, id Identity) error {
	if id.DeviceID == "" || id.TenantID == "" || id.LocationID == "" || len(id.Key) != ed25519.PrivateKeySize {
		return visitor.Errorf(visitor.EINVALID, "device id, tenant id, location id and a private key are required")
	}
	return db.Write(ctx, func(tx *sql.Tx) error {
		old, ok, err := identityQ(ctx, tx)
		if err != nil {
			return err
		}
		if ok && old.DeviceID != id.DeviceID {
			var pending int64
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE state = 'pending'`).Scan(&pending); err != nil {
				return fmt.Errorf("count pending ops: %w", err)
			}
			if pending > 0 {
				return visitor.Errorf(visitor.ECONFLICT, "the previous pairing still has %d ops to sync", pending)
			}
			if err := wipe(ctx, tx); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO identity (id, device_id, private_key, tenant_id, location_id, name, status)
			VALUES (1, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET device_id = excluded.device_id, private_key = excluded.private_key,
				tenant_id = excluded.tenant_id, location_id = excluded.location_id, name = excluded.name, status = excluded.status`,
			id.DeviceID, id.Key.Seed(), id.TenantID, id.LocationID, id.Name, IdentityActive)
		if err != nil {
			return fmt.Errorf("write identity: %w", err)
		}
		return nil
	})
}

// MarkRevoked records that the cloud revoked this kiosk: check-ins are
// refused and sync stops. The outbox and data stay (for inspection); a
// new Provision replaces them.
func (db *DB) MarkRevoked(ctx context.Context) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE identity SET status = ? WHERE id = 1`, IdentityRevoked); err != nil {
			return fmt.Errorf("mark revoked: %w", err)
		}
		return nil
	})
}

// Unpair forgets the kiosk's identity and wipes every tenant record
// (visits with visitor PII, directory, badges, settings, outbox, cursor).
// It returns how many ops were still unacknowledged, so the caller can
// report (without PII) what the cloud never received.
func (db *DB) Unpair(ctx context.Context) (discarded int64, err error) {
	err = db.Write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE state = 'pending'`).Scan(&discarded); err != nil {
			return fmt.Errorf("count pending ops: %w", err)
		}
		if err := wipe(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity`); err != nil {
			return fmt.Errorf("delete identity: %w", err)
		}
		return nil
	})
	return discarded, err
}

// UpdatePlacement records the tenant and location the cloud reports for
// this device (an admin may move a kiosk to another location).
func (db *DB) UpdatePlacement(ctx context.Context, tenantID, locationID string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE identity SET tenant_id = ?, location_id = ? WHERE id = 1
			AND (tenant_id <> ? OR location_id <> ?)`, tenantID, locationID, tenantID, locationID)
		if err != nil {
			return fmt.Errorf("update placement: %w", err)
		}
		return nil
	})
}

// wipe deletes tenant data and sync state inside tx.
func wipe(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`DELETE FROM visits`, `DELETE FROM outbox`, `DELETE FROM boot_offsets`,
		`DELETE FROM hosts`, `DELETE FROM preregistrations`, `DELETE FROM badges`,
		`DELETE FROM locations`, `DELETE FROM settings`, `DELETE FROM print_jobs`,
		`DELETE FROM snapshot_staging`,
		`DELETE FROM meta WHERE key IN ('` + MetaOutboxSeq + `','` + MetaCursor + `','` + MetaLastAckedSeq + `','` + MetaLastSyncAt + `')`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("wipe: %w", err)
		}
	}
	return nil
}
