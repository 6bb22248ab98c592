package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/syncproto"
)

// ApplyResult is what ApplyOps did with one batch of kiosk ops. It is only
// returned once the transaction that did it has committed, so an ack built
// from it never promises more than the database holds.
type ApplyResult struct {
	// TenantID is the device's tenant, read in the transaction.
	TenantID string
	// Status is the device's status, read in the transaction.
	Status visitor.DeviceStatus
	// LastAppliedSeq is the device's last applied seq after the batch:
	// every op up to it is done (applied, duplicate or rejected).
	LastAppliedSeq int64
	// ExpectedSeq is non-zero when the batch started after a gap: nothing
	// was applied, and the kiosk must resend from this seq.
	ExpectedSeq int64
	// Results has one entry per op of the batch that was looked at, in seq
	// order: duplicates (at or below the previous last applied seq, or
	// whose effect already existed), applied and rejected ops.
	Results []syncproto.OpResult
	// Counts of Results by status.
	Applied, Duplicates, Rejected int
}

// Flags set on visits accepted from a kiosk despite a conflict the kiosk
// could not have known about (DESIGN.md §5): a kiosk visit is never
// rejected because of them.
const (
	FlagPreregCancelled   = "preregistration_cancelled"
	FlagPreregChanged     = "preregistration_changed"
	FlagPreregUsed        = "preregistration_already_used"
	FlagPreregUnknown     = "preregistration_unknown"
	FlagPreregOtherPlace  = "preregistration_other_location"
	FlagTimeUncertain     = "time_uncertain"
	rejectUnknownKind     = "unknown_kind"
	maxPrinterStatusChars = 200
)

// minPlausible is the earliest op time taken from a device's own wall clock
// alone; a kiosk booted without an RTC starts at 1970.
var minPlausible = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// auditActionRE is what a kiosk audit action may look like.
var auditActionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// poisonError marks an op that can never apply.
type poisonError struct{ code, reason string }

func (e *poisonError) Error() string { return e.code + ": " + e.reason }

func poison(code, format string, args ...any) error {
	return &poisonError{code: code, reason: fmt.Sprintf(format, args...)}
}

// poisonOf reports whether err means the op can never apply (rather than
// the database failing, which must abort the batch so it is retried).
func poisonOf(err error) (code, reason string, ok bool) {
	var pe *poisonError
	if errors.As(err, &pe) {
		return pe.code, pe.reason, true
	}
	var ve *visitor.Error
	if errors.As(err, &ve) {
		switch ve.Code {
		case visitor.EINVALID, visitor.ENOTFOUND, visitor.ECONFLICT, visitor.EFORBIDDEN:
			return ve.Code, ve.Message, true
		}
	}
	if isUniqueViolation(err) {
		return visitor.ECONFLICT, "conflicts with an existing record", true
	}
	return "", "", false
}

// errDuplicateEffect is returned by an op whose effect already exists (a
// check-in of a visit id the cloud has): reported as a duplicate.
var errDuplicateEffect = errors.New("effect already recorded")

// syncDevice is the device row ApplyOps locks.
type syncDevice struct {
	id, tenantID, locationID string
	status                   visitor.DeviceStatus
	lastApplied              int64
}

