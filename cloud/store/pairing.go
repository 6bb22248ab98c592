package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/theonestack/visitor"
)

// Pairing states. A pairing moves pending → approved → consumed, or
// pending → denied → consumed; an expired one is never read again.
const (
	PairingPending  = "pending"
	PairingApproved = "approved"
	PairingDenied   = "denied"
	PairingConsumed = "consumed"
)

// pairingRetention is how long an expired or consumed pairing row is kept
// before CreatePairing removes it: long enough to read in an incident,
// short enough that the table stays small.
const pairingRetention = 24 * time.Hour

// maxPollInterval caps the interval slow_down answers raise.
const maxPollInterval = 60

// Pairing is a device-code pairing in progress (DESIGN.md §4). Both codes
// are stored only as pairing.HashCode hashes.
type Pairing struct {
	DeviceCodeHash string
	UserCodeHash   string
	PublicKey      ed25519.PublicKey
	Name           string // the name the kiosk suggested, then the display name the admin chose
	AppVersion     string
	Status         string
	TenantID       string // set on approval (or denial)
	LocationID     string
	DeviceID       string
	ApprovedBy     string
	Interval       int // seconds a kiosk must wait between polls
	CreatedAt      time.Time
	ExpiresAt      time.Time
	LastPollAt     time.Time
}

const pairingColumns = `device_code_hash, user_code_hash, public_key, name, app_version, status, tenant_id,
	location_id, device_id, approved_by, poll_interval, created_at, expires_at, last_poll_at`

func scanPairing(row interface{ Scan(...any) error }) (Pairing, error) {
	var p Pairing
	var pub []byte
	err := row.Scan(&p.DeviceCodeHash, &p.UserCodeHash, &pub, &p.Name, &p.AppVersion, &p.Status, &p.TenantID,
		&p.LocationID, &p.DeviceID, &p.ApprovedBy, &p.Interval, tm(&p.CreatedAt), tm(&p.ExpiresAt), tm(&p.LastPollAt))
	p.PublicKey = pub
	return p, err
}

// CreatePairing stores a new pending pairing. A user-code hash that
// collides with a stored one is refused with ECONFLICT (the caller draws
// a new code); so is a device-code hash. Pairings that ended more than a
// day ago are deleted in the same transaction, so the table stays small.
func (db *DB) CreatePairing(ctx context.Context, p Pairing) error {
	if p.DeviceCodeHash == "" || p.UserCodeHash == "" || len(p.PublicKey) != ed25519.PublicKeySize {
		return visitor.Errorf(visitor.EINVALID, "a pairing needs both code hashes and a public key")
	}
	if p.Interval <= 0 {
		p.Interval = 5
	}
	now := db.now().UTC()
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM pairings WHERE expires_at < ?`, tsText(now.Add(-pairingRetention))); err != nil {
			return fmt.Errorf("delete old pairings: %w", err)
		}
		// A live code may not be issued twice; an expired row with the same
		// user code (a 1 in 2.6e10 draw) is replaced.
		if _, err := tx.exec(ctx, `DELETE FROM pairings WHERE user_code_hash = ? AND expires_at <= ?`,
			p.UserCodeHash, tsText(now)); err != nil {
			return fmt.Errorf("delete expired pairing: %w", err)
		}
		_, err := tx.exec(ctx, `INSERT INTO pairings (device_code_hash, user_code_hash, public_key, name, app_version,
			status, poll_interval, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.DeviceCodeHash, p.UserCodeHash, []byte(p.PublicKey), p.Name, p.AppVersion, PairingPending, p.Interval,
			tsText(p.CreatedAt), tsText(p.ExpiresAt))
		if isUniqueViolation(err) {
			return visitor.Errorf(visitor.ECONFLICT, "pairing code already in use")
		}
		if err != nil {
			return fmt.Errorf("insert pairing: %w", err)
		}
		return nil
	})
}

// PairingByDeviceCode returns the pairing whose device code hashes to
// hash, in whatever state; ENOTFOUND when there is none.
func (db *DB) PairingByDeviceCode(ctx context.Context, hash string) (Pairing, error) {
	p, err := scanPairing(db.queryRow(ctx, `SELECT `+pairingColumns+` FROM pairings WHERE device_code_hash = ?`, hash))
	return p, notFound(err, "pairing")
}

