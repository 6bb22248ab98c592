package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/syncproto"
)

// NewCheckIn is a validated check-in to record. Visitor fields are
// normalised by the caller. With InviteCode set, the pre-registration
// supplies every field left empty.
type NewCheckIn struct {
	VisitID     string
	Visitor     visitor.Person
	HostID      string
	VisitorType string
	InviteCode  string
	BadgeNumber string // "" assigns the first available badge, if any
	// Offline makes an invite code unknown locally answer "ask reception"
	// (the directory may simply not have synced yet).
	Offline bool
	// NDA, when set, is the NDA the visitor signed before confirming.
	NDA *NDA
}

// NDA is a signed NDA: the version of the tenant's text and a PNG of the
// visitor's signature stroke.
type NDA struct {
	Version   string
	Signature []byte
}

// CheckIn records a visit in one IMMEDIATE transaction: the visit, its
// visit.check_in op and, when a badge is available (or named), the
// badge's assignment and its badge.assign op. A signed NDA is stored on
// the visit, named on the check-in op (nda_version, nda_signed) and
// audited (visit.nda_signed). Either everything is committed or nothing. It refuses (ENOTPAIRED) unless the kiosk is paired.
func (db *DB) CheckIn(ctx context.Context, in NewCheckIn, env OpEnv) (visitor.Visit, error) {
	var v visitor.Visit
	err := db.Write(ctx, func(tx *sql.Tx) error {
		id, ok, err := identityQ(ctx, tx)
		if err != nil {
			return err
		}
		if !ok || !id.Paired() {
			return visitor.Errorf(visitor.ENOTPAIRED, "this kiosk is not paired")
		}
		var preregID string
		if in.InviteCode != "" {
			p, err := findPrereg(ctx, tx, in.InviteCode, in.Offline)
			if err != nil {
				return err
			}
			preregID, in.InviteCode = p.ID, p.InviteCode
			in.Visitor = mergePerson(in.Visitor, p.Visitor)
			in.HostID = cmp(in.HostID, p.HostID)
			in.VisitorType = cmp(in.VisitorType, p.VisitorType)
			if _, err := tx.ExecContext(ctx, `UPDATE preregistrations SET status = ?, visit_id = ? WHERE id = ?`,
				visitor.PreregUsed, in.VisitID, p.ID); err != nil {
				return fmt.Errorf("mark invite used: %w", err)
			}
		}
		if err := in.Visitor.Validate(); err != nil {
			return err
		}
		if in.VisitorType == "" {
			in.VisitorType = visitor.TypeGuest
		}
		if in.HostID != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM hosts WHERE id = ?`, in.HostID).Scan(&n); err != nil {
				return fmt.Errorf("find host: %w", err)
			}
			if n == 0 {
				return visitor.Errorf(visitor.EINVALID, "unknown host_id %q", in.HostID)
			}
		}
		badgeID, number, err := pickBadge(ctx, tx, id.LocationID, in.BadgeNumber)
		if err != nil {
			return err
		}
		var ndaVersion string
		var ndaAt sql.NullString
		var ndaSig []byte
		if in.NDA != nil {
			ndaVersion, ndaAt, ndaSig = in.NDA.Version, sql.NullString{String: ts(env.Now), Valid: true}, in.NDA.Signature
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO visits (id, location_id, host_id, visitor_name, visitor_email,
			visitor_company, visitor_phone, visitor_type, status, badge_number, preregistration_id, checked_in_at,
			nda_version, nda_signed_at, nda_signature)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			in.VisitID, id.LocationID, in.HostID, in.Visitor.Name, in.Visitor.Email, in.Visitor.Company, in.Visitor.Phone,
			in.VisitorType, visitor.VisitCheckedIn, number, preregID, ts(env.Now), ndaVersion, ndaAt, ndaSig)
		if err != nil {
			return fmt.Errorf("insert visit: %w", err)
		}
		if _, err := AppendOp(ctx, tx, env, syncproto.KindVisitCheckIn, syncproto.CheckInPayload{
			VisitID: in.VisitID, LocationID: id.LocationID, HostID: in.HostID,
			Visitor:     syncproto.PersonPayload{Name: in.Visitor.Name, Email: in.Visitor.Email, Company: in.Visitor.Company, Phone: in.Visitor.Phone},
			VisitorType: in.VisitorType, BadgeNumber: number, PreregistrationID: preregID, InviteCode: in.InviteCode,
			NDAVersion: ndaVersion, NDASigned: in.NDA != nil,
		}); err != nil {
			return err
		}
		if in.NDA != nil {
			if err := appendNDAAudit(ctx, tx, env, in.VisitID, ndaVersion); err != nil {
				return err
			}
		}
		if badgeID != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE badges SET status = ?, visit_id = ? WHERE id = ?`,
				visitor.BadgeAssigned, in.VisitID, badgeID); err != nil {
				return fmt.Errorf("assign badge: %w", err)
			}
			if _, err := AppendOp(ctx, tx, env, syncproto.KindBadgeAssign, syncproto.BadgePayload{
				BadgeID: badgeID, Number: number, VisitID: in.VisitID,
			}); err != nil {
				return err
			}
		}
		v, err = visitQ(ctx, tx, `v.id = ?`, in.VisitID)
		return err
	})
	return v, err
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func mergePerson(given, invited visitor.Person) visitor.Person {
	return visitor.Person{
		Name: cmp(given.Name, invited.Name), Email: cmp(given.Email, invited.Email),
		Company: cmp(given.Company, invited.Company), Phone: cmp(given.Phone, invited.Phone),
	}
}