// ApplyOps applies a batch of consecutive ops from a kiosk exactly once, in
// one transaction: it locks the device's row, skips ops at or below its
// last applied seq (duplicates of a resent batch), refuses a batch that
// starts after a gap, applies the rest in seq order, and records the new
// last applied seq and last_seen_at before committing.
//
// An op that can never apply (unknown kind, bad payload, unknown visit,
// location or host of the tenant…) is a poison op: its partial writes are
// rolled back to a savepoint, it is recorded in rejected_ops with a code
// and reason and counted in devices.rejected_ops, and the sequence still
// advances past it. Any other error rolls the whole batch back and is
// returned: the kiosk resends it.
//
// Check-ins (without a pre-registration) are written in bulk: their visit
// ids are looked up in one query, and their rows are written as one
// multi-row INSERT per table, flushed before any other op so that every
// op sees the ones before it. Rows, values and seq order are those of
// applying the ops one at a time.
//
// Op times are corrected with syncproto.CorrectTime against anchor, so
// visits, visit events, audit records and visitor.checked_in/checked_out
// outbox events carry the time the op happened on the cloud's clock.
// The tenant is the device's, read from the database, never from an op.
// A revoked device gets an EFORBIDDEN error and nothing is applied; an
// unpaired one may still drain its ops.
func (db *DB) ApplyOps(ctx context.Context, device visitor.Device, ops []syncproto.Op, anchor syncproto.Anchor) (ApplyResult, error) {
	if len(ops) == 0 {
		return ApplyResult{}, visitor.Errorf(visitor.EINVALID, "empty batch")
	}
	for i := 1; i < len(ops); i++ {
		if ops[i].Seq != ops[i-1].Seq+1 {
			return ApplyResult{}, visitor.Errorf(visitor.EINVALID, "ops are not consecutive at seq %d", ops[i].Seq)
		}
	}
	// Ops run without a savepoint each (two statements fewer per op); a
	// batch that meets a poison op is rolled back and run again with the
	// savepoints, so the poison op alone is undone.
	res, err := db.applyBatch(ctx, device, ops, anchor, false)
	if errors.Is(err, errNeedSavepoints) {
		res, err = db.applyBatch(ctx, device, ops, anchor, true)
	}
	if db.dialect == SQLite {
		// Bulk inserts first met in this batch are kept prepared for the
		// next ones; failing to is no reason to fail the batch.
		if perr := db.bulkStmts.prepareMissed(ctx, db.w); perr != nil {
			db.log.Warn("bulk apply statements not kept", "err", perr)
		}
	}
	if err != nil {
		return ApplyResult{TenantID: res.TenantID, Status: res.Status}, err
	}
	return res, nil
}

// errNeedSavepoints aborts a batch run without savepoints that met a
// poison op.
var errNeedSavepoints = errors.New("batch has a poison op")

