package store_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/syncproto"
)

// bulkSite is a store with deterministic ids and clock, a kiosk, a host
// and a badge: two of them built alike hold the same rows after the same
// calls.
type bulkSite struct {
	db    *store.DB
	clock *clock
	dev   visitor.Device
	loc   visitor.Location
	host  visitor.Host
	badge visitor.Badge
}

func newBulkSite(t *testing.T, engine storetest.Engine, perOp bool) *bulkSite {
	t.Helper()
	ctx := context.Background()
	var n atomic.Int64
	s := &bulkSite{clock: newClock()}
	s.db = storetest.Open(t, engine, store.Options{Now: s.clock.Now, NewID: func() string {
		return fmt.Sprintf("00000000-0000-7000-8000-%012d", n.Add(1))
	}})
	if perOp {
		store.DisableBulkApply(s.db)
	}
	if err := s.db.EnsureTenant(ctx, "org_acme", "ACME"); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.loc, err = s.db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ Lobby", Timezone: "UTC"}, staff); err != nil {
		t.Fatal(err)
	}
	if s.host, err = s.db.CreateHost(ctx, "org_acme", visitor.Host{Name: "Ada Lovelace", Email: "ada@acme.example"}, staff); err != nil {
		t.Fatal(err)
	}
	if s.badge, err = s.db.AddBadge(ctx, "org_acme", s.loc.ID, "B-1", staff); err != nil {
		t.Fatal(err)
	}
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	if s.dev, err = s.db.ProvisionDevice(ctx, "org_acme", s.loc.ID, "Lobby kiosk", pub, staff); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *bulkSite) apply(t *testing.T, ops []syncproto.Op) store.ApplyResult {
	t.Helper()
	res, err := s.db.ApplyOps(context.Background(), s.dev, ops,
		syncproto.Anchor{BootID: testBoot, MonoMs: 100_000, ServerTime: s.clock.Now()})
	if err != nil {
		t.Fatalf("ApplyOps: %v", err)
	}
	return res
}

// dump returns every row ApplyOps may write, in a stable order. Without
// ids, the columns made by the store's id source are left out.
func (s *bulkSite) dump(t *testing.T, ids bool) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"visits": `SELECT id, tenant_id, location_id, host_id, visitor_name, visitor_email, visitor_company, visitor_type, status, source,
			device_id, badge_number, COALESCE(checked_in_at, ''), COALESCE(checked_out_at, ''), created_at, updated_at, flag FROM visits ORDER BY id`,
		"visit_events": `SELECT seq, id, visit_id, type, at, source, actor_id, device_id, device_seq, data FROM visit_events ORDER BY seq`,
		"search_terms": `SELECT tenant_id, kind, ref_id, term FROM search_terms ORDER BY kind, ref_id, term`,
		"changes":      `SELECT seq, tenant_id, location_id, entity, entity_id, op, data, at FROM changes ORDER BY seq`,
		"outbox":       `SELECT seq, id, tenant_id, type, subject, time, data, next_attempt_at FROM outbox ORDER BY seq`,
		"audit_log":    `SELECT id, at, actor_type, actor_id, action, subject, details FROM audit_log ORDER BY id`,
		"rejected":     `SELECT seq, op_id, kind, code, reason FROM rejected_ops ORDER BY seq`,
		"devices":      `SELECT id, last_applied_seq, rejected_ops FROM devices ORDER BY id`,
		"badges":       `SELECT id, status, visit_id FROM badges ORDER BY id`,
	}
	out := map[string][]string{}
	for table, q := range queries {
		if !ids {
			// Drop the ids made by NewID and the seqs: a batch run twice
			// (once without savepoints, once with) draws more of them, and
			// on PostgreSQL a rolled-back seq leaves a gap. Rows stay in
			// seq order.
			q = strings.Replace(q, "SELECT seq, id, ", "SELECT ", 1)
			q = strings.Replace(q, "SELECT seq, tenant_id,", "SELECT tenant_id,", 1)
			q = strings.Replace(q, "SELECT id, at,", "SELECT at,", 1)
		}
		rows, err := s.db.SQL().QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if i > 0 {
					b.WriteString("|")
				}
				if raw, ok := v.([]byte); ok {
					v = string(raw)
				}
				fmt.Fprint(&b, v)
			}
			out[table] = append(out[table], b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// column returns column i of the dumped rows of a table.
func column(rows []string, i int) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Split(r, "|")[i])
	}
	return out
}

func statuses(res store.ApplyResult) []string {
	var out []string
	for _, r := range res.Results {
		out = append(out, r.Status)
	}
	return out
}

