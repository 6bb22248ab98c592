package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/syncproto"
)

const visitColumns = `id, tenant_id, location_id, host_id, visitor_name, visitor_email, visitor_company, visitor_phone,
	visitor_type, status, source, device_id, badge_number, preregistration_id, checked_in_at, checked_out_at,
	created_at, updated_at, flag, ai_risk_score, ai_risk_notes, nda_version, nda_signed_at, nda_signature_ref`

func scanVisit(row interface{ Scan(...any) error }) (visitor.Visit, error) {
	var v visitor.Visit
	var risk sql.NullFloat64
	var notes sql.NullString
	err := row.Scan(&v.ID, &v.TenantID, &v.LocationID, &v.HostID, &v.Visitor.Name, &v.Visitor.Email, &v.Visitor.Company,
		&v.Visitor.Phone, &v.VisitorType, &v.Status, &v.Source, &v.DeviceID, &v.BadgeNumber, &v.PreregistrationID,
		tm(&v.CheckedInAt), tm(&v.CheckedOutAt), tm(&v.CreatedAt), tm(&v.UpdatedAt), &v.Flag, &risk, &notes,
		&v.NDAVersion, tm(&v.NDASignedAt), &v.NDASignatureRef)
	if risk.Valid {
		v.AIRiskScore = &risk.Float64
	}
	if notes.Valid {
		v.AIRiskNotes = &notes.String
	}
	return v, err
}

// CheckIn records a visit that has started: the visit, its first visit
// event, an audit record and the visitor.checked_in Bus event, in one
// transaction. v.ID may be given (a UUIDv7 made where the visit started);
// checking in the same id again returns the existing visit unchanged, so a
// retried request never makes a second visit.
func (db *DB) CheckIn(ctx context.Context, tenantID string, v visitor.Visit, actor Actor) (visitor.Visit, error) {
	v.Visitor = v.Visitor.Normalize()
	if err := v.Visitor.Validate(); err != nil {
		return visitor.Visit{}, err
	}
	if v.LocationID == "" {
		return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "location_id is required")
	}
	v.VisitorType = strings.TrimSpace(v.VisitorType)
	if v.VisitorType == "" {
		v.VisitorType = visitor.TypeGuest
	}
	if v.Source == "" {
		v.Source = visitor.SourceStaff
	}
	now := db.now().UTC()
	if v.ID == "" {
		v.ID = db.newID()
	}
	if v.CheckedInAt.IsZero() {
		v.CheckedInAt = now
	}
	v.TenantID = tenantID
	v.Status = visitor.VisitCheckedIn
	v.CheckedOutAt = time.Time{}
	v.CreatedAt, v.UpdatedAt = now, now
	var out visitor.Visit
	err := db.write(ctx, func(tx *Tx) error {
		existing, err := tx.visit(ctx, tenantID, v.ID)
		switch {
		case err == nil:
			out = existing
			return nil
		case visitor.ErrorCode(err) != visitor.ENOTFOUND:
			return err
		}
		if out, err = tx.checkIn(ctx, v, 0, actor, nil); err != nil {
			return err
		}
		return nil
	})
	if isUniqueViolation(err) {
		return visitor.Visit{}, visitor.Errorf(visitor.ECONFLICT, "visit %s exists", v.ID)
	}
	return out, err
}

// checkIn inserts a started visit with its event, search words, change,
// audit record and outbox row, or adds those rows to b when b is set. The
// caller has normalised v and checked that the id is new.
func (tx *Tx) checkIn(ctx context.Context, v visitor.Visit, deviceSeq int64, actor Actor, b *rowBatch) (visitor.Visit, error) {
	loc, err := tx.location(ctx, v.TenantID, v.LocationID)
	if err != nil {
		return visitor.Visit{}, err
	}
	var host visitor.Host
	if v.HostID != "" {
		if host, err = tx.host(ctx, v.TenantID, v.HostID); err != nil {
			return visitor.Visit{}, err
		}
	}
	var risk, notes any
	if v.AIRiskScore != nil {
		risk = *v.AIRiskScore
	}
	if v.AIRiskNotes != nil {
		notes = *v.AIRiskNotes
	}
	err = tx.insertRow(ctx, b, tblVisits,
		v.ID, v.TenantID, v.LocationID, v.HostID, v.Visitor.Name, v.Visitor.Email, v.Visitor.Company, v.Visitor.Phone,
		v.VisitorType, string(v.Status), string(v.Source), v.DeviceID, v.BadgeNumber, v.PreregistrationID,
		ts(v.CheckedInAt), ts(v.CheckedOutAt), tsText(v.CreatedAt), tsText(v.UpdatedAt), v.Flag, risk, notes,
		v.NDAVersion, ts(v.NDASignedAt), v.NDASignatureRef)
	if err != nil {
		return visitor.Visit{}, fmt.Errorf("insert visit: %w", err)
	}
	if err := tx.visitEventTo(ctx, b, v, visitor.EventCheckedIn, v.CheckedInAt, deviceSeq, actor); err != nil {
		return visitor.Visit{}, err
	}
	if err := tx.addTermsTo(ctx, b, v.TenantID, searchVisit, v.ID, v.Visitor.Name, v.Visitor.Email, v.Visitor.Company); err != nil {
		return visitor.Visit{}, err
	}
	if err := tx.appendChangeTo(ctx, b, v.TenantID, v.LocationID, syncproto.EntityVisit, v.ID, syncproto.ChangeUpsert, VisitState(v)); err != nil {
		return visitor.Visit{}, err
	}
	if err := tx.appendEventTo(ctx, b, visitor.OutboxEvent{
		TenantID: v.TenantID, Type: visitor.EventCheckedIn, Subject: v.ID, Time: v.CheckedInAt,
		Data: visitEventData(v, loc, host),
	}); err != nil {
		return visitor.Visit{}, err
	}
	if err := tx.auditTo(ctx, b, v.TenantID, actor, "visit.check_in", v.ID, map[string]string{"source": string(v.Source)}); err != nil {
		return visitor.Visit{}, err
	}
	return v, nil
}