// applyBatch is one attempt of ApplyOps, with or without a savepoint
// around each op.
func (db *DB) applyBatch(ctx context.Context, device visitor.Device, ops []syncproto.Op, anchor syncproto.Anchor, guarded bool) (ApplyResult, error) {
	var res ApplyResult
	err := db.write(ctx, func(tx *Tx) error {
		res = ApplyResult{}
		tx.lookups = &lookupCache{locations: map[string]visitor.Location{}, hosts: map[string]visitor.Host{}}
		now := db.now().UTC()
		var d syncDevice
		// An UPDATE … RETURNING locks the row on PostgreSQL until commit
		// (so two connections of one device apply one after the other) and
		// is portable; on SQLite the IMMEDIATE transaction serialises.
		err := tx.queryRow(ctx, `UPDATE devices SET last_seen_at = ? WHERE id = ?
			RETURNING id, tenant_id, location_id, status, last_applied_seq`, tsText(now), device.ID).
			Scan(&d.id, &d.tenantID, &d.locationID, &d.status, &d.lastApplied)
		if err != nil {
			return notFound(err, "device")
		}
		res.TenantID, res.Status = d.tenantID, d.status
		if d.status == visitor.DeviceRevoked {
			return visitor.Errorf(visitor.EFORBIDDEN, "device is revoked")
		}
		plan := syncproto.PlanPush(d.lastApplied, &syncproto.Push{Ops: ops})
		res.Results = append(res.Results, plan.Duplicates...)
		res.Duplicates = len(plan.Duplicates)
		res.LastAppliedSeq = d.lastApplied
		if plan.ExpectedSeq != 0 {
			res.ExpectedSeq = plan.ExpectedSeq
			return nil
		}
		// Without savepoints, check-ins are written in bulk: their rows
		// are buffered and written table by table, before any other op
		// (so every op sees the ones before it) and at the end.
		var b *rowBatch
		if !guarded && !db.bulkApplyOff {
			if b, err = tx.newRowBatch(ctx, plan.Apply); err != nil {
				return err
			}
		}
		for _, op := range plan.Apply {
			var r syncproto.OpResult
			var err error
			if _, bulk := b.payload(op.Seq); bulk {
				r, err = tx.applyBulkCheckIn(ctx, d, op, anchor, b)
			} else {
				if err := b.flushIfPending(ctx, tx); err != nil {
					return err
				}
				r, err = tx.applyOneOp(ctx, d, op, anchor, guarded)
				if err == nil && b != nil && op.Kind == syncproto.KindVisitCheckIn && r.Status == syncproto.StatusApplied {
					var p syncproto.CheckInPayload
					if json.Unmarshal(op.Payload, &p) == nil {
						b.owners[p.VisitID] = d.tenantID
					}
				}
			}
			if errors.Is(err, errNeedSavepoints) {
				return err
			}
			if err != nil {
				return fmt.Errorf("apply op %d: %w", op.Seq, err)
			}
			switch r.Status {
			case syncproto.StatusApplied:
				res.Applied++
			case syncproto.StatusDuplicate:
				res.Duplicates++
			case syncproto.StatusRejected:
				res.Rejected++
			}
			res.Results = append(res.Results, r)
			res.LastAppliedSeq = op.Seq
		}
		if err := b.flushIfPending(ctx, tx); err != nil {
			return err
		}
		if len(plan.Apply) == 0 {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE devices SET last_applied_seq = ?, rejected_ops = rejected_ops + ? WHERE id = ?`,
			res.LastAppliedSeq, res.Rejected, d.id); err != nil {
			return fmt.Errorf("record last applied seq: %w", err)
		}
		return nil
	})
	return res, err
}

// unguardedResult turns the error of an op applied without a savepoint
// into its result: applied, a duplicate, or errNeedSavepoints for a
// poison op (the batch is then run again with savepoints).
func unguardedResult(r syncproto.OpResult, err error) (syncproto.OpResult, error) {
	switch _, _, poisoned := poisonOf(err); {
	case err == nil:
	case errors.Is(err, errDuplicateEffect):
		r.Status = syncproto.StatusDuplicate
	case poisoned:
		return r, errNeedSavepoints
	default:
		return r, err
	}
	return r, nil
}

// applyOneOp applies op. Guarded, it runs inside a savepoint and turns a
// poison op into a recorded rejection; unguarded, a poison op returns
// errNeedSavepoints.
func (tx *Tx) applyOneOp(ctx context.Context, d syncDevice, op syncproto.Op, anchor syncproto.Anchor, guarded bool) (syncproto.OpResult, error) {
	r := syncproto.OpResult{Seq: op.Seq, OpID: op.OpID, Status: syncproto.StatusApplied}
	if !guarded {
		return unguardedResult(r, tx.applyOp(ctx, d, op, anchor))
	}
	if _, err := tx.exec(ctx, `SAVEPOINT sync_op`); err != nil {
		return r, fmt.Errorf("savepoint: %w", err)
	}
	err := tx.applyOp(ctx, d, op, anchor)
	if err == nil || errors.Is(err, errDuplicateEffect) {
		if err != nil {
			r.Status = syncproto.StatusDuplicate
		}
		if _, err := tx.exec(ctx, `RELEASE SAVEPOINT sync_op`); err != nil {
			return r, fmt.Errorf("release savepoint: %w", err)
		}
		return r, nil
	}
	code, reason, ok := poisonOf(err)
	if !ok {
		return r, err
	}
	if _, err := tx.exec(ctx, `ROLLBACK TO SAVEPOINT sync_op`); err != nil {
		return r, fmt.Errorf("rollback to savepoint: %w", err)
	}
	if _, err := tx.exec(ctx, `RELEASE SAVEPOINT sync_op`); err != nil {
		return r, fmt.Errorf("release savepoint: %w", err)
	}
	if len(reason) > 500 {
		reason = reason[:500]
	}
	payload := string(op.Payload)
	if !json.Valid(op.Payload) {
		payload = "null"
	}
	if _, err := tx.exec(ctx, `INSERT INTO rejected_ops (device_id, seq, tenant_id, op_id, kind, code, reason, payload, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.id, op.Seq, d.tenantID, op.OpID, op.Kind, code, reason, payload, tsText(tx.db.now())); err != nil {
		return r, fmt.Errorf("record rejected op: %w", err)
	}
	r.Status, r.Code, r.Reason = syncproto.StatusRejected, code, reason
	return r, nil
}

func (tx *Tx) applyOp(ctx context.Context, d syncDevice, op syncproto.Op, anchor syncproto.Anchor) error {
	at, uncertain := opTime(op, anchor, tx.db.now().UTC())
	actor := Actor{Type: ActorDevice, ID: d.id}
	switch op.Kind {
	case syncproto.KindVisitCheckIn:
		var p syncproto.CheckInPayload
		if err := decodePayload(op, &p); err != nil {
			return err
		}
		return tx.kioskCheckIn(ctx, d, op, p, at, uncertain, actor, nil)
	case syncproto.KindVisitCheckOut:
		var p syncproto.CheckOutPayload
		if err := decodePayload(op, &p); err != nil {
			return err
		}
		if p.VisitID == "" {
			return poison(visitor.EINVALID, "visit_id is required")
		}
		if _, _, err := tx.checkOut(ctx, d.tenantID, p.VisitID, at, visitor.SourceKiosk, actor); err != nil {
			return err
		}
		// The helper names the visit's own device; the event is this op's.
		if _, err := tx.exec(ctx, `UPDATE visit_events SET device_id = ?, device_seq = ?
			WHERE tenant_id = ? AND visit_id = ? AND type = ? AND device_seq = 0`,
			d.id, op.Seq, d.tenantID, p.VisitID, visitor.EventCheckedOut); err != nil {
			return fmt.Errorf("record device seq: %w", err)
		}
		return nil
	case syncproto.KindBadgeAssign, syncproto.KindBadgeReturn:
		var p syncproto.BadgePayload
		if err := decodePayload(op, &p); err != nil {
			return err
		}
		return tx.kioskBadge(ctx, d, op.Kind, p, actor)
	case syncproto.KindAudit:
		var p syncproto.AuditPayload
		if err := decodePayload(op, &p); err != nil {
			return err
		}
		return tx.kioskAudit(ctx, d, op, p, at)
	case syncproto.KindPrintStatus:
		var p syncproto.PrintStatusPayload
		if err := decodePayload(op, &p); err != nil {
			return err
		}
		switch p.State {
		case "printed", "failed", "retrying":
		default:
			return poison(visitor.EINVALID, "unknown print state %.32q", p.State)
		}
		status := p.State
		if p.Detail != "" {
			status += ": " + p.Detail
		}
		if p.Printer != "" {
			status += " (" + p.Printer + ")"
		}
		if len(status) > maxPrinterStatusChars {
			status = status[:maxPrinterStatusChars]
		}
		if _, err := tx.exec(ctx, `UPDATE devices SET printer_status = ? WHERE id = ?`, status, d.id); err != nil {
			return fmt.Errorf("update printer status: %w", err)
		}
		return nil
	}
	return poison(rejectUnknownKind, "unknown op kind %.64q", op.Kind)
}

func decodePayload(op syncproto.Op, dst any) error {
	if len(op.Payload) == 0 {
		return poison(visitor.EINVALID, "%s op has no payload", op.Kind)
	}
	if err := json.Unmarshal(op.Payload, dst); err != nil {
		return poison(visitor.EINVALID, "bad %s payload: %v", op.Kind, err)
	}
	return nil
}

// opTime is the op's time on the cloud's clock. A time known only from the
// device's own clock that cannot be right (before 2020, or in the future)
// is replaced by now and reported as uncertain.
func opTime(op syncproto.Op, anchor syncproto.Anchor, now time.Time) (time.Time, bool) {
	ct := syncproto.CorrectTime(op, anchor)
	t := ct.Time.UTC()
	if t.After(now) {
		t = now // a time a few ms ahead from rounding, or a wrong clock
	}
	if ct.Uncertain() {
		if t.Before(minPlausible) || ct.Time.After(now.Add(5*time.Minute)) {
			return now, true
		}
		return t, true
	}
	return t, false
}

// kioskCheckIn applies a check-in op. With b set (a check-in without a
// pre-registration, whose visit id b looked up), its rows go to b.
func (tx *Tx) kioskCheckIn(ctx context.Context, d syncDevice, op syncproto.Op, p syncproto.CheckInPayload, at time.Time, uncertain bool, actor Actor, b *rowBatch) error {
	if _, err := uuid.Parse(p.VisitID); err != nil {
		return poison(visitor.EINVALID, "visit_id is not a UUID")
	}
	var owner string
	var err error
	if b != nil {
		var ok bool
		if owner, ok = b.owners[p.VisitID]; !ok {
			err = sql.ErrNoRows
		}
	} else {
		err = tx.queryRow(ctx, `SELECT tenant_id FROM visits WHERE id = ?`, p.VisitID).Scan(&owner)
	}
	switch {
	case err == nil && owner == d.tenantID:
		return errDuplicateEffect
	case err == nil:
		return poison(visitor.ECONFLICT, "visit id is taken")
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("look up visit: %w", err)
	}
	if p.LocationID != "" && p.LocationID != d.locationID {
		return poison(visitor.EFORBIDDEN, "the device does not serve location %.64q", p.LocationID)
	}
	v := visitor.Visit{
		ID: p.VisitID, TenantID: d.tenantID, LocationID: d.locationID, HostID: p.HostID,
		Visitor:     visitor.Person{Name: p.Visitor.Name, Email: p.Visitor.Email, Company: p.Visitor.Company, Phone: p.Visitor.Phone}.Normalize(),
		VisitorType: strings.TrimSpace(p.VisitorType), Status: visitor.VisitCheckedIn, Source: visitor.SourceKiosk,
		DeviceID: d.id, BadgeNumber: strings.TrimSpace(p.BadgeNumber), PreregistrationID: p.PreregistrationID,
		CheckedInAt: at, NDAVersion: p.NDAVersion,
	}
	if err := v.Visitor.Validate(); err != nil {
		return err
	}
	if v.VisitorType == "" {
		v.VisitorType = visitor.TypeGuest
	}
	if p.NDASigned {
		v.NDASignedAt = at
	}
	var flags []string
	if uncertain {
		flags = append(flags, FlagTimeUncertain)
	}
	if p.PreregistrationID != "" || p.InviteCode != "" {
		if b != nil {
			return fmt.Errorf("a check-in with a pre-registration is not written in bulk")
		}
		f, err := tx.claimPreregistration(ctx, d, p, &v, at)
		if err != nil {
			return err
		}
		flags = append(flags, f...)
	}
	v.Flag = strings.Join(flags, ",")
	now := tx.db.now().UTC()
	v.CreatedAt, v.UpdatedAt = now, now
	_, err = tx.checkIn(ctx, v, op.Seq, actor, b)
	return err
}

// claimPreregistration links a kiosk visit to its pre-registration and
// marks it used. A pre-registration cancelled, changed or used while the
// kiosk was offline never makes the visit fail: the visit is flagged.
func (tx *Tx) claimPreregistration(ctx context.Context, d syncDevice, p syncproto.CheckInPayload, v *visitor.Visit, at time.Time) ([]string, error) {
	q, arg := `SELECT `+preregColumns+` FROM preregistrations WHERE tenant_id = ? AND id = ?`, p.PreregistrationID
	if p.PreregistrationID == "" {
		q, arg = `SELECT `+preregColumns+` FROM preregistrations WHERE tenant_id = ? AND invite_code = ?`, strings.ToUpper(strings.TrimSpace(p.InviteCode))
	}
	pr, err := scanPrereg(tx.queryRow(ctx, q, d.tenantID, arg))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return []string{FlagPreregUnknown}, nil
		}
		return nil, fmt.Errorf("look up preregistration: %w", err)
	}
	v.PreregistrationID = pr.ID
	var flags []string
	switch {
	case pr.Status == visitor.PreregCancelled:
		flags = append(flags, FlagPreregCancelled)
	case pr.Status == visitor.PreregUsed && pr.VisitID != v.ID:
		flags = append(flags, FlagPreregUsed)
	}
	if pr.LocationID != d.locationID {
		flags = append(flags, FlagPreregOtherPlace)
	}
	// Using a pre-registration updates it too, so only an unused one's
	// update time tells of an edit the kiosk could not have seen.
	edited := pr.Status != visitor.PreregUsed && pr.UpdatedAt.After(at)
	if edited || (v.HostID != "" && pr.HostID != "" && v.HostID != pr.HostID) {
		flags = append(flags, FlagPreregChanged)
	}
	if pr.Status != visitor.PreregPending {
		return flags, nil
	}
	pr.Status, pr.VisitID, pr.UpdatedAt = visitor.PreregUsed, v.ID, tx.db.now().UTC()
	if _, err := tx.exec(ctx, `UPDATE preregistrations SET status = ?, visit_id = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		string(pr.Status), pr.VisitID, tsText(pr.UpdatedAt), d.tenantID, pr.ID); err != nil {
		return nil, fmt.Errorf("use preregistration: %w", err)
	}
	if err := tx.appendChange(ctx, d.tenantID, pr.LocationID, syncproto.EntityPreregistration, pr.ID, syncproto.ChangeUpsert, pr); err != nil {
		return nil, err
	}
	return flags, nil
}

func (tx *Tx) kioskBadge(ctx context.Context, d syncDevice, kind string, p syncproto.BadgePayload, actor Actor) error {
	var b visitor.Badge
	var err error
	switch {
	case p.BadgeID != "":
		b, err = scanBadge(tx.queryRow(ctx, `SELECT `+badgeColumns+` FROM badges WHERE tenant_id = ? AND id = ?`, d.tenantID, p.BadgeID))
	case p.Number != "":
		b, err = scanBadge(tx.queryRow(ctx, `SELECT `+badgeColumns+` FROM badges WHERE tenant_id = ? AND location_id = ? AND number = ?`,
			d.tenantID, d.locationID, strings.TrimSpace(p.Number)))
	default:
		return poison(visitor.EINVALID, "badge_id or number is required")
	}
	if err != nil {
		return notFound(err, "badge")
	}
	if b.Status == visitor.BadgeRetired {
		return poison(visitor.ECONFLICT, "badge %s is retired", b.Number)
	}
	action := "badge.assigned"
	switch kind {
	case syncproto.KindBadgeAssign:
		if p.VisitID == "" {
			return poison(visitor.EINVALID, "assigning a badge needs a visit")
		}
		b.Status, b.VisitID = visitor.BadgeAssigned, p.VisitID
	default:
		action = "badge.available"
		if b.Status == visitor.BadgeAssigned && p.VisitID != "" && b.VisitID != p.VisitID {
			// Assigned to another visit since: this return is stale.
			return tx.audit(ctx, d.tenantID, actor, "badge.return_stale", b.ID, map[string]string{"visit_id": p.VisitID})
		}
		b.Status, b.VisitID = visitor.BadgeAvailable, ""
	}
	b.UpdatedAt = tx.db.now().UTC()
	if _, err := tx.exec(ctx, `UPDATE badges SET status = ?, visit_id = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		string(b.Status), b.VisitID, tsText(b.UpdatedAt), d.tenantID, b.ID); err != nil {
		return fmt.Errorf("update badge: %w", err)
	}
	if err := tx.appendChange(ctx, d.tenantID, b.LocationID, syncproto.EntityBadge, b.ID, syncproto.ChangeUpsert, b); err != nil {
		return err
	}
	return tx.audit(ctx, d.tenantID, actor, action, b.ID, map[string]string{"visit_id": p.VisitID})
}

func (tx *Tx) kioskAudit(ctx context.Context, d syncDevice, op syncproto.Op, p syncproto.AuditPayload, at time.Time) error {
	if !auditActionRE.MatchString(p.Action) {
		return poison(visitor.EINVALID, "bad audit action")
	}
	details := "{}"
	if len(p.Details) > 0 && string(p.Details) != "null" {
		var obj map[string]any
		if err := json.Unmarshal(p.Details, &obj); err != nil {
			return poison(visitor.EINVALID, "audit details must be a JSON object")
		}
		details = string(p.Details)
	}
	if len(p.Subject) > 200 {
		return poison(visitor.EINVALID, "audit subject is too long")
	}
	_, err := tx.exec(ctx, `INSERT INTO audit_log (id, tenant_id, at, actor_type, actor_id, action, subject, details, dedupe_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
		tx.db.newID(), d.tenantID, tsText(at), ActorDevice, d.id, "kiosk."+p.Action, p.Subject, details)
	if err != nil {
		return fmt.Errorf("kiosk audit: %w", err)
	}
	return nil
}

// RejectedOp is a kiosk op the cloud could never apply.
type RejectedOp struct {
	DeviceID string    `json:"device_id"`
	Seq      int64     `json:"seq"`
	OpID     string    `json:"op_id"`
	Kind     string    `json:"kind"`
	Code     string    `json:"code"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// RejectedOps lists a device's rejected ops (of the tenant), by seq.
func (db *DB) RejectedOps(ctx context.Context, tenantID, deviceID string) ([]RejectedOp, error) {
	rows, err := db.query(ctx, `SELECT device_id, seq, op_id, kind, code, reason, at FROM rejected_ops
		WHERE tenant_id = ? AND device_id = ? ORDER BY seq LIMIT 1000`, tenantID, deviceID)
	if err != nil {
		return nil, fmt.Errorf("list rejected ops: %w", err)
	}
	defer rows.Close()
	var out []RejectedOp
	for rows.Next() {
		var r RejectedOp
		if err := rows.Scan(&r.DeviceID, &r.Seq, &r.OpID, &r.Kind, &r.Code, &r.Reason, tm(&r.At)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// TouchDevices records that the devices are connected now (last_seen_at).
func (db *DB) TouchDevices(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	now := tsText(db.now())
	return db.write(ctx, func(tx *Tx) error {
		for _, chunk := range chunks(ids, 500) {
			args := append([]any{now}, anys(chunk)...)
			if _, err := tx.exec(ctx, `UPDATE devices SET last_seen_at = ? WHERE id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
				return fmt.Errorf("touch devices: %w", err)
			}
		}
		return nil
	})
}

// DeviceStatuses returns the status of each of the devices that exists.
func (db *DB) DeviceStatuses(ctx context.Context, ids []string) (map[string]visitor.DeviceStatus, error) {
	out := make(map[string]visitor.DeviceStatus, len(ids))
	for _, chunk := range chunks(ids, 500) {
		rows, err := db.query(ctx, `SELECT id, status FROM devices WHERE id IN (`+placeholders(len(chunk))+`)`, anys(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("device statuses: %w", err)
		}
		for rows.Next() {
			var id string
			var st visitor.DeviceStatus
			if err := rows.Scan(&id, &st); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = st
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