// TestApplyOpsBulkMatchesPerOp applies batches mixing check-ins written in
// bulk with ops applied one at a time, and checks the rows against the
// same batches applied op by op on a second database.
func TestApplyOpsBulkMatchesPerOp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		bulk, perOp := newBulkSite(t, engine, false), newBulkSite(t, engine, true)
		if !reflect.DeepEqual(bulk.dump(t, true), perOp.dump(t, true)) {
			t.Fatal("the two sites differ before any op")
		}
		checkIn := func(seq int64, visitID, hostID, name string) syncproto.Op {
			return op(t, seq, syncproto.KindVisitCheckIn, syncproto.CheckInPayload{
				VisitID: visitID, LocationID: bulk.loc.ID, HostID: hostID,
				Visitor: syncproto.PersonPayload{Name: name, Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com", Company: "Initech"},
			})
		}
		known, f1, f2, f3 := newVisitID(t), newVisitID(t), newVisitID(t), newVisitID(t)
		first := []syncproto.Op{checkIn(1, known, bulk.host.ID, "Known Visitor")}
		mixed := []syncproto.Op{
			checkIn(2, f1, bulk.host.ID, "José Fresh"),
			checkIn(3, known, "", "Known Again"), // already in the cloud
			checkIn(4, f2, "", "Second Fresh"),
			checkIn(5, f2, "", "Second Twice"), // twice in the batch
			op(t, 6, syncproto.KindVisitCheckOut, syncproto.CheckOutPayload{VisitID: f1}),
			op(t, 7, syncproto.KindBadgeAssign, syncproto.BadgePayload{Number: "B-1", VisitID: f2}),
			checkIn(8, f3, bulk.host.ID, "Third Fresh"),
		}
		wantMixed := []string{syncproto.StatusApplied, syncproto.StatusDuplicate, syncproto.StatusApplied, syncproto.StatusDuplicate,
			syncproto.StatusApplied, syncproto.StatusApplied, syncproto.StatusApplied}
		for _, s := range []*bulkSite{bulk, perOp} {
			if res := s.apply(t, first); res.Applied != 1 {
				t.Fatalf("first batch: %+v", res.Results)
			}
			res := s.apply(t, mixed)
			if got := statuses(res); !reflect.DeepEqual(got, wantMixed) || res.LastAppliedSeq != 8 {
				t.Fatalf("mixed batch: statuses %v, last %d; want %v, 8", got, res.LastAppliedSeq, wantMixed)
			}
			again := s.apply(t, mixed)
			if again.Duplicates != len(mixed) || again.Applied+again.Rejected != 0 {
				t.Errorf("mixed batch again: %+v", again)
			}
		}
		got := bulk.dump(t, true)
		if want := perOp.dump(t, true); !reflect.DeepEqual(got, want) {
			for table := range want {
				if !reflect.DeepEqual(got[table], want[table]) {
					t.Errorf("%s in bulk:\n%s\nop by op:\n%s", table, strings.Join(got[table], "\n"), strings.Join(want[table], "\n"))
				}
			}
		}
		// Exactly the expected rows, in op order.
		if n := len(got["visits"]); n != 4 {
			t.Errorf("visits = %d, want 4", n)
		}
		if ev := column(got["visit_events"], 2); strings.Join(ev, ",") != strings.Join([]string{known, f1, f2, f1, f3}, ",") {
			t.Errorf("visit events by seq: %v", ev)
		}
		if seqs := column(got["visit_events"], 8); strings.Join(seqs, ",") != "1,2,4,6,8" {
			t.Errorf("visit event device seqs: %v", seqs)
		}
		var changed []string
		for _, r := range got["changes"] {
			if f := strings.Split(r, "|"); f[3] == syncproto.EntityVisit || f[3] == syncproto.EntityBadge {
				changed = append(changed, f[4])
			}
		}
		// The first is the badge's creation.
		if want := []string{bulk.badge.ID, known, f1, f2, f1, bulk.badge.ID, f3}; !reflect.DeepEqual(changed, want) {
			t.Errorf("visit and badge changes by seq: %v, want %v", changed, want)
		}
		var events []string
		for _, r := range got["outbox"] {
			if f := strings.Split(r, "|"); strings.HasPrefix(f[3], "visitor.") {
				events = append(events, f[3]+" "+f[4])
			}
		}
		wantEvents := []string{visitor.EventCheckedIn + " " + known, visitor.EventCheckedIn + " " + f1, visitor.EventCheckedIn + " " + f2,
			visitor.EventCheckedOut + " " + f1, visitor.EventCheckedIn + " " + f3}
		if !reflect.DeepEqual(events, wantEvents) {
			t.Errorf("outbox by seq: %v, want %v", events, wantEvents)
		}
		var acts []string
		for _, r := range got["audit_log"] {
			if f := strings.Split(r, "|"); f[2] == store.ActorDevice {
				acts = append(acts, f[4]+" "+f[5])
			}
		}
		wantActs := []string{"visit.check_in " + known, "visit.check_in " + f1, "visit.check_in " + f2, "visit.check_out " + f1,
			"badge.assigned " + bulk.badge.ID, "visit.check_in " + f3}
		if !reflect.DeepEqual(acts, wantActs) {
			t.Errorf("device audit by id: %v, want %v", acts, wantActs)
		}
		if n := len(column(got["search_terms"], 2)); n == 0 {
			t.Error("no search words")
		}
		res, err := bulk.db.Search(context.Background(), "org_acme", "jose", 10)
		if err != nil || len(res.Visitors) != 1 || res.Visitors[0].ID != f1 {
			t.Errorf("search for a visitor checked in in bulk: %+v, %v", res.Visitors, err)
		}

		// A batch with a poison op (a host the tenant does not have) runs
		// again op by op with savepoints: only the poison op is rejected.
		f4, f5, bad := newVisitID(t), newVisitID(t), newVisitID(t)
		poisoned := []syncproto.Op{
			checkIn(9, f4, "", "Fourth Fresh"),
			checkIn(10, bad, "00000000-0000-7000-8000-999999999999", "Unknown Host"),
			checkIn(11, f5, "", "Fifth Fresh"),
		}
		wantPoisoned := []string{syncproto.StatusApplied, syncproto.StatusRejected, syncproto.StatusApplied}
		for _, s := range []*bulkSite{bulk, perOp} {
			res := s.apply(t, poisoned)
			if got := statuses(res); !reflect.DeepEqual(got, wantPoisoned) || res.Results[1].Code != visitor.ENOTFOUND {
				t.Fatalf("poisoned batch: %+v", res.Results)
			}
			if again := s.apply(t, poisoned); again.Duplicates != len(poisoned) {
				t.Errorf("poisoned batch again: %+v", again)
			}
		}
		if got, want := bulk.dump(t, false), perOp.dump(t, false); !reflect.DeepEqual(got, want) {
			for table := range want {
				if !reflect.DeepEqual(got[table], want[table]) {
					t.Errorf("after the poisoned batch, %s in bulk:\n%s\nop by op:\n%s", table, strings.Join(got[table], "\n"), strings.Join(want[table], "\n"))
				}
			}
		}
		if n := count(t, bulk.db, `SELECT COUNT(*) FROM visits WHERE id = ?`, bad); n != 0 {
			t.Errorf("the poison check-in left a visit")
		}
	})
}