// CheckOut ends a visit at the given time (zero for now). A visit that is
// already checked out stays as it was: no second visitor.checked_out event
// is emitted, and the repeated check-out is only audited. changed reports
// whether this call checked the visit out.
func (db *DB) CheckOut(ctx context.Context, tenantID, visitID string, at time.Time, source visitor.VisitSource, actor Actor) (v visitor.Visit, changed bool, err error) {
	if at.IsZero() {
		at = db.now()
	}
	at = at.UTC()
	err = db.write(ctx, func(tx *Tx) error {
		v, changed, err = tx.checkOut(ctx, tenantID, visitID, at, source, actor)
		return err
	})
	return v, changed, err
}

func (tx *Tx) checkOut(ctx context.Context, tenantID, visitID string, at time.Time, source visitor.VisitSource, actor Actor) (visitor.Visit, bool, error) {
	v, err := tx.visit(ctx, tenantID, visitID)
	if err != nil {
		return visitor.Visit{}, false, err
	}
	switch v.Status {
	case visitor.VisitCheckedOut:
		err := tx.audit(ctx, tenantID, actor, "visit.check_out_repeated", v.ID, map[string]string{"source": string(source)})
		return v, false, err
	case visitor.VisitCheckedIn:
	default:
		return visitor.Visit{}, false, visitor.Errorf(visitor.ECONFLICT, "visit is %s, not checked in", v.Status)
	}
	if at.Before(v.CheckedInAt) {
		at = v.CheckedInAt // a check-out never precedes its check-in
	}
	now := tx.db.now().UTC()
	if _, err := tx.exec(ctx, `UPDATE visits SET status = ?, checked_out_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ? AND status = ?`,
		string(visitor.VisitCheckedOut), tsText(at), tsText(now), tenantID, v.ID, string(visitor.VisitCheckedIn)); err != nil {
		return visitor.Visit{}, false, fmt.Errorf("check out visit: %w", err)
	}
	v.Status, v.CheckedOutAt, v.UpdatedAt = visitor.VisitCheckedOut, at, now
	if err := tx.visitEvent(ctx, v, visitor.EventCheckedOut, at, 0, actor); err != nil {
		return visitor.Visit{}, false, err
	}
	if err := tx.appendChange(ctx, tenantID, v.LocationID, syncproto.EntityVisit, v.ID, syncproto.ChangeUpsert, VisitState(v)); err != nil {
		return visitor.Visit{}, false, err
	}
	loc, err := tx.location(ctx, tenantID, v.LocationID)
	if err != nil {
		return visitor.Visit{}, false, err
	}
	var host visitor.Host
	if v.HostID != "" {
		if host, err = tx.host(ctx, tenantID, v.HostID); err != nil && visitor.ErrorCode(err) != visitor.ENOTFOUND {
			return visitor.Visit{}, false, err
		}
	}
	data := visitEventData(v, loc, host)
	if err := tx.appendEvent(ctx, visitor.OutboxEvent{
		TenantID: tenantID, Type: visitor.EventCheckedOut, Subject: v.ID, Time: at, Data: data,
	}); err != nil {
		return visitor.Visit{}, false, err
	}
	if err := tx.audit(ctx, tenantID, actor, "visit.check_out", v.ID, map[string]string{"source": string(source)}); err != nil {
		return visitor.Visit{}, false, err
	}
	return v, true, nil
}

