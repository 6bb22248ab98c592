package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// preregRow is one pre-registration as the page shows it.
type preregRow struct {
	visitor.Preregistration
	Location, Host, Expected string
	Pending, New             bool
}

// preregView is the pre-registrations page's data.
type preregView struct {
	Rows      []preregRow
	Locations []visitor.Location
	Hosts     []visitor.Host
	Types     []string
	Created   *preregRow
}

var preregFields = []string{"location_id", "host_id", "visitor_type", "name", "email", "company", "phone", "expected_at"}

// preregistrations is GET /preregistrations.
func (c *console) preregistrations(e *echo.Context) error {
	f := newForm()
	f.Values["visitor_type"] = visitor.TypeGuest
	return c.preregPage(e, http.StatusOK, f)
}

func (c *console) preregPage(e *echo.Context, status int, f *form) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	d, err := c.directory(ctx, sess.TenantID, true)
	if err != nil {
		return err
	}
	items, _, err := c.s.store.Preregistrations(ctx, sess.TenantID, "", store.MaxLimit, "")
	if err != nil {
		return err
	}
	view := preregView{Locations: d.locations, Hosts: d.hosts, Types: visitorTypes}
	created := e.QueryParam("created")
	// Newest first: ids are UUIDv7, ordered by creation.
	for i := len(items) - 1; i >= 0; i-- {
		p := items[i]
		l := d.locByID[p.LocationID]
		r := preregRow{Preregistration: p, Location: l.Name, Host: d.hostByID[p.HostID].Name,
			Expected: fmtTime(p.ExpectedAt, loadTZ(l.Timezone)), Pending: p.Status == visitor.PreregPending, New: p.ID == created}
		if r.New {
			view.Created = &r
		}
		view.Rows = append(view.Rows, r)
	}
	if f.V("location_id") == "" && len(d.locations) == 1 {
		f.Values["location_id"] = d.locations[0].ID
	}
	return c.render(e, status, "preregistrations", "Pre-registrations", f, view)
}

// createPrereg is POST /preregistrations.
func (c *console) createPrereg(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	f, err := readForm(e, preregFields...)
	if err != nil {
		return err
	}
	p := visitor.Person{Name: f.V("name"), Email: f.V("email"), Company: f.V("company"), Phone: f.V("phone")}.Normalize()
	if p.Name == "" {
		f.fail("name", "Enter the guest's name.")
	}
	if p.Email != "" && !strings.Contains(p.Email, "@") {
		f.fail("email", "Enter an email address like name@example.com, or leave it empty.")
	}
	var loc visitor.Location
	if f.V("location_id") == "" {
		f.fail("location_id", "Choose the location the guest is expected at.")
	} else if loc, err = c.s.store.Location(ctx, sess.TenantID, f.V("location_id")); err != nil {
		f.fail("location_id", "Choose a location from the list.")
	}
	var expected time.Time
	if v := f.V("expected_at"); v != "" && f.E("location_id") == "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", v, loadTZ(loc.Timezone))
		if err != nil {
			f.fail("expected_at", "Enter a date and time, or leave it empty.")
		}
		expected = t
	}
	if !f.OK() {
		return c.preregPage(e, http.StatusUnprocessableEntity, f)
	}
	in := visitor.Preregistration{LocationID: loc.ID, HostID: f.V("host_id"), VisitorType: f.V("visitor_type"),
		Visitor: p, ExpectedAt: expected}
	for attempt := 0; ; attempt++ {
		code, err := inviteCode(c.s.rand)
		if err != nil {
			return err
		}
		in.InviteCode = code
		out, err := c.s.store.CreatePreregistration(ctx, sess.TenantID, in, actor(sess))
		if err == nil {
			return seeOther(e, "/preregistrations?created="+out.ID, "prereg")
		}
		if visitor.ErrorCode(err) == visitor.ECONFLICT && attempt < 4 {
			continue
		}
		if !formError(f, err, map[string]string{"host": "host_id", "location": "location_id", "email": "email", "name": "name"}) {
			return err
		}
		return c.preregPage(e, http.StatusUnprocessableEntity, f)
	}
}

