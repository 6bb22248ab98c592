package store

import (
	"context"
	"fmt"

	"github.com/theonestack/visitor"
)

// ImportVisits adds historical visits of one tenant — records brought over
// from another system — in one transaction: the visits and their search
// words, but no Bus events and no audit records per visit (they are not
// happening now), and one audit record for the import. Visits whose id
// exists already are skipped, so an interrupted import can be rerun. It
// returns how many were added.
func (db *DB) ImportVisits(ctx context.Context, tenantID string, visits []visitor.Visit, actor Actor) (int, error) {
	added := 0
	err := db.write(ctx, func(tx *Tx) error {
		known := map[string]bool{}
		for i := range visits {
			v := &visits[i]
			v.Visitor = v.Visitor.Normalize()
			if err := v.Visitor.Validate(); err != nil {
				return fmt.Errorf("visit %d: %w", i, err)
			}
			if !known[v.LocationID] {
				if _, err := tx.location(ctx, tenantID, v.LocationID); err != nil {
					return fmt.Errorf("visit %d: %w", i, err)
				}
				known[v.LocationID] = true
			}
			if v.ID == "" {
				v.ID = db.newID()
			}
			if v.Status == "" {
				v.Status = visitor.VisitCheckedOut
			}
			if v.Source == "" {
				v.Source = visitor.SourceStaff
			}
			if v.VisitorType == "" {
				v.VisitorType = visitor.TypeGuest
			}
			v.TenantID = tenantID
			if v.CreatedAt.IsZero() {
				v.CreatedAt = v.CheckedInAt
			}
			v.UpdatedAt = v.CreatedAt
			res, err := tx.exec(ctx, `INSERT INTO visits (`+visitColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				v.ID, tenantID, v.LocationID, v.HostID, v.Visitor.Name, v.Visitor.Email, v.Visitor.Company, v.Visitor.Phone,
				v.VisitorType, string(v.Status), string(v.Source), v.DeviceID, v.BadgeNumber, v.PreregistrationID,
				ts(v.CheckedInAt), ts(v.CheckedOutAt), tsText(v.CreatedAt), tsText(v.UpdatedAt), v.Flag,
				v.NDAVersion, ts(v.NDASignedAt), v.NDASignatureRef)
			if err != nil {
				return fmt.Errorf("import visit %d: %w", i, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			added++
			if err := tx.addTerms(ctx, tenantID, searchVisit, v.ID, v.Visitor.Name, v.Visitor.Email, v.Visitor.Company); err != nil {
				return fmt.Errorf("visit %d: %w", i, err)
			}
		}
		return tx.audit(ctx, tenantID, actor, "visits.import", "", map[string]int{"visits": len(visits)})
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}
