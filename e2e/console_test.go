package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// onSite returns the names on the kiosk's on-site list.
func (s *system) onSite() map[string]string {
	s.t.Helper()
	resp, err := http.Get("http://" + s.edgeAddr + "/v1/visits?status=on_site")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Visits []visitor.Visit `json:"visits"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		s.t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range body.Visits {
		out[v.ID] = v.Visitor.Name
	}
	return out
}

func (s *system) eventually(what string, within time.Duration, ok func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not within %s\nedge logs:\n%s", what, within, tail(s.edge.logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Staff check-ins and check-outs made in the cloud reach the lobby's
// on-site list, and a kiosk check-out of a staff check-in reaches the
// cloud: the kiosk's list is never stale.
func TestConsoleVisitsReachTheKiosk(t *testing.T) {
	short(t)
	s := newSystem(t)
	ctx := context.Background()
	staff := store.Actor{Type: store.ActorUser, ID: "u_reception"}

	kioskVisit := s.checkIn("Kiosk Kate")
	s.waitSynced([]string{kioskVisit}, 20*time.Second)
	staffVisit, err := s.db.CheckIn(ctx, tenant, visitor.Visit{LocationID: s.location.ID, Visitor: visitor.Person{Name: "Desk Dora"}}, staff)
	if err != nil {
		t.Fatal(err)
	}
	s.eventually("the staff check-in on the kiosk", 15*time.Second, func() bool { return s.onSite()[staffVisit.ID] == "Desk Dora" })

	// Reception checks the kiosk's visitor out: the kiosk's list follows.
	if _, _, err := s.db.CheckOut(ctx, tenant, kioskVisit, time.Time{}, visitor.SourceStaff, staff); err != nil {
		t.Fatal(err)
	}
	s.eventually("the console check-out on the kiosk", 15*time.Second, func() bool { _, on := s.onSite()[kioskVisit]; return !on })

	// The visitor checked in at the desk leaves through the kiosk.
	s.checkOut(staffVisit.ID)
	s.eventually("the kiosk check-out in the cloud", 15*time.Second, func() bool {
		v, err := s.db.Visit(ctx, tenant, staffVisit.ID)
		return err == nil && v.Status == visitor.VisitCheckedOut
	})
	c := s.cloudCounts()
	if c.checkedOut[kioskVisit] != 1 || c.checkedOut[staffVisit.ID] != 1 {
		t.Errorf("checked_out events: kiosk visit %d, staff visit %d; want 1 each", c.checkedOut[kioskVisit], c.checkedOut[staffVisit.ID])
	}
	// A kiosk visit checked out in the cloud never reopens at the kiosk.
	time.Sleep(500 * time.Millisecond)
	if _, on := s.onSite()[kioskVisit]; on {
		t.Error("a checked-out visit reopened on the kiosk")
	}
}