// cancelPrereg is POST /preregistrations/:id/cancel.
func (c *console) cancelPrereg(e *echo.Context) error {
	sess, _ := session(e)
	if _, err := c.s.store.CancelPreregistration(e.Request().Context(), sess.TenantID, e.Param("id"), actor(sess)); err != nil {
		return err
	}
	return seeOther(e, "/preregistrations", "prereg-cancel")
}

// hostsView is the host directory's data.
type hostsView struct {
	Hosts     []visitor.Host
	Locations map[string]string
	LocList   []visitor.Location
	Q         string
}

// hosts is GET /hosts?q=.
func (c *console) hosts(e *echo.Context) error { return c.hostsPage(e, http.StatusOK, newForm()) }

func (c *console) hostsPage(e *echo.Context, status int, f *form) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	d, err := c.directory(ctx, sess.TenantID, false)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(e.QueryParam("q"))
	hs, _, err := c.s.store.Hosts(ctx, sess.TenantID, q, store.MaxLimit, "")
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, l := range d.locations {
		names[l.ID] = l.Name
	}
	return c.render(e, status, "hosts", "Host directory", f, hostsView{Hosts: hs, Locations: names, LocList: d.locations, Q: q})
}

// createHost is POST /hosts.
func (c *console) createHost(e *echo.Context) error {
	sess, _ := session(e)
	f, err := readForm(e, "name", "email", "phone", "location_id")
	if err != nil {
		return err
	}
	if f.V("name") == "" {
		f.fail("name", "Enter the host's name.")
	}
	if em := f.V("email"); em != "" && !strings.Contains(em, "@") {
		f.fail("email", "Enter an email address like name@example.com, or leave it empty.")
	}
	if !f.OK() {
		return c.hostsPage(e, http.StatusUnprocessableEntity, f)
	}
	_, err = c.s.store.CreateHost(e.Request().Context(), sess.TenantID, visitor.Host{
		Name: f.V("name"), Email: f.V("email"), Phone: f.V("phone"), LocationID: f.V("location_id"),
	}, actor(sess))
	if err != nil {
		if !formError(f, err, map[string]string{"email": "email", "name": "name", "location": "location_id", "phone": "phone"}) {
			return err
		}
		return c.hostsPage(e, http.StatusUnprocessableEntity, f)
	}
	return seeOther(e, "/hosts", "host")
}

// badgeRow is one badge with its location and, when assigned, its visitor.
type badgeRow struct {
	visitor.Badge
	Location string
	Visitor  string
}

// badgesView is the badges page's data.
type badgesView struct {
	Rows      []badgeRow
	Locations []visitor.Location
	// OnSite lists, per location id, the visits a badge can be assigned to.
	OnSite map[string][]visitor.Visit
}

// badges is GET /badges.
func (c *console) badges(e *echo.Context) error { return c.badgesPage(e, http.StatusOK, newForm()) }

