package store_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/syncproto"
)

const testBoot = "boot-1"

// syncFixture is a store fixture with a kiosk paired to the HQ lobby.
type syncFixture struct {
	*fixture
	dev visitor.Device
}

func newSyncFixture(t *testing.T, engine storetest.Engine) *syncFixture {
	t.Helper()
	f := newFixture(t, engine)
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := f.db.ProvisionDevice(context.Background(), "org_acme", f.loc.ID, "Lobby kiosk", pub, staff)
	if err != nil {
		t.Fatal(err)
	}
	return &syncFixture{fixture: f, dev: dev}
}

// anchor says the kiosk's boot testBoot read mono 100 s at the store's now.
func (f *syncFixture) anchor() syncproto.Anchor {
	return syncproto.Anchor{BootID: testBoot, MonoMs: 100_000, ServerTime: f.clock.Now()}
}

func op(t *testing.T, seq int64, kind string, payload any) syncproto.Op {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return syncproto.Op{Seq: seq, OpID: fmt.Sprintf("op-%d", seq), Kind: kind, TimeMs: time.Now().UnixMilli(),
		BootID: testBoot, MonoMs: 90_000 + seq, Payload: raw}
}

func newVisitID(t *testing.T) string {
	t.Helper()
	return uuid.Must(uuid.NewV7()).String()
}

func (f *syncFixture) checkInOp(t *testing.T, seq int64, visitID string) syncproto.Op {
	t.Helper()
	return op(t, seq, syncproto.KindVisitCheckIn, syncproto.CheckInPayload{
		VisitID: visitID, LocationID: f.loc.ID, HostID: f.host.ID,
		Visitor: syncproto.PersonPayload{Name: fmt.Sprintf("Visitor %d", seq), Company: "Initech"},
	})
}

func (f *syncFixture) apply(t *testing.T, ops ...syncproto.Op) store.ApplyResult {
	t.Helper()
	res, err := f.db.ApplyOps(context.Background(), f.dev, ops, f.anchor())
	if err != nil {
		t.Fatalf("ApplyOps: %v", err)
	}
	return res
}