// TestApplyOpsBulkLargeBatch applies a full batch whose search words need
// several multi-row statements, and checks every row arrived in op order.
func TestApplyOpsBulkLargeBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		s := newBulkSite(t, engine, false)
		ops := make([]syncproto.Op, syncproto.MaxBatchOps)
		ids := make([]string, len(ops))
		for i := range ops {
			ids[i] = newVisitID(t)
			ops[i] = op(t, int64(i+1), syncproto.KindVisitCheckIn, syncproto.CheckInPayload{
				VisitID: ids[i], LocationID: s.loc.ID,
				Visitor: syncproto.PersonPayload{Name: fmt.Sprintf("Visitor Number %d Of The Big Batch", i), Email: fmt.Sprintf("v%d@example.com", i), Company: "Initech Global"},
			})
		}
		if res := s.apply(t, ops); res.Applied != len(ops) || res.LastAppliedSeq != int64(len(ops)) {
			t.Fatalf("applied %d, last %d", res.Applied, res.LastAppliedSeq)
		}
		got := s.dump(t, true)
		if ev := column(got["visit_events"], 2); !reflect.DeepEqual(ev, ids) {
			t.Errorf("visit events are not in op order")
		}
		var changed []string
		for _, r := range got["changes"] {
			if f := strings.Split(r, "|"); f[3] == syncproto.EntityVisit {
				changed = append(changed, f[4])
			}
		}
		if !reflect.DeepEqual(changed, ids) {
			t.Errorf("changes are not in op order")
		}
		if n, want := len(got["search_terms"]), len(ops)*10; n < want {
			t.Errorf("search words = %d, want at least %d", n, want)
		}
		if n := len(got["outbox"]); n != len(ops) {
			t.Errorf("outbox rows = %d, want %d", n, len(ops))
		}
	})
}