// LivePairingByUserCode returns the pending, unexpired pairing whose user
// code hashes to hash; ENOTFOUND for any other (unknown, expired, already
// approved, denied or used), so an admin can never act on it twice.
func (db *DB) LivePairingByUserCode(ctx context.Context, hash string) (Pairing, error) {
	p, err := scanPairing(db.queryRow(ctx, `SELECT `+pairingColumns+` FROM pairings
		WHERE user_code_hash = ? AND status = ? AND expires_at > ?`, hash, PairingPending, tsText(db.now())))
	return p, notFound(err, "pairing code")
}

// Approval is an admin's decision to bind a pending pairing to a location
// of their tenant.
type Approval struct {
	TenantID     string // from the admin's session
	UserCodeHash string
	LocationID   string
	Name         string // display name; "" keeps the name the kiosk suggested
}

// ApprovePairing binds the live pairing to a.LocationID of a.TenantID in
// one transaction: it creates the device (status active, the pairing's
// public key), marks the pairing approved with the device id, and audits
// "device.pair". The kiosk receives the binding on its next poll. It
// answers ENOTFOUND when the code is not live or the location is not the
// tenant's — the same answer as for a code that does not exist, so another
// tenant's locations cannot be probed.
func (db *DB) ApprovePairing(ctx context.Context, a Approval, actor Actor) (visitor.Device, error) {
	name := strings.TrimSpace(a.Name)
	if len(name) > 100 {
		return visitor.Device{}, visitor.Errorf(visitor.EINVALID, "display name is too long")
	}
	var d visitor.Device
	err := db.write(ctx, func(tx *Tx) error {
		now := db.now().UTC()
		p, err := tx.livePairing(ctx, a.UserCodeHash, now)
		if err != nil {
			return err
		}
		if _, err := tx.location(ctx, a.TenantID, a.LocationID); err != nil {
			return err
		}
		if name == "" {
			name = p.Name
		}
		if name == "" {
			name = "Kiosk"
		}
		d = visitor.Device{
			ID: db.newID(), TenantID: a.TenantID, LocationID: a.LocationID, Name: name,
			PublicKey: p.PublicKey, Status: visitor.DeviceActive, CreatedAt: now,
		}
		if _, err := tx.exec(ctx, `INSERT INTO devices (id, tenant_id, location_id, name, public_key, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.TenantID, d.LocationID, d.Name, []byte(d.PublicKey), string(d.Status), tsText(now)); err != nil {
			return fmt.Errorf("insert device: %w", err)
		}
		res, err := tx.exec(ctx, `UPDATE pairings SET status = ?, tenant_id = ?, location_id = ?, device_id = ?,
			approved_by = ?, name = ? WHERE device_code_hash = ? AND status = ?`,
			PairingApproved, a.TenantID, a.LocationID, d.ID, actor.ID, name, p.DeviceCodeHash, PairingPending)
		if err != nil {
			return fmt.Errorf("approve pairing: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return visitor.Errorf(visitor.ENOTFOUND, "pairing code not found")
		}
		return tx.audit(ctx, a.TenantID, actor, "device.pair", d.ID,
			map[string]string{"location_id": a.LocationID, "name": name, "app_version": p.AppVersion})
	})
	return d, err
}

// DenyPairing refuses the live pairing: the kiosk's next poll answers
// access_denied. It is audited in the admin's tenant as "device.pair_denied".
func (db *DB) DenyPairing(ctx context.Context, tenantID, userCodeHash string, actor Actor) error {
	return db.write(ctx, func(tx *Tx) error {
		p, err := tx.livePairing(ctx, userCodeHash, db.now().UTC())
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE pairings SET status = ?, tenant_id = ?, approved_by = ?
			WHERE device_code_hash = ? AND status = ?`,
			PairingDenied, tenantID, actor.ID, p.DeviceCodeHash, PairingPending); err != nil {
			return fmt.Errorf("deny pairing: %w", err)
		}
		return tx.audit(ctx, tenantID, actor, "device.pair_denied", "", map[string]string{"name": p.Name})
	})
}

func (tx *Tx) livePairing(ctx context.Context, userCodeHash string, now time.Time) (Pairing, error) {
	p, err := scanPairing(tx.queryRow(ctx, `SELECT `+pairingColumns+` FROM pairings
		WHERE user_code_hash = ? AND status = ? AND expires_at > ?`+tx.forUpdate(), userCodeHash, PairingPending, tsText(now)))
	return p, notFound(err, "pairing code")
}

