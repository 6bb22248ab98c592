package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/theonestack/visitor"
)

// hashSecret is how session ids and keys are stored: a leaked table does
// not yield usable cookies or keys. The secrets are ≥128-bit random, so an
// unsalted SHA-256 is enough.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ConsumeToken records a Hub token id as used until expiresAt. It returns
// false when the id was already used: the unique insert is atomic on both
// engines, so of any number of concurrent callers on any number of
// instances exactly one gets true.
func (db *DB) ConsumeToken(ctx context.Context, jti string, expiresAt time.Time) (bool, error) {
	if jti == "" {
		return false, visitor.Errorf(visitor.EINVALID, "token has no jti")
	}
	var fresh bool
	err := db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `INSERT INTO consumed_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING`,
			jti, tsText(expiresAt))
		if err != nil {
			return fmt.Errorf("consume token: %w", err)
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, err
}

// LoginSuccess is what a verified Hub sign-in records.
type LoginSuccess struct {
	Session   visitor.Session // ID is the raw session id (stored hashed)
	IP        string
	EventTime time.Time
}

// CreateSession ensures the tenant, stores the session (its id hashed) and
// writes the auth.hub_sso_login event and an audit record, all in one
// transaction.
func (db *DB) CreateSession(ctx context.Context, l LoginSuccess) error {
	s := l.Session
	if s.ID == "" || s.TenantID == "" || s.UserID == "" {
		return visitor.Errorf(visitor.EINVALID, "session needs an id, a tenant and a user")
	}
	perms, err := json.Marshal(s.Permissions)
	if err != nil {
		return err
	}
	settings, err := json.Marshal(DefaultSettings())
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `INSERT INTO tenants (id, name, settings, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
			s.TenantID, s.TenantName, string(settings), tsText(db.now())); err != nil {
			return fmt.Errorf("ensure tenant: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO sessions (id_hash, user_id, tenant_id, tenant_name, name, email, role, permissions, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			hashSecret(s.ID), s.UserID, s.TenantID, s.TenantName, s.Name, s.Email, s.Role, string(perms),
			tsText(s.CreatedAt), tsText(s.ExpiresAt)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		data, err := json.Marshal(loginEventData{UserID: s.UserID, Email: s.Email, Name: s.Name, IP: l.IP})
		if err != nil {
			return err
		}
		if err := tx.appendEvent(ctx, visitor.OutboxEvent{
			TenantID: s.TenantID, Type: visitor.EventSSOLogin, Subject: s.UserID, Time: l.EventTime, Data: data,
		}); err != nil {
			return err
		}
		return tx.audit(ctx, s.TenantID, Actor{Type: ActorUser, ID: s.UserID}, "auth.login", s.UserID, map[string]string{"ip": l.IP})
	})
}

// LoginFailure is a refused sign-in attempt.
type LoginFailure struct {
	TenantID string // "" when unknown
	UserID   string // "" when unknown
	Email    string
	Reason   string
	IP       string
}

// RecordLoginFailure writes the auth.login_failed event and, when the
// tenant is known, an audit record with the reason, in one transaction.
// Failures of unknown tenants are kept in the outbox under tenant "".
func (db *DB) RecordLoginFailure(ctx context.Context, f LoginFailure) error {
	subject := f.UserID
	if subject == "" {
		subject = "anonymous"
	}
	data, err := json.Marshal(loginEventData{Email: f.Email, IP: f.IP, Reason: f.Reason})
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := tx.appendEvent(ctx, visitor.OutboxEvent{
			TenantID: f.TenantID, Type: visitor.EventLoginFailed, Subject: subject, Data: data,
		}); err != nil {
			return err
		}
		return tx.audit(ctx, f.TenantID, Actor{Type: ActorUser, ID: f.UserID}, "auth.login_failed", subject,
			map[string]string{"reason": f.Reason, "ip": f.IP})
	})
}

// Session returns the live session with the given raw id. An unknown or
// expired session is ENOTFOUND.
func (db *DB) Session(ctx context.Context, id string) (visitor.Session, error) {
	var s visitor.Session
	var perms string
	err := db.queryRow(ctx, `SELECT user_id, tenant_id, tenant_name, name, email, role, permissions, created_at, expires_at
		FROM sessions WHERE id_hash = ? AND expires_at > ?`, hashSecret(id), tsText(db.now())).
		Scan(&s.UserID, &s.TenantID, &s.TenantName, &s.Name, &s.Email, &s.Role, &perms, tm(&s.CreatedAt), tm(&s.ExpiresAt))
	if err != nil {
		return visitor.Session{}, notFound(err, "session")
	}
	if err := json.Unmarshal([]byte(perms), &s.Permissions); err != nil {
		return visitor.Session{}, fmt.Errorf("decode session permissions: %w", err)
	}
	s.ID = id
	return s, nil
}

// DeleteSession ends a session on every instance (they all read it from
// this table). Deleting an unknown session is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, hashSecret(id))
		return err
	})
}

// PurgeExpired deletes expired sessions and consumed token ids kept past
// their expiry plus leeway. It returns how many rows went.
func (db *DB) PurgeExpired(ctx context.Context, leeway time.Duration) (int64, error) {
	var total int64
	err := db.write(ctx, func(tx *Tx) error {
		now := db.now()
		for _, q := range []struct {
			sql string
			at  time.Time
		}{
			{`DELETE FROM sessions WHERE expires_at <= ?`, now},
			{`DELETE FROM consumed_tokens WHERE expires_at <= ?`, now.Add(-leeway)},
			{`DELETE FROM leases WHERE expires_at <= ?`, now},
		} {
			res, err := tx.exec(ctx, q.sql, tsText(q.at))
			if err != nil {
				return fmt.Errorf("purge: %w", err)
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}