func findPrereg(ctx context.Context, tx *sql.Tx, code string, offline bool) (visitor.Preregistration, error) {
	var p visitor.Preregistration
	err := tx.QueryRowContext(ctx, `SELECT id, host_id, visitor_name, visitor_email, visitor_company, visitor_phone,
		visitor_type, status, invite_code FROM preregistrations WHERE invite_code = ? COLLATE NOCASE`, code).Scan(
		&p.ID, &p.HostID, &p.Visitor.Name, &p.Visitor.Email, &p.Visitor.Company, &p.Visitor.Phone, &p.VisitorType, &p.Status, &p.InviteCode)
	switch {
	case errors.Is(err, sql.ErrNoRows) && offline:
		return p, visitor.Errorf(visitor.ENOTFOUND, "This invite code cannot be checked while the kiosk is offline. Please ask reception.")
	case errors.Is(err, sql.ErrNoRows):
		return p, visitor.Errorf(visitor.ENOTFOUND, "Unknown invite code. Please check it or ask reception.")
	case err != nil:
		return p, fmt.Errorf("find invite: %w", err)
	}
	switch p.Status {
	case visitor.PreregCancelled:
		return p, visitor.Errorf(visitor.ECONFLICT, "This invitation was cancelled. Please ask reception.")
	case visitor.PreregUsed:
		return p, visitor.Errorf(visitor.ECONFLICT, "This invite code was already used. Please ask reception.")
	}
	return p, nil
}