// count runs a COUNT(*) query with ? placeholders on either engine.
func count(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	if db.Dialect() == store.Postgres {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	var n int
	if err := db.SQL().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func countEvents(t *testing.T, db *store.DB, typ, subject string) int {
	t.Helper()
	evs, _, err := db.Events(context.Background(), "org_acme", 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ && (subject == "" || e.Subject == subject) {
			n++
		}
	}
	return n
}

func auditActions(t *testing.T, db *store.DB, subject string) []string {
	t.Helper()
	recs, _, err := db.Audit(context.Background(), "org_acme", 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Subject == subject {
			out = append(out, r.Action)
		}
	}
	return out
}

func TestApplyOpsExactlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ids := make([]string, 7)
		ops := make([]syncproto.Op, 7)
		for i := range ops {
			ids[i] = newVisitID(t)
			ops[i] = f.checkInOp(t, int64(i+1), ids[i])
		}
		steps := []struct {
			name                       string
			batch                      []syncproto.Op
			wantLast, wantExpected     int64
			wantApplied, wantDuplicate int
		}{
			{"first batch", ops[0:3], 3, 0, 3, 0},
			{"same batch again", ops[0:3], 3, 0, 0, 3},
			{"overlapping batch", ops[1:5], 5, 0, 2, 2},
			{"gap", ops[6:7], 5, 6, 0, 0},
			{"gap repaired", ops[5:7], 7, 0, 2, 0},
			{"all again", ops, 7, 0, 0, 7},
		}
		for _, s := range steps {
			res := f.apply(t, s.batch...)
			if res.LastAppliedSeq != s.wantLast || res.ExpectedSeq != s.wantExpected ||
				res.Applied != s.wantApplied || res.Duplicates != s.wantDuplicate || res.Rejected != 0 {
				t.Fatalf("%s: got last=%d expected=%d applied=%d dup=%d rejected=%d, want %d/%d/%d/%d/0",
					s.name, res.LastAppliedSeq, res.ExpectedSeq, res.Applied, res.Duplicates, res.Rejected,
					s.wantLast, s.wantExpected, s.wantApplied, s.wantDuplicate)
			}
			if s.name == "gap" && count(t, f.db, `SELECT COUNT(*) FROM visits WHERE id = ?`, ids[6]) != 0 {
				t.Fatal("gap: an op past the gap was applied")
			}
		}
		if n := count(t, f.db, `SELECT COUNT(*) FROM visits WHERE device_id = ?`, f.dev.ID); n != 7 {
			t.Errorf("visits = %d, want 7", n)
		}
		if n := count(t, f.db, `SELECT COUNT(*) FROM visit_events WHERE device_id = ?`, f.dev.ID); n != 7 {
			t.Errorf("visit events = %d, want 7", n)
		}
		if n := countEvents(t, f.db, visitor.EventCheckedIn, ""); n != 7 {
			t.Errorf("checked_in outbox events = %d, want 7", n)
		}
		for i, id := range ids {
			if n := count(t, f.db, `SELECT COUNT(*) FROM visit_events WHERE visit_id = ? AND device_seq = ?`, id, i+1); n != 1 {
				t.Errorf("visit %d: events with device_seq %d = %d, want 1", i, i+1, n)
			}
		}
		d, err := f.db.Device(context.Background(), "org_acme", f.dev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.LastAppliedSeq != 7 || d.LastSeenAt.IsZero() {
			t.Errorf("device last_applied_seq=%d last_seen=%v, want 7 and set", d.LastAppliedSeq, d.LastSeenAt)
		}
		// The same visit id under a new seq (a kiosk restored from backup)
		// is a duplicate effect: no new visit, no new event.
		res := f.apply(t, f.checkInOp(t, 8, ids[0]))
		if res.Duplicates != 1 || res.LastAppliedSeq != 8 || countEvents(t, f.db, visitor.EventCheckedIn, "") != 7 {
			t.Errorf("re-used visit id: %+v, events %d", res, countEvents(t, f.db, visitor.EventCheckedIn, ""))
		}
	})
}

