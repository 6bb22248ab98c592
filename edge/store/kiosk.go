package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/syncproto"
)

// KioskInfo is what the kiosk screens show about where they stand: the
// tenant's and the location's names and the location's time zone. Fields
// are empty until the kiosk is paired and the location has synced down.
type KioskInfo struct {
	DeviceName   string
	TenantName   string
	LocationID   string
	LocationName string
	Timezone     string // IANA name; "UTC" when unknown
}

// KioskInfo reads the kiosk's identity and its location's synced record.
func (db *DB) KioskInfo(ctx context.Context) (KioskInfo, error) {
	var k KioskInfo
	err := db.r.QueryRowContext(ctx, `SELECT i.name, i.tenant_name, i.location_id, COALESCE(l.name, ''), COALESCE(l.timezone, 'UTC')
		FROM identity i LEFT JOIN locations l ON l.id = i.location_id WHERE i.id = 1`).Scan(
		&k.DeviceName, &k.TenantName, &k.LocationID, &k.LocationName, &k.Timezone)
	if errors.Is(err, sql.ErrNoRows) {
		return KioskInfo{Timezone: "UTC"}, nil
	}
	if err != nil {
		return KioskInfo{}, fmt.Errorf("read kiosk info: %w", err)
	}
	return k, nil
}

// Settings returns the tenant settings synced down from the cloud, or the
// zero TenantSettings (no NDA, default badge template, no extra required
// fields) before any arrived.
func (db *DB) Settings(ctx context.Context) (visitor.TenantSettings, error) {
	var raw string
	err := db.r.QueryRowContext(ctx, `SELECT data FROM settings WHERE id = 1`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return visitor.TenantSettings{}, nil
	}
	if err != nil {
		return visitor.TenantSettings{}, fmt.Errorf("read settings: %w", err)
	}
	var s visitor.TenantSettings
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return visitor.TenantSettings{}, fmt.Errorf("decode settings: %w", err)
	}
	return s, nil
}

// BadgeFacts is everything a badge shows about one visit, read in one
// query: the visit, its host's name and the kiosk's location and tenant.
type BadgeFacts struct {
	Visit        visitor.Visit
	HostName     string
	LocationName string
	Timezone     string
	TenantName   string
}

// BadgeFacts reads the facts for the badge of visit id; ENOTFOUND when the
// visit does not exist.
func (db *DB) BadgeFacts(ctx context.Context, visitID string) (BadgeFacts, error) {
	var f BadgeFacts
	v, err := db.Visit(ctx, visitID)
	if err != nil {
		return f, err
	}
	f.Visit = v
	err = db.r.QueryRowContext(ctx, `SELECT COALESCE((SELECT name FROM hosts WHERE id = ?), ''),
		COALESCE((SELECT name FROM locations WHERE id = ?), ''),
		COALESCE((SELECT timezone FROM locations WHERE id = ?), 'UTC'),
		COALESCE((SELECT tenant_name FROM identity WHERE id = 1), '')`,
		v.HostID, v.LocationID, v.LocationID).Scan(&f.HostName, &f.LocationName, &f.Timezone, &f.TenantName)
	if err != nil {
		return f, fmt.Errorf("read badge facts: %w", err)
	}
	return f, nil
}

// AuditNDASigned is the audit action recorded, with the check-in, when a
// visitor signed the tenant's NDA.
const AuditNDASigned = "visit.nda_signed"

// appendNDAAudit writes the audit op of a signed NDA (no PII: the visit id,
// the version and the time) so the cloud's audit trail shows it.
func appendNDAAudit(ctx context.Context, tx *sql.Tx, env OpEnv, visitID, version string) error {
	details, err := json.Marshal(map[string]string{"nda_version": version, "signed_at": env.Now.UTC().Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("NDA audit: %w", err)
	}
	_, err = AppendOp(ctx, tx, env, syncproto.KindAudit, syncproto.AuditPayload{
		Action: AuditNDASigned, Subject: visitID, Details: details,
	})
	return err
}

// NDA returns the version and signing time of visit visitID's NDA, and
// whether a signature is stored (ENOTFOUND when there is no such visit).
func (db *DB) NDA(ctx context.Context, visitID string) (version string, signedAt time.Time, signed bool, err error) {
	var at sql.NullString
	var n int
	err = db.r.QueryRowContext(ctx, `SELECT nda_version, nda_signed_at, length(COALESCE(nda_signature, x'')) FROM visits WHERE id = ?`,
		visitID).Scan(&version, &at, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, false, visitor.Errorf(visitor.ENOTFOUND, "no visit %q", visitID)
	}
	if err != nil {
		return "", time.Time{}, false, fmt.Errorf("read NDA: %w", err)
	}
	if at.Valid {
		if signedAt, err = parseTS(at.String); err != nil {
			return "", time.Time{}, false, fmt.Errorf("read NDA: %w", err)
		}
	}
	return version, signedAt, n > 0, nil
}