// pickBadge finds the named badge (which must be available at this
// location) or the first available one; "" when none is left.
func pickBadge(ctx context.Context, tx *sql.Tx, locationID, number string) (id, num string, err error) {
	if number != "" {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT id, number, status FROM badges WHERE location_id = ? AND number = ?`,
			locationID, number).Scan(&id, &num, &status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return "", "", visitor.Errorf(visitor.EINVALID, "unknown badge number %q", number)
		case err != nil:
			return "", "", fmt.Errorf("find badge: %w", err)
		case status != string(visitor.BadgeAvailable):
			return "", "", visitor.Errorf(visitor.ECONFLICT, "badge %q is not available", number)
		}
		return id, num, nil
	}
	err = tx.QueryRowContext(ctx, `SELECT id, number FROM badges WHERE location_id = ? AND status = ?
		ORDER BY length(number), number LIMIT 1`, locationID, visitor.BadgeAvailable).Scan(&id, &num)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("find badge: %w", err)
	}
	return id, num, nil
}

// CheckOut ends the visit with id visitID, or the on-site visit wearing
// badge number badge, in one transaction with its visit.check_out op and,
// if a badge was assigned, the badge's return and its badge.return op. A
// visit already checked out is returned as is, with no new op. Unknown →
// ENOTFOUND.
func (db *DB) CheckOut(ctx context.Context, visitID, badge string, env OpEnv) (visitor.Visit, error) {
	var v visitor.Visit
	err := db.Write(ctx, func(tx *sql.Tx) error {
		id, ok, err := identityQ(ctx, tx)
		if err != nil {
			return err
		}
		if !ok || !id.Paired() {
			return visitor.Errorf(visitor.ENOTPAIRED, "this kiosk is not paired")
		}
		if visitID != "" {
			v, err = visitQ(ctx, tx, `v.id = ?`, visitID)
		} else {
			v, err = visitQ(ctx, tx, `v.badge_number = ? AND v.status = 'checked_in'`, badge)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return visitor.Errorf(visitor.ENOTFOUND, "no visit found to check out")
		}
		if err != nil {
			return err
		}
		if v.Status == visitor.VisitCheckedOut {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE visits SET status = ?, checked_out_at = ? WHERE id = ?`,
			visitor.VisitCheckedOut, ts(env.Now), v.ID); err != nil {
			return fmt.Errorf("check out: %w", err)
		}
		if _, err := AppendOp(ctx, tx, env, syncproto.KindVisitCheckOut, syncproto.CheckOutPayload{VisitID: v.ID}); err != nil {
			return err
		}
		var badgeID string
		err = tx.QueryRowContext(ctx, `SELECT id FROM badges WHERE visit_id = ? AND status = ?`, v.ID, visitor.BadgeAssigned).Scan(&badgeID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("find badge: %w", err)
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE badges SET status = ?, visit_id = '' WHERE id = ?`, visitor.BadgeAvailable, badgeID); err != nil {
				return fmt.Errorf("return badge: %w", err)
			}
			if _, err := AppendOp(ctx, tx, env, syncproto.KindBadgeReturn, syncproto.BadgePayload{
				BadgeID: badgeID, Number: v.BadgeNumber, VisitID: v.ID,
			}); err != nil {
				return err
			}
		}
		v, err = visitQ(ctx, tx, `v.id = ?`, v.ID)
		return err
	})
	return v, err
}

const visitCols = `v.id, v.location_id, v.host_id, v.visitor_name, v.visitor_email, v.visitor_company, v.visitor_phone,
	v.visitor_type, v.status, v.badge_number, v.preregistration_id, v.checked_in_at, COALESCE(v.checked_out_at, ''),
	COALESCE(i.tenant_id, ''), COALESCE(i.device_id, '')`

const visitFrom = ` FROM visits v LEFT JOIN identity i ON i.id = 1 `

type rowScanner interface{ Scan(dest ...any) error }

func scanVisit(r rowScanner) (visitor.Visit, error) {
	var v visitor.Visit
	var in, out string
	if err := r.Scan(&v.ID, &v.LocationID, &v.HostID, &v.Visitor.Name, &v.Visitor.Email, &v.Visitor.Company,
		&v.Visitor.Phone, &v.VisitorType, &v.Status, &v.BadgeNumber, &v.PreregistrationID, &in, &out,
		&v.TenantID, &v.DeviceID); err != nil {
		return v, err
	}
	v.Source = visitor.SourceKiosk
	var err error
	if v.CheckedInAt, err = parseTS(in); err != nil {
		return v, fmt.Errorf("visit time: %w", err)
	}
	if out != "" {
		if v.CheckedOutAt, err = parseTS(out); err != nil {
			return v, fmt.Errorf("visit time: %w", err)
		}
	}
	v.CreatedAt, v.UpdatedAt = v.CheckedInAt, v.CheckedInAt
	if !v.CheckedOutAt.IsZero() {
		v.UpdatedAt = v.CheckedOutAt
	}
	return v, nil
}

func visitQ(ctx context.Context, q queryer, where string, args ...any) (visitor.Visit, error) {
	return scanVisit(q.QueryRowContext(ctx, `SELECT `+visitCols+visitFrom+`WHERE `+where, args...))
}

// Visit returns one visit; ENOTFOUND if there is none.
func (db *DB) Visit(ctx context.Context, id string) (visitor.Visit, error) {
	v, err := visitQ(ctx, db.r, `v.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return v, visitor.Errorf(visitor.ENOTFOUND, "no visit %q", id)
	}
	if err != nil {
		return v, fmt.Errorf("read visit: %w", err)
	}
	return v, nil
}

// likePrefix escapes s for a LIKE prefix pattern (escape character \).
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// OnSite lists visits checked in and not out, oldest first, at most limit.
// With namePrefix set, only visitors whose name or any word of it starts
// with namePrefix (case-insensitive).
func (db *DB) OnSite(ctx context.Context, namePrefix string, limit int) ([]visitor.Visit, error) {
	q := `SELECT ` + visitCols + visitFrom + `WHERE v.status = 'checked_in'`
	var args []any
	if namePrefix = strings.TrimSpace(namePrefix); namePrefix != "" {
		q += ` AND (v.visitor_name LIKE ? ESCAPE '\' OR v.visitor_name LIKE ? ESCAPE '\')`
		args = append(args, likePrefix(namePrefix), "% "+likePrefix(namePrefix))
	}
	q += ` ORDER BY v.checked_in_at, v.id LIMIT ?`
	args = append(args, limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list on-site visits: %w", err)
	}
	defer rows.Close()
	visits := []visitor.Visit{}
	for rows.Next() {
		v, err := scanVisit(rows)
		if err != nil {
			return nil, fmt.Errorf("list on-site visits: %w", err)
		}
		visits = append(visits, v)
	}
	return visits, rows.Err()
}