func (c *console) badgesPage(e *echo.Context, status int, f *form) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	d, err := c.directory(ctx, sess.TenantID, false)
	if err != nil {
		return err
	}
	bs, _, err := c.s.store.Badges(ctx, sess.TenantID, "", store.MaxLimit, "")
	if err != nil {
		return err
	}
	view := badgesView{Locations: d.locations, OnSite: map[string][]visitor.Visit{}}
	visitName := map[string]string{}
	for _, l := range d.locations {
		vs, _, err := c.s.store.Visits(ctx, sess.TenantID, visitor.VisitFilter{LocationID: l.ID, Status: visitor.VisitCheckedIn, Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		view.OnSite[l.ID] = vs
		for _, v := range vs {
			visitName[v.ID] = v.Visitor.Name
		}
	}
	for _, b := range bs {
		view.Rows = append(view.Rows, badgeRow{Badge: b, Location: d.locByID[b.LocationID].Name, Visitor: visitName[b.VisitID]})
	}
	if f.V("location_id") == "" && len(d.locations) == 1 {
		f.Values["location_id"] = d.locations[0].ID
	}
	return c.render(e, status, "badges", "Badges", f, view)
}

// addBadge is POST /badges.
func (c *console) addBadge(e *echo.Context) error {
	sess, _ := session(e)
	f, err := readForm(e, "location_id", "number")
	if err != nil {
		return err
	}
	if f.V("location_id") == "" {
		f.fail("location_id", "Choose the badge's location.")
	}
	if f.V("number") == "" {
		f.fail("number", "Enter the number printed on the badge.")
	} else if len(f.V("number")) > 50 {
		f.fail("number", "The number is too long (50 characters at most).")
	}
	if !f.OK() {
		return c.badgesPage(e, http.StatusUnprocessableEntity, f)
	}
	if _, err := c.s.store.AddBadge(e.Request().Context(), sess.TenantID, f.V("location_id"), f.V("number"), actor(sess)); err != nil {
		if !formError(f, err, map[string]string{"location": "location_id", "number": "number", "badge": "number"}) {
			return err
		}
		return c.badgesPage(e, http.StatusUnprocessableEntity, f)
	}
	return seeOther(e, "/badges", "badge")
}

// badgeStatus is POST /badges/:id/status (status=assigned with visit_id,
// available to return, retired to retire).
func (c *console) badgeStatus(e *echo.Context) error {
	sess, _ := session(e)
	f, err := readForm(e, "status", "visit_id")
	if err != nil {
		return err
	}
	st := visitor.BadgeStatus(f.V("status"))
	switch st {
	case visitor.BadgeAssigned:
		if f.V("visit_id") == "" {
			return visitor.Errorf(visitor.EINVALID, "choose the visitor to assign the badge to")
		}
	case visitor.BadgeAvailable, visitor.BadgeRetired:
	default:
		return visitor.Errorf(visitor.EINVALID, "unknown badge status")
	}
	if _, err := c.s.store.SetBadgeStatus(e.Request().Context(), sess.TenantID, e.Param("id"), st, f.V("visit_id"), actor(sess)); err != nil {
		return err
	}
	return seeOther(e, "/badges", "badge-status")
}

// locationsView is the locations page's data.
type locationsView struct {
	Locations []visitor.Location
	Zones     []string
}

// commonZones are offered as suggestions; any IANA name is accepted.
var commonZones = []string{
	"UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Amsterdam",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
	"Asia/Tokyo", "Asia/Singapore", "Asia/Kolkata", "Asia/Dubai", "Australia/Sydney",
}

// locations is GET /locations: every signed-in user may see them.
func (c *console) locations(e *echo.Context) error {
	f := newForm()
	f.Values["timezone"] = "UTC"
	return c.locationsPage(e, http.StatusOK, f)
}

func (c *console) locationsPage(e *echo.Context, status int, f *form) error {
	sess, _ := session(e)
	d, err := c.directory(e.Request().Context(), sess.TenantID, false)
	if err != nil {
		return err
	}
	return c.render(e, status, "locations", "Locations", f, locationsView{Locations: d.locations, Zones: commonZones})
}

// createLocation is POST /locations.
func (c *console) createLocation(e *echo.Context) error {
	sess, _ := session(e)
	f, err := readForm(e, "name", "address", "type", "timezone")
	if err != nil {
		return err
	}
	if f.V("name") == "" {
		f.fail("name", "Enter the location's name.")
	}
	if tz := f.V("timezone"); tz == "" {
		f.fail("timezone", "Enter the location's timezone, e.g. Europe/Paris.")
	} else if _, err := time.LoadLocation(tz); err != nil || strings.EqualFold(tz, "local") {
		f.fail("timezone", "Unknown timezone: use an IANA name such as Europe/Paris or America/New_York.")
	}
	if !f.OK() {
		return c.locationsPage(e, http.StatusUnprocessableEntity, f)
	}
	_, err = c.s.store.CreateLocation(e.Request().Context(), sess.TenantID, visitor.Location{
		Name: f.V("name"), Address: f.V("address"), Type: f.V("type"), Timezone: f.V("timezone"),
	}, actor(sess))
	if err != nil {
		if !formError(f, err, map[string]string{"timezone": "timezone", "name": "name", "address": "address"}) {
			return err
		}
		return c.locationsPage(e, http.StatusUnprocessableEntity, f)
	}
	return seeOther(e, "/locations", "location")
}
