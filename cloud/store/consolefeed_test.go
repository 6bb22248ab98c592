package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// TestVisitMarks: check-ins and check-outs of any tenant appear after the
// seq a watcher started from, in order, with their tenant.
func TestVisitMarks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newFixture(t, engine)
		ctx := context.Background()
		start, err := f.db.LatestVisitSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: f.loc.ID, Visitor: visitor.Person{Name: "Grace"}}, staff)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.CheckIn(ctx, "org_globex", visitor.Visit{LocationID: f.otherLoc.ID, Visitor: visitor.Person{Name: "Hank"}}, staff); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.db.CheckOut(ctx, "org_acme", v.ID, time.Time{}, visitor.SourceStaff, staff); err != nil {
			t.Fatal(err)
		}
		marks, err := f.db.VisitMarksAfter(ctx, start, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"org_acme", "org_globex", "org_acme"}
		if len(marks) != len(want) {
			t.Fatalf("marks = %+v, want tenants %v", marks, want)
		}
		for i, m := range marks {
			if m.TenantID != want[i] || m.Seq <= start || (i > 0 && m.Seq <= marks[i-1].Seq) {
				t.Errorf("mark %d = %+v", i, m)
			}
		}
		latest, err := f.db.LatestVisitSeq(ctx)
		if err != nil || latest != marks[2].Seq {
			t.Errorf("latest = %d, %v; want %d", latest, err, marks[2].Seq)
		}
		if more, _ := f.db.VisitMarksAfter(ctx, latest, 10); len(more) != 0 {
			t.Errorf("marks after the latest = %+v", more)
		}
	})
}

// TestEachVisitBetween: the range is inclusive local dates of each
// location, and only the tenant's visits come out.
func TestEachVisitBetween(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newFixture(t, engine)
		ctx := context.Background()
		// The clock reads 2026-03-14 09:30 UTC = 10:30 in Paris.
		day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
		at := func(s string) time.Time { d, _ := time.Parse(time.RFC3339, s); return d }
		for _, in := range []struct {
			name string
			at   time.Time
		}{
			{"before", at("2026-03-12T22:59:00Z")}, // 23:59 on the 12th in Paris
			{"first", at("2026-03-12T23:00:00Z")},  // 00:00 on the 13th in Paris
			{"second", at("2026-03-14T09:00:00Z")},
			{"after", at("2026-03-14T23:00:00Z")}, // 00:00 on the 15th in Paris
		} {
			if _, err := f.db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: f.loc.ID, CheckedInAt: in.at, Visitor: visitor.Person{Name: in.name}, HostID: f.host.ID}, staff); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.db.CheckIn(ctx, "org_globex", visitor.Visit{LocationID: f.otherLoc.ID, Visitor: visitor.Person{Name: "other tenant"}}, staff); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := f.db.EachVisitBetween(ctx, "org_acme", day("2026-03-13"), day("2026-03-14"), func(e store.ExportVisit) error {
			got = append(got, e.VisitorName)
			if e.LocationName != "HQ Lobby" || e.HostName != "Ada Lovelace" || e.TenantID != "org_acme" {
				t.Errorf("row = %+v", e)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] != "first" || got[1] != "second" {
			t.Errorf("visits = %v, want [first second]", got)
		}
		if err := f.db.EachVisitBetween(ctx, "org_acme", day("2026-03-14"), day("2026-03-13"), func(store.ExportVisit) error { return nil }); visitor.ErrorCode(err) != visitor.EINVALID {
			t.Errorf("reversed range: %v", err)
		}
	})
}

// TestCancelPreregistration: pending → cancelled once, then a conflict;
// another tenant cannot cancel it.
func TestCancelPreregistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newFixture(t, engine)
		ctx := context.Background()
		p, err := f.db.CreatePreregistration(ctx, "org_acme", visitor.Preregistration{
			LocationID: f.loc.ID, Visitor: visitor.Person{Name: "Expected Guest"}, InviteCode: "ABCD2345",
		}, staff)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.CancelPreregistration(ctx, "org_globex", p.ID, staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("cancel from another tenant: %v", err)
		}
		c, err := f.db.CancelPreregistration(ctx, "org_acme", p.ID, staff)
		if err != nil || c.Status != visitor.PreregCancelled {
			t.Fatalf("cancel = %+v, %v", c, err)
		}
		if _, err := f.db.CancelPreregistration(ctx, "org_acme", p.ID, staff); visitor.ErrorCode(err) != visitor.ECONFLICT {
			t.Errorf("second cancel: %v", err)
		}
		list, _, err := f.db.Preregistrations(ctx, "org_acme", "", 10, "")
		if err != nil || len(list) != 1 || list[0].Status != visitor.PreregCancelled {
			t.Errorf("list = %+v, %v", list, err)
		}
	})
}