// forUpdate locks the selected row on PostgreSQL; SQLite's write
// transactions are already exclusive (BEGIN IMMEDIATE).
func (tx *Tx) forUpdate() string {
	if tx.db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// PollOutcome is the answer to one kiosk poll (RFC 8628 §3.5).
type PollOutcome int

// Poll outcomes.
const (
	// PollPending: nobody has decided yet.
	PollPending PollOutcome = iota + 1
	// PollSlowDown: the kiosk polled sooner than its interval; the
	// interval has been raised by the step given to PollPairing.
	PollSlowDown
	// PollExpired: unknown, expired or already used; start again.
	PollExpired
	// PollDenied: an admin refused; the code is now used up.
	PollDenied
	// PollApproved: the binding is returned and the code is used up.
	PollApproved
)

// Binding is what an approved pairing tells the kiosk.
type Binding struct {
	DeviceID     string
	TenantID     string
	TenantName   string
	LocationID   string
	LocationName string
	DisplayName  string
}

// PollPairing records one poll of the pairing whose device code hashes to
// hash, in one transaction (the row locked on PostgreSQL, so concurrent
// polls on several instances are serialised). In order: unknown, used or
// expired → PollExpired; denied → PollDenied (and the code is used up);
// approved → PollApproved with the binding, the code used up in the same
// transaction, so a code yields its binding exactly once; a poll less than
// the interval (minus tolerance) after the previous one → PollSlowDown,
// with the interval raised by step seconds (at most 60); else PollPending.
// The caller verifies the kiosk's signature before calling.
func (db *DB) PollPairing(ctx context.Context, hash string, step int, tolerance time.Duration) (PollOutcome, Binding, int, error) {
	var (
		out      PollOutcome
		b        Binding
		interval int
	)
	err := db.write(ctx, func(tx *Tx) error {
		now := db.now().UTC()
		p, err := scanPairing(tx.queryRow(ctx, `SELECT `+pairingColumns+` FROM pairings WHERE device_code_hash = ?`+tx.forUpdate(), hash))
		if errors.Is(err, sql.ErrNoRows) {
			out = PollExpired
			return nil
		}
		if err != nil {
			return fmt.Errorf("read pairing: %w", err)
		}
		interval = p.Interval
		if p.Status == PairingConsumed || !now.Before(p.ExpiresAt) {
			out = PollExpired
			return nil
		}
		newStatus, newInterval := p.Status, p.Interval
		switch p.Status {
		case PairingDenied:
			out, newStatus = PollDenied, PairingConsumed
		case PairingApproved:
			out, newStatus = PollApproved, PairingConsumed
			if err := tx.queryRow(ctx, `SELECT t.name, l.name FROM tenants t JOIN locations l ON l.tenant_id = t.id
				WHERE t.id = ? AND l.id = ?`, p.TenantID, p.LocationID).Scan(&b.TenantName, &b.LocationName); err != nil {
				return fmt.Errorf("read binding: %w", err)
			}
			b.DeviceID, b.TenantID, b.LocationID, b.DisplayName = p.DeviceID, p.TenantID, p.LocationID, p.Name
		default:
			out = PollPending
			if !p.LastPollAt.IsZero() && now.Sub(p.LastPollAt) < time.Duration(p.Interval)*time.Second-tolerance {
				out = PollSlowDown
				newInterval = min(p.Interval+step, maxPollInterval)
			}
		}
		interval = newInterval
		if _, err := tx.exec(ctx, `UPDATE pairings SET status = ?, poll_interval = ?, last_poll_at = ? WHERE device_code_hash = ?`,
			newStatus, newInterval, tsText(now), hash); err != nil {
			return fmt.Errorf("record poll: %w", err)
		}
		return nil
	})
	return out, b, interval, err
}

// RenameDevice changes a device's display name.
func (db *DB) RenameDevice(ctx context.Context, tenantID, id, name string, actor Actor) (visitor.Device, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return visitor.Device{}, visitor.Errorf(visitor.EINVALID, "display name is required")
	case len(name) > 100:
		return visitor.Device{}, visitor.Errorf(visitor.EINVALID, "display name is too long")
	}
	var d visitor.Device
	err := db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE devices SET name = ? WHERE tenant_id = ? AND id = ?`, name, tenantID, id)
		if err != nil {
			return fmt.Errorf("rename device: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return visitor.Errorf(visitor.ENOTFOUND, "device not found")
		}
		if d, err = scanDevice(tx.queryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, actor, "device.rename", id, map[string]string{"name": name})
	})
	return d, err
}