func TestApplyOpsPoison(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ctx := context.Background()
		globexHost, err := f.db.CreateHost(ctx, "org_globex", visitor.Host{Name: "Hank Scorpio"}, staff)
		if err != nil {
			t.Fatal(err)
		}
		good1, good2 := newVisitID(t), newVisitID(t)
		poisons := []struct {
			name, code string
			op         func(seq int64) syncproto.Op
		}{
			{"unknown kind", "unknown_kind", func(seq int64) syncproto.Op { return op(t, seq, "visit.teleport", map[string]string{}) }},
			{"bad payload", visitor.EINVALID, func(seq int64) syncproto.Op {
				o := op(t, seq, syncproto.KindVisitCheckIn, nil)
				o.Payload = json.RawMessage(`{"visit_id": 42}`)
				return o
			}},
			{"no visitor name", visitor.EINVALID, func(seq int64) syncproto.Op {
				return op(t, seq, syncproto.KindVisitCheckIn, syncproto.CheckInPayload{VisitID: newVisitID(t)})
			}},
			{"host of another tenant", visitor.ENOTFOUND, func(seq int64) syncproto.Op {
				return op(t, seq, syncproto.KindVisitCheckIn, syncproto.CheckInPayload{VisitID: newVisitID(t), HostID: globexHost.ID,
					Visitor: syncproto.PersonPayload{Name: "Eve"}})
			}},
			{"location of another tenant", visitor.EFORBIDDEN, func(seq int64) syncproto.Op {
				return op(t, seq, syncproto.KindVisitCheckIn, syncproto.CheckInPayload{VisitID: newVisitID(t), LocationID: f.otherLoc.ID,
					Visitor: syncproto.PersonPayload{Name: "Eve"}})
			}},
			{"check-out of an unknown visit", visitor.ENOTFOUND, func(seq int64) syncproto.Op {
				return op(t, seq, syncproto.KindVisitCheckOut, syncproto.CheckOutPayload{VisitID: newVisitID(t)})
			}},
			{"unknown badge", visitor.ENOTFOUND, func(seq int64) syncproto.Op {
				return op(t, seq, syncproto.KindBadgeAssign, syncproto.BadgePayload{Number: "B-404", VisitID: good1})
			}},
			{"bad print state", visitor.EINVALID, func(seq int64) syncproto.Op {
				return op(t, seq, syncproto.KindPrintStatus, syncproto.PrintStatusPayload{JobID: "j", State: "on fire"})
			}},
		}
		ops := []syncproto.Op{f.checkInOp(t, 1, good1)}
		for i, p := range poisons {
			ops = append(ops, p.op(int64(i+2)))
		}
		last := int64(len(ops) + 1)
		ops = append(ops, f.checkInOp(t, last, good2))
		res := f.apply(t, ops...)
		if res.LastAppliedSeq != last || res.Applied != 2 || res.Rejected != len(poisons) {
			t.Fatalf("got last=%d applied=%d rejected=%d, want %d/2/%d; results %+v", res.LastAppliedSeq, res.Applied, res.Rejected, last, len(poisons), res.Results)
		}
		for i, p := range poisons {
			r := res.Results[i+1]
			if r.Seq != int64(i+2) || r.Status != syncproto.StatusRejected || r.Code != p.code || r.Reason == "" {
				t.Errorf("%s: result %+v, want rejected with code %s", p.name, r, p.code)
			}
		}
		rejected, err := f.db.RejectedOps(ctx, "org_acme", f.dev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rejected) != len(poisons) || rejected[0].Seq != 2 || rejected[0].Kind != "visit.teleport" {
			t.Errorf("rejected ops recorded: %+v", rejected)
		}
		d, _ := f.db.Device(ctx, "org_acme", f.dev.ID)
		if d.RejectedOps != int64(len(poisons)) || d.LastAppliedSeq != last {
			t.Errorf("device rejected_ops=%d last=%d", d.RejectedOps, d.LastAppliedSeq)
		}
		for _, id := range []string{good1, good2} {
			if _, err := f.db.Visit(ctx, "org_acme", id); err != nil {
				t.Errorf("visit around the poison ops: %v", err)
			}
		}
		// Nothing of a rejected op survives (its savepoint was rolled back).
		if n := count(t, f.db, `SELECT COUNT(*) FROM visits`); n != 2 {
			t.Errorf("visits = %d, want 2", n)
		}
		// Resending the whole batch changes nothing.
		res = f.apply(t, ops...)
		if res.Duplicates != len(ops) || count(t, f.db, `SELECT COUNT(*) FROM rejected_ops`) != len(poisons) {
			t.Errorf("resend: %+v", res)
		}
	})
}

func TestApplyOpsCheckOutRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ctx := context.Background()
		id := newVisitID(t)
		f.apply(t, f.checkInOp(t, 1, id))
		// The console checks the visitor out while the kiosk is offline…
		if _, changed, err := f.db.CheckOut(ctx, "org_acme", id, time.Time{}, visitor.SourceStaff, staff); err != nil || !changed {
			t.Fatalf("console check-out: changed=%v err=%v", changed, err)
		}
		// …and the kiosk's own check-out arrives later.
		res := f.apply(t, op(t, 2, syncproto.KindVisitCheckOut, syncproto.CheckOutPayload{VisitID: id}))
		if res.Applied != 1 || res.Rejected != 0 {
			t.Fatalf("kiosk check-out: %+v", res)
		}
		if n := countEvents(t, f.db, visitor.EventCheckedOut, id); n != 1 {
			t.Errorf("checked_out events = %d, want 1", n)
		}
		acts := strings.Join(auditActions(t, f.db, id), ",")
		if !strings.Contains(acts, "visit.check_out_repeated") || !strings.Contains(acts, "visit.check_out,") && !strings.HasSuffix(acts, "visit.check_out") {
			t.Errorf("audit of the visit: %s; want both check-outs", acts)
		}
		v, _ := f.db.Visit(ctx, "org_acme", id)
		if v.Status != visitor.VisitCheckedOut {
			t.Errorf("status %s", v.Status)
		}
		// A later kiosk check-in op of the same visit never reopens it.
		f.apply(t, f.checkInOp(t, 3, id))
		if v, _ := f.db.Visit(ctx, "org_acme", id); v.Status != visitor.VisitCheckedOut {
			t.Errorf("visit reopened: %s", v.Status)
		}
	})
}