func (tx *Tx) visitEvent(ctx context.Context, v visitor.Visit, typ string, at time.Time, deviceSeq int64, actor Actor) error {
	return tx.visitEventTo(ctx, nil, v, typ, at, deviceSeq, actor)
}

// visitEventTo writes a visit event now, or adds it to b when b is set.
func (tx *Tx) visitEventTo(ctx context.Context, b *rowBatch, v visitor.Visit, typ string, at time.Time, deviceSeq int64, actor Actor) error {
	err := tx.insertRow(ctx, b, tblVisitEvents,
		tx.db.newID(), v.TenantID, v.ID, typ, tsText(eventTime(at, tx.db.now)), actor.Type, actor.ID, v.DeviceID, deviceSeq)
	if err != nil {
		return fmt.Errorf("insert visit event: %w", err)
	}
	return nil
}

// Visit returns one visit of the tenant.
func (db *DB) Visit(ctx context.Context, tenantID, id string) (visitor.Visit, error) {
	v, err := scanVisit(db.queryRow(ctx, `SELECT `+visitColumns+` FROM visits WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return v, notFound(err, "visit")
}

func (tx *Tx) visit(ctx context.Context, tenantID, id string) (visitor.Visit, error) {
	v, err := scanVisit(tx.queryRow(ctx, `SELECT `+visitColumns+` FROM visits WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return v, notFound(err, "visit")
}

// Visits lists the tenant's visits matching f, newest check-in first, a
// page at a time (the cursor is the last visit id returned).
func (db *DB) Visits(ctx context.Context, tenantID string, f visitor.VisitFilter) ([]visitor.Visit, string, error) {
	limit := clampLimit(f.Limit)
	q := `SELECT ` + visitColumns + ` FROM visits WHERE tenant_id = ?`
	args := []any{tenantID}
	if f.LocationID != "" {
		q += ` AND location_id = ?`
		args = append(args, f.LocationID)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if !f.From.IsZero() {
		q += ` AND COALESCE(checked_in_at, created_at) >= ?`
		args = append(args, tsText(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND COALESCE(checked_in_at, created_at) < ?`
		args = append(args, tsText(f.To))
	}
	if f.Cursor != "" {
		q += ` AND id < ?`
		args = append(args, f.Cursor)
	}
	return queryPage(ctx, db, "visits", scanVisit, func(v visitor.Visit) string { return v.ID }, limit,
		q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
}

// VisitState is the down-feed form of a visit, for the kiosks of its
// location.
func VisitState(v visitor.Visit) syncproto.VisitState {
	st := syncproto.VisitState{
		ID: v.ID, LocationID: v.LocationID, HostID: v.HostID, VisitorType: v.VisitorType,
		Visitor: syncproto.PersonPayload{Name: v.Visitor.Name, Email: v.Visitor.Email, Company: v.Visitor.Company, Phone: v.Visitor.Phone},
		Status:  string(v.Status), BadgeNumber: v.BadgeNumber, CheckedInMs: v.CheckedInAt.UnixMilli(),
	}
	if !v.CheckedOutAt.IsZero() {
		st.CheckedOutMs = v.CheckedOutAt.UnixMilli()
	}
	return st
}

// visitEventData is the data of visitor.checked_in and visitor.checked_out
// Bus events, as DESIGN.md §3 pins it.
func visitEventData(v visitor.Visit, loc visitor.Location, host visitor.Host) json.RawMessage {
	type person struct {
		Name    string `json:"name"`
		Email   string `json:"email"`
		Company string `json:"company"`
	}
	type hostData struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	d := struct {
		VisitID      string   `json:"visit_id"`
		LocationID   string   `json:"location_id"`
		LocationName string   `json:"location_name"`
		Visitor      person   `json:"visitor"`
		Host         hostData `json:"host"`
		VisitorType  string   `json:"visitor_type"`
		Source       string   `json:"source"`
		DeviceID     string   `json:"device_id"`
		BadgeNumber  string   `json:"badge_number"`
		CheckedInAt  string   `json:"checked_in_at"`
		CheckedOutAt string   `json:"checked_out_at,omitempty"`
	}{
		VisitID: v.ID, LocationID: v.LocationID, LocationName: loc.Name,
		Visitor:     person{v.Visitor.Name, v.Visitor.Email, v.Visitor.Company},
		Host:        hostData{host.ID, host.Name, host.Email},
		VisitorType: v.VisitorType, Source: string(v.Source), DeviceID: v.DeviceID, BadgeNumber: v.BadgeNumber,
		CheckedInAt: v.CheckedInAt.UTC().Format(time.RFC3339Nano),
	}
	if !v.CheckedOutAt.IsZero() {
		d.CheckedOutAt = v.CheckedOutAt.UTC().Format(time.RFC3339Nano)
	}
	raw, _ := json.Marshal(d) // a struct of strings always marshals
	return raw
}
