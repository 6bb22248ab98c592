package edge_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/syncproto"
)

func TestCheckInOutOutboxGaplessAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openEngine(t, dir, "", edge.Options{})
	provision(t, e)
	feed(t, e, "c1",
		upsert(t, syncproto.EntityHost, "h1", visitor.Host{Name: "Ada Lovelace", Active: true}),
		upsert(t, syncproto.EntityBadge, "b1", visitor.Badge{LocationID: testLocation, Number: "7", Status: visitor.BadgeAvailable}))

	v1, err := e.CheckIn(ctx, edge.CheckInRequest{Name: " Grace Hopper ", Email: "GRACE@Example.com", Company: "Navy", HostID: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if v1.BadgeNumber != "7" || v1.Status != visitor.VisitCheckedIn || v1.Visitor.Name != "Grace Hopper" ||
		v1.Visitor.Email != "grace@example.com" || v1.VisitorType != visitor.TypeGuest || v1.TenantID != testTenant || v1.DeviceID != testDevice {
		t.Fatalf("visit = %+v", v1)
	}
	v2, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Linus", VisitorType: "Contractor"})
	if err != nil {
		t.Fatal(err)
	}
	if v2.BadgeNumber != "" || v2.VisitorType != "contractor" {
		t.Fatalf("second visit (no badge left) = %+v", v2)
	}
	if _, err := e.CheckOut(ctx, edge.CheckOutRequest{BadgeNumber: "7"}); err != nil {
		t.Fatal(err)
	}
	e.Close()

	e = openEngine(t, dir, "", edge.Options{})
	defer e.Close()
	v3, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Barbara"})
	if err != nil {
		t.Fatal(err)
	}
	if v3.BadgeNumber != "7" {
		t.Errorf("returned badge 7 not reassigned: %q", v3.BadgeNumber)
	}
	rows := outbox(t, e.Store())
	checkGapless(t, rows, 7)
	want := []string{syncproto.KindVisitCheckIn, syncproto.KindBadgeAssign, syncproto.KindVisitCheckIn,
		syncproto.KindVisitCheckOut, syncproto.KindBadgeReturn, syncproto.KindVisitCheckIn, syncproto.KindBadgeAssign}
	for i, r := range rows {
		if r.Kind != want[i] || r.State != "pending" {
			t.Errorf("op %d = %s/%s, want %s/pending", r.Seq, r.Kind, r.State, want[i])
		}
	}
	var p syncproto.CheckInPayload
	if err := json.Unmarshal([]byte(rows[0].Payload), &p); err != nil {
		t.Fatal(err)
	}
	if p.VisitID != v1.ID || p.LocationID != testLocation || p.HostID != "h1" || p.BadgeNumber != "7" || p.Visitor.Name != "Grace Hopper" {
		t.Errorf("check-in payload = %+v", p)
	}
	ops, err := e.Store().OpsFrom(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if ops[0].BootID == ops[5].BootID || ops[0].TimeMs <= 0 || ops[0].OpID == ops[1].OpID {
		t.Errorf("ops must carry per-boot ids, times and distinct op ids: %+v / %+v", ops[0], ops[5])
	}
	st, err := e.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Paired || st.Online || st.PendingOps != 7 || st.RejectedOps != 0 || st.DeviceID != testDevice || st.LastSyncAt != nil {
		t.Errorf("status = %+v", st)
	}
	onSite, err := e.OnSite(ctx)
	if err != nil || len(onSite) != 2 {
		t.Fatalf("on site = %d visits, %v; want 2", len(onSite), err)
	}
	found, err := e.FindOnSite(ctx, "bar")
	if err != nil || len(found) != 1 || found[0].ID != v3.ID {
		t.Errorf("FindOnSite(bar) = %+v, %v", found, err)
	}
	found, err = e.FindOnSite(ctx, "grace")
	if err != nil || len(found) != 0 {
		t.Errorf("a checked-out visitor must not be found on site: %+v, %v", found, err)
	}
}

func TestCheckInRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	if _, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Ada"}); visitor.ErrorCode(err) != visitor.ENOTPAIRED {
		t.Fatalf("check-in before pairing: %v, want not_paired", err)
	}
	provision(t, e)
	feed(t, e, "c1", upsert(t, syncproto.EntityBadge, "b1", visitor.Badge{LocationID: testLocation, Number: "1", Status: visitor.BadgeRetired}))
	for _, tc := range []struct {
		name string
		req  edge.CheckInRequest
		code string
		msg  string
	}{
		{"no name", edge.CheckInRequest{Email: "a@b.c"}, visitor.EINVALID, "name or invite_code is required"},
		{"blank name", edge.CheckInRequest{Name: "   "}, visitor.EINVALID, "name or invite_code"},
		{"bad email", edge.CheckInRequest{Name: "Ada", Email: "nope"}, visitor.EINVALID, "not an email"},
		{"long name", edge.CheckInRequest{Name: strings.Repeat("a", 201)}, visitor.EINVALID, "too long"},
		{"unknown host", edge.CheckInRequest{Name: "Ada", HostID: "h404"}, visitor.EINVALID, "unknown host_id"},
		{"unknown badge", edge.CheckInRequest{Name: "Ada", BadgeNumber: "99"}, visitor.EINVALID, "unknown badge"},
		{"retired badge", edge.CheckInRequest{Name: "Ada", BadgeNumber: "1"}, visitor.ECONFLICT, "not available"},
		{"unknown invite offline", edge.CheckInRequest{InviteCode: "NOPE"}, visitor.ENOTFOUND, "ask reception"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.CheckIn(ctx, tc.req)
			if visitor.ErrorCode(err) != tc.code || !strings.Contains(visitor.ErrorMessage(err), tc.msg) {
				t.Errorf("err = %v, want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
	if rows := outbox(t, e.Store()); len(rows) != 0 {
		t.Errorf("refused check-ins wrote %d ops", len(rows))
	}
	for _, req := range []edge.CheckOutRequest{{}, {VisitID: "nope"}, {BadgeNumber: "42"}} {
		if _, err := e.CheckOut(ctx, req); err == nil {
			t.Errorf("check-out %+v succeeded", req)
		}
	}
}

func TestInviteCodes(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	provision(t, e)
	feed(t, e, "c1",
		upsert(t, syncproto.EntityHost, "h1", visitor.Host{Name: "Ada", Active: true}),
		upsert(t, syncproto.EntityPreregistration, "p1", visitor.Preregistration{LocationID: testLocation, HostID: "h1",
			Visitor: visitor.Person{Name: "Grace Hopper", Company: "Navy"}, VisitorType: "interview", InviteCode: "ABC123", Status: visitor.PreregPending}),
		upsert(t, syncproto.EntityPreregistration, "p2", visitor.Preregistration{LocationID: testLocation,
			Visitor: visitor.Person{Name: "Cancelled"}, InviteCode: "GONE01", Status: visitor.PreregCancelled}))

	v, err := e.CheckIn(ctx, edge.CheckInRequest{InviteCode: "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Visitor.Name != "Grace Hopper" || v.HostID != "h1" || v.VisitorType != "interview" || v.PreregistrationID != "p1" {
		t.Errorf("invite check-in = %+v", v)
	}
	for _, tc := range []struct{ code, want, msg string }{
		{"ABC123", visitor.ECONFLICT, "already used"},
		{"GONE01", visitor.ECONFLICT, "cancelled"},
		{"ZZZ999", visitor.ENOTFOUND, "ask reception"},
	} {
		_, err := e.CheckIn(ctx, edge.CheckInRequest{InviteCode: tc.code})
		if visitor.ErrorCode(err) != tc.want || !strings.Contains(visitor.ErrorMessage(err), tc.msg) {
			t.Errorf("invite %s: %v, want %s %q", tc.code, err, tc.want, tc.msg)
		}
	}
	// The cloud's copy still says pending until it sees the check-in: the
	// local use must survive that update.
	feed(t, e, "c2", upsert(t, syncproto.EntityPreregistration, "p1", visitor.Preregistration{LocationID: testLocation,
		Visitor: visitor.Person{Name: "Grace Hopper"}, InviteCode: "ABC123", Status: visitor.PreregPending}))
	if _, err := e.CheckIn(ctx, edge.CheckInRequest{InviteCode: "ABC123"}); visitor.ErrorCode(err) != visitor.ECONFLICT {
		t.Errorf("invite reused after a stale down-feed update: %v", err)
	}
	var p syncproto.CheckInPayload
	json.Unmarshal([]byte(outbox(t, e.Store())[0].Payload), &p)
	if p.PreregistrationID != "p1" || p.InviteCode != "ABC123" {
		t.Errorf("payload = %+v", p)
	}
}

func TestCheckOutIsIdempotent(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	provision(t, e)
	feed(t, e, "c1", upsert(t, syncproto.EntityBadge, "b1", visitor.Badge{LocationID: testLocation, Number: "3", Status: visitor.BadgeAvailable}))
	v, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	out1, err := e.CheckOut(ctx, edge.CheckOutRequest{VisitID: v.ID})
	if err != nil {
		t.Fatal(err)
	}
	out2, err := e.CheckOut(ctx, edge.CheckOutRequest{VisitID: v.ID})
	if err != nil {
		t.Fatal(err)
	}
	if out1.Status != visitor.VisitCheckedOut || out2.Status != visitor.VisitCheckedOut || !out1.CheckedOutAt.Equal(out2.CheckedOutAt) {
		t.Errorf("check-outs = %+v / %+v", out1, out2)
	}
	rows := outbox(t, e.Store())
	checkGapless(t, rows, 4) // check_in, badge.assign, check_out, badge.return
	if rows[3].Kind != syncproto.KindBadgeReturn {
		t.Errorf("last op %s, want badge.return", rows[3].Kind)
	}
	if n := count(t, e.Store(), `SELECT count(*) FROM badges WHERE status = 'available'`); n != 1 {
		t.Errorf("badge not returned to the inventory")
	}
	if _, err := e.CheckOut(ctx, edge.CheckOutRequest{BadgeNumber: "3"}); visitor.ErrorCode(err) != visitor.ENOTFOUND {
		t.Errorf("check-out by a returned badge: %v, want not_found", err)
	}
}

func TestConcurrentCheckInsGapless(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	provision(t, e)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Visitor " + string(rune('A'+i))})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rows := outbox(t, e.Store())
	checkGapless(t, rows, n)
	seen := map[string]bool{}
	for _, r := range rows {
		var p syncproto.CheckInPayload
		json.Unmarshal([]byte(r.Payload), &p)
		if seen[p.VisitID] {
			t.Errorf("visit %s has two ops", p.VisitID)
		}
		seen[p.VisitID] = true
	}
}

func TestHostsSearch(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	provision(t, e)
	feed(t, e, "c1",
		upsert(t, syncproto.EntityHost, "h1", visitor.Host{Name: "Ada Lovelace", Email: "ada@x.io", Active: true}),
		upsert(t, syncproto.EntityHost, "h2", visitor.Host{Name: "Alan Turing", Active: true, LocationID: testLocation}),
		upsert(t, syncproto.EntityHost, "h3", visitor.Host{Name: "Adam Other", Active: true, LocationID: "loc_other"}),
		upsert(t, syncproto.EntityHost, "h4", visitor.Host{Name: "Adele Gone", Active: false}),
		upsert(t, syncproto.EntityHost, "h5", visitor.Host{Name: "100% Real", Active: true}))
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"", []string{"h5", "h1", "h2"}},
		{"a", []string{"h1", "h2"}},
		{"LOVE", []string{"h1"}},
		{"ada@", []string{"h1"}},
		{"%", nil},
		{"100%", []string{"h5"}},
	} {
		hosts, err := e.Hosts(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hosts {
			ids = append(ids, h.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("Hosts(%q) = %v, want %v", tc.q, ids, tc.want)
		}
	}
}
