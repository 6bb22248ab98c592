package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/theonestack/visitor"
)

// Actor is who made a change: a signed-in user, a kiosk, an integration
// key or the system itself. It is written to the audit trail.
type Actor struct {
	Type string // "user", "device", "integration", "system"
	ID   string
}

// Actor kinds.
const (
	ActorUser        = "user"
	ActorDevice      = "device"
	ActorIntegration = "integration"
	ActorSystem      = "system"
)

// System is the actor of the cloud's own background work.
var System = Actor{Type: ActorSystem, ID: "visitor-cloud"}

func (tx *Tx) audit(ctx context.Context, tenantID string, actor Actor, action, subject string, details any) error {
	return tx.auditTo(ctx, nil, tenantID, actor, action, subject, details)
}

// auditTo writes an audit record now, or adds it to b when b is set.
func (tx *Tx) auditTo(ctx context.Context, b *rowBatch, tenantID string, actor Actor, action, subject string, details any) error {
	raw := []byte("{}")
	if details != nil {
		var err error
		if raw, err = json.Marshal(details); err != nil {
			return fmt.Errorf("audit details: %w", err)
		}
	}
	err := tx.insertRow(ctx, b, tblAudit,
		tx.db.newID(), tenantID, tsText(tx.db.now()), actor.Type, actor.ID, action, subject, string(raw))
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// AppendAudit writes one record to a tenant's audit trail. When r.DedupeKey
// is set and a record with that key exists, nothing is written and the
// existing record's id is returned with created false.
func (db *DB) AppendAudit(ctx context.Context, tenantID string, r visitor.AuditRecord) (id string, created bool, err error) {
	if len(r.Details) == 0 {
		r.Details = json.RawMessage("{}")
	}
	if r.At.IsZero() {
		r.At = db.now()
	}
	r.ID = db.newID()
	var dedupe any
	if r.DedupeKey != "" {
		dedupe = r.DedupeKey
	}
	err = db.write(ctx, func(tx *Tx) error {
		if r.DedupeKey != "" {
			err := tx.queryRow(ctx, `SELECT id FROM audit_log WHERE tenant_id = ? AND dedupe_key = ?`, tenantID, r.DedupeKey).Scan(&id)
			if err == nil {
				return nil
			}
			if notFound(err, "") == err {
				return fmt.Errorf("audit dedupe lookup: %w", err)
			}
		}
		_, err := tx.exec(ctx, `INSERT INTO audit_log (id, tenant_id, at, actor_type, actor_id, action, subject, details, dedupe_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, tenantID, tsText(r.At), r.ActorType, r.ActorID, r.Action, r.Subject, string(r.Details), dedupe)
		if err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		id, created = r.ID, true
		return nil
	})
	if isUniqueViolation(err) {
		// A concurrent writer inserted the same key first.
		err = db.queryRow(ctx, `SELECT id FROM audit_log WHERE tenant_id = ? AND dedupe_key = ?`, tenantID, r.DedupeKey).Scan(&id)
		return id, false, err
	}
	return id, created, err
}

// Audit lists a tenant's audit trail, newest first, a page at a time.
func (db *DB) Audit(ctx context.Context, tenantID string, limit int, cursor string) ([]visitor.AuditRecord, string, error) {
	limit = clampLimit(limit)
	q := `SELECT id, tenant_id, at, actor_type, actor_id, action, subject, details FROM audit_log WHERE tenant_id = ?`
	args := []any{tenantID}
	if cursor != "" {
		q += ` AND id < ?`
		args = append(args, cursor)
	}
	rows, err := db.query(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []visitor.AuditRecord
	for rows.Next() {
		var r visitor.AuditRecord
		var details string
		if err := rows.Scan(&r.ID, &r.TenantID, tm(&r.At), &r.ActorType, &r.ActorID, &r.Action, &r.Subject, &details); err != nil {
			return nil, "", err
		}
		r.Details = json.RawMessage(details)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return page(out, limit, func(r visitor.AuditRecord) string { return r.ID })
}
