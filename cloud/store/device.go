package store

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/theonestack/visitor"
)

const deviceColumns = `id, tenant_id, location_id, name, public_key, status, last_seen_at, last_applied_seq,
	pending_ops, rejected_ops, printer_status, created_at`

func scanDevice(row interface{ Scan(...any) error }) (visitor.Device, error) {
	var d visitor.Device
	err := row.Scan(&d.ID, &d.TenantID, &d.LocationID, &d.Name, &d.PublicKey, &d.Status, tm(&d.LastSeenAt),
		&d.LastAppliedSeq, &d.PendingOps, &d.RejectedOps, &d.PrinterStatus, tm(&d.CreatedAt))
	return d, err
}

// ProvisionDevice binds a kiosk's public key to a location of the tenant,
// as an approved pairing does. It is a store operation with no HTTP route:
// the pairing flow and tests call it.
func (db *DB) ProvisionDevice(ctx context.Context, tenantID, locationID, name string, pub ed25519.PublicKey, actor Actor) (visitor.Device, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Kiosk"
	}
	if len(pub) != ed25519.PublicKeySize {
		return visitor.Device{}, visitor.Errorf(visitor.EINVALID, "device public key must be %d bytes", ed25519.PublicKeySize)
	}
	d := visitor.Device{
		ID: db.newID(), TenantID: tenantID, LocationID: locationID, Name: name,
		PublicKey: pub, Status: visitor.DeviceActive, CreatedAt: db.now().UTC(),
	}
	err := db.write(ctx, func(tx *Tx) error {
		if _, err := tx.location(ctx, tenantID, locationID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO devices (id, tenant_id, location_id, name, public_key, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.TenantID, d.LocationID, d.Name, []byte(pub), string(d.Status), tsText(d.CreatedAt)); err != nil {
			return fmt.Errorf("insert device: %w", err)
		}
		return tx.audit(ctx, tenantID, actor, "device.pair", d.ID, map[string]string{"location_id": locationID, "name": name})
	})
	return d, err
}

// Device returns one of the tenant's devices.
func (db *DB) Device(ctx context.Context, tenantID, id string) (visitor.Device, error) {
	d, err := scanDevice(db.queryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return d, notFound(err, "device")
}

// DeviceByID returns a device whatever its tenant: the sync endpoint uses
// it to find the key a connecting kiosk must prove it holds, and takes the
// tenant from the result.
func (db *DB) DeviceByID(ctx context.Context, id string) (visitor.Device, error) {
	d, err := scanDevice(db.queryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id))
	return d, notFound(err, "device")
}

// Devices lists the tenant's devices by id, a page at a time.
func (db *DB) Devices(ctx context.Context, tenantID string, limit int, cursor string) ([]visitor.Device, string, error) {
	limit = clampLimit(limit)
	return queryPage(ctx, db, "devices", scanDevice, func(d visitor.Device) string { return d.ID }, limit,
		`SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
		tenantID, cursor, limit+1)
}

// SetDeviceStatus moves a device to unpaired or revoked.
func (db *DB) SetDeviceStatus(ctx context.Context, tenantID, id string, status visitor.DeviceStatus, actor Actor) (visitor.Device, error) {
	if status != visitor.DeviceUnpaired && status != visitor.DeviceRevoked {
		return visitor.Device{}, visitor.Errorf(visitor.EINVALID, "cannot set device status to %q", status)
	}
	var d visitor.Device
	err := db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE devices SET status = ? WHERE tenant_id = ? AND id = ? AND status <> ?`,
			string(status), tenantID, id, string(visitor.DeviceRevoked))
		if err != nil {
			return fmt.Errorf("set device status: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := scanDevice(tx.queryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
				return notFound(err, "device")
			}
			return visitor.Errorf(visitor.ECONFLICT, "device is revoked")
		}
		if d, err = scanDevice(tx.queryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
			return err
		}
		action := "device.unpair"
		if status == visitor.DeviceRevoked {
			action = "device.revoke"
		}
		return tx.audit(ctx, tenantID, actor, action, id, nil)
	})
	return d, err
}