func TestApplyOpsClockSkew(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ctx := context.Background()
		now := f.clock.Now()
		offset := int64(-12 * time.Hour / time.Millisecond)
		cases := []struct {
			name     string
			mutate   func(o *syncproto.Op)
			want     time.Time
			wantFlag string
		}{
			{"12 h fast, this boot", func(o *syncproto.Op) {
				o.TimeMs = now.Add(12*time.Hour - 60*time.Second).UnixMilli()
				o.MonoMs = 40_000
			}, now.Add(-60 * time.Second), ""},
			{"at 1970, this boot", func(o *syncproto.Op) {
				o.TimeMs = 5_000
				o.MonoMs = 70_000
			}, now.Add(-30 * time.Second), ""},
			{"12 h fast, earlier boot with measured offset", func(o *syncproto.Op) {
				o.BootID = "boot-0"
				o.TimeMs = now.Add(12*time.Hour - 2*time.Hour).UnixMilli()
				o.OffsetMs = &offset
			}, now.Add(-2 * time.Hour), ""},
			{"at 1970, earlier boot, nothing known", func(o *syncproto.Op) {
				o.BootID = "boot-0"
				o.TimeMs = 7_000
			}, now, store.FlagTimeUncertain},
		}
		var ops []syncproto.Op
		ids := make([]string, len(cases))
		for i, c := range cases {
			ids[i] = newVisitID(t)
			o := f.checkInOp(t, int64(i+1), ids[i])
			c.mutate(&o)
			ops = append(ops, o)
		}
		f.apply(t, ops...)
		for i, c := range cases {
			v, err := f.db.Visit(ctx, "org_acme", ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if d := v.CheckedInAt.Sub(c.want); d > time.Second || d < -time.Second {
				t.Errorf("%s: checked_in_at %v, want %v", c.name, v.CheckedInAt, c.want)
			}
			if v.Flag != c.wantFlag {
				t.Errorf("%s: flag %q, want %q", c.name, v.Flag, c.wantFlag)
			}
			evs, _, _ := f.db.Events(ctx, "org_acme", 1000, "")
			for _, e := range evs {
				if e.Subject == ids[i] && !e.Time.Equal(v.CheckedInAt) {
					t.Errorf("%s: outbox event time %v, visit %v", c.name, e.Time, v.CheckedInAt)
				}
			}
		}
		// The device's events follow its seq, whatever their times.
		rows, err := f.db.SQL().QueryContext(ctx, `SELECT visit_id FROM visit_events WHERE device_id = '`+f.dev.ID+`' ORDER BY device_seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			got = append(got, id)
		}
		if strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Errorf("events by device seq: %v, want %v", got, ids)
		}
	})
}

func TestApplyOpsPreregistrationChangedOffline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ctx := context.Background()
		mk := func(code string) visitor.Preregistration {
			p, err := f.db.CreatePreregistration(ctx, "org_acme", visitor.Preregistration{LocationID: f.loc.ID, HostID: f.host.ID,
				Visitor: visitor.Person{Name: "Grace Hopper"}, InviteCode: code}, staff)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		pending, later := mk("PEND1234"), mk("LATE1234")
		// Edited in the console after the kiosk checked the guest in offline.
		f.clock.Add(time.Minute)
		if _, err := f.db.SQL().ExecContext(ctx, `UPDATE preregistrations SET status = 'cancelled', updated_at = '2026-03-14T09:31:00.000000Z' WHERE id = '`+later.ID+`'`); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name     string
			payload  syncproto.CheckInPayload
			wantFlag string
		}{
			{"pending", syncproto.CheckInPayload{PreregistrationID: pending.ID}, ""},
			{"cancelled after the check-in", syncproto.CheckInPayload{InviteCode: " late1234"}, store.FlagPreregCancelled + "," + store.FlagPreregChanged},
			{"already used", syncproto.CheckInPayload{PreregistrationID: pending.ID}, store.FlagPreregUsed},
			{"unknown", syncproto.CheckInPayload{InviteCode: "NOPE9999"}, store.FlagPreregUnknown},
		}
		for i, c := range cases {
			c.payload.VisitID = newVisitID(t)
			c.payload.Visitor = syncproto.PersonPayload{Name: "Grace Hopper"}
			o := op(t, int64(i+1), syncproto.KindVisitCheckIn, c.payload)
			o.MonoMs = 70_000 // 09:30:30: after the pre-registrations were made, before the edit
			res := f.apply(t, o)
			if res.Applied != 1 {
				t.Fatalf("%s: visit not applied: %+v", c.name, res.Results)
			}
			v, err := f.db.Visit(ctx, "org_acme", c.payload.VisitID)
			if err != nil {
				t.Fatal(err)
			}
			if v.Flag != c.wantFlag {
				t.Errorf("%s: flag %q, want %q", c.name, v.Flag, c.wantFlag)
			}
		}
		ps, _, _ := f.db.Preregistrations(ctx, "org_acme", f.loc.ID, 10, "")
		for _, p := range ps {
			if p.ID == pending.ID && (p.Status != visitor.PreregUsed || p.VisitID == "") {
				t.Errorf("pending preregistration after check-in: %+v", p)
			}
		}
	})
}

func TestApplyOpsBadgesAuditPrinter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ctx := context.Background()
		b, err := f.db.AddBadge(ctx, "org_acme", f.loc.ID, "B-7", staff)
		if err != nil {
			t.Fatal(err)
		}
		id := newVisitID(t)
		res := f.apply(t,
			f.checkInOp(t, 1, id),
			op(t, 2, syncproto.KindBadgeAssign, syncproto.BadgePayload{Number: "B-7", VisitID: id}),
			op(t, 3, syncproto.KindPrintStatus, syncproto.PrintStatusPayload{JobID: "j1", VisitID: id, State: "failed", Detail: "paper out"}),
			op(t, 4, syncproto.KindAudit, syncproto.AuditPayload{Action: "admin.pin_used", Details: json.RawMessage(`{"screen":"settings"}`)}),
		)
		if res.Applied != 4 {
			t.Fatalf("results %+v", res.Results)
		}
		bs, _, _ := f.db.Badges(ctx, "org_acme", f.loc.ID, 10, "")
		if len(bs) != 1 || bs[0].Status != visitor.BadgeAssigned || bs[0].VisitID != id {
			t.Errorf("badge after assign: %+v", bs)
		}
		d, _ := f.db.Device(ctx, "org_acme", f.dev.ID)
		if !strings.HasPrefix(d.PrinterStatus, "failed: paper out") {
			t.Errorf("printer status %q", d.PrinterStatus)
		}
		if acts := auditActions(t, f.db, ""); !strings.Contains(strings.Join(acts, ","), "kiosk.admin.pin_used") {
			t.Errorf("kiosk audit missing: %v", acts)
		}
		f.apply(t, op(t, 5, syncproto.KindBadgeReturn, syncproto.BadgePayload{BadgeID: b.ID, VisitID: id}))
		bs, _, _ = f.db.Badges(ctx, "org_acme", f.loc.ID, 10, "")
		if bs[0].Status != visitor.BadgeAvailable || bs[0].VisitID != "" {
			t.Errorf("badge after return: %+v", bs[0])
		}
	})
}

func TestApplyOpsRevokedDevice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ctx := context.Background()
		if _, err := f.db.SetDeviceStatus(ctx, "org_acme", f.dev.ID, visitor.DeviceRevoked, staff); err != nil {
			t.Fatal(err)
		}
		_, err := f.db.ApplyOps(ctx, f.dev, []syncproto.Op{f.checkInOp(t, 1, newVisitID(t))}, f.anchor())
		if visitor.ErrorCode(err) != visitor.EFORBIDDEN {
			t.Fatalf("revoked device: err %v, want forbidden", err)
		}
		if n := count(t, f.db, `SELECT COUNT(*) FROM visits`); n != 0 {
			t.Errorf("visits = %d, want 0", n)
		}
	})
}

func TestDeviceFeedAndSnapshot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		f := newSyncFixture(t, engine)
		ctx := context.Background()
		snap, err := f.db.DeviceSnapshot(ctx, "org_acme", f.loc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Location.ID != f.loc.ID || len(snap.Hosts) != 1 || snap.Settings.RetentionDays == 0 {
			t.Fatalf("snapshot: %+v", snap)
		}
		if _, ok := store.ParseCursor(snap.Cursor); !ok {
			t.Fatalf("snapshot cursor %q does not parse", snap.Cursor)
		}
		h, err := f.db.CreateHost(ctx, "org_acme", visitor.Host{Name: "Grace Hopper"}, staff)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.CreateHost(ctx, "org_globex", visitor.Host{Name: "Other tenant"}, staff); err != nil {
			t.Fatal(err)
		}
		feed, err := f.db.DeviceFeed(ctx, "org_acme", f.loc.ID, snap.Cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		if feed.NeedSnapshot || len(feed.Changes) != 1 || feed.Changes[0].EntityID != h.ID || feed.Cursor == snap.Cursor {
			t.Fatalf("feed after snapshot: %+v", feed)
		}
		again, _ := f.db.DeviceFeed(ctx, "org_acme", f.loc.ID, feed.Cursor, 100)
		if again.NeedSnapshot || len(again.Changes) != 0 || again.Cursor != feed.Cursor {
			t.Errorf("feed at its end: %+v", again)
		}
		latest, _ := f.db.LatestChangeSeq(ctx, "org_acme")
		stale, _ := store.ParseCursor(snap.Cursor)
		f.clock.Add(48 * time.Hour)
		if _, err := f.db.PruneChanges(ctx, f.clock.Now().Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		cursors := []struct {
			name         string
			cursor       string
			wantSnapshot bool
		}{
			{"none", "", true},
			{"unparsable", "garbage", true},
			{"other format", "7", true},
			{"older than the oldest retained change", store.FormatCursor(stale), true},
			{"from the future", store.FormatCursor(latest + 1000), true},
			{"current", store.FormatCursor(latest), false},
		}
		for _, c := range cursors {
			got, err := f.db.DeviceFeed(ctx, "org_acme", f.loc.ID, c.cursor, 100)
			if err != nil {
				t.Fatal(err)
			}
			if got.NeedSnapshot != c.wantSnapshot {
				t.Errorf("%s: NeedSnapshot=%v, want %v", c.name, got.NeedSnapshot, c.wantSnapshot)
			}
		}
		snap2, _ := f.db.DeviceSnapshot(ctx, "org_acme", f.loc.ID)
		if len(snap2.Hosts) != 2 {
			t.Errorf("snapshot after pruning has %d hosts, want 2", len(snap2.Hosts))
		}
		if got, _ := f.db.DeviceFeed(ctx, "org_acme", f.loc.ID, snap2.Cursor, 100); got.NeedSnapshot {
			t.Errorf("a fresh snapshot's cursor needs a snapshot")
		}
	})
}
