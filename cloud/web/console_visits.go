package web

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// maxLogRows bounds the visitor log; a day with more is cut with a note
// (the CSV export has everything).
const maxLogRows = 1000

// visitRow is one visit as the visitor log and the on-site list show it.
type visitRow struct {
	ID, Name, Company, Email, Phone, Host, Location, Type, Status, Badge, In, Out, Flag, Source string
	OnSite                                                                                      bool
	CanCheckOut                                                                                 bool
	Return                                                                                      string
}

// logFilter is the visitor log's query: location, status and local date.
type logFilter struct {
	LocationID string
	Status     string // "" (any), on_site, checked_out, expected, denied
	Date       string // YYYY-MM-DD; "" for today at each location
}

func (f logFilter) query() string {
	q := url.Values{}
	if f.LocationID != "" {
		q.Set("location_id", f.LocationID)
	}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.Date != "" {
		q.Set("date", f.Date)
	}
	return q.Encode()
}

// readLogFilter reads and checks the filter; a bad value becomes a message
// next to its field and the default is used instead.
func readLogFilter(e *echo.Context, f *form) logFilter {
	lf := logFilter{LocationID: e.QueryParam("location_id"), Status: e.QueryParam("status"), Date: e.QueryParam("date")}
	if lf.Status != "" {
		if _, err := visitor.ParseVisitStatus(lf.Status); err != nil {
			f.fail("status", "Choose a status from the list.")
			lf.Status = ""
		}
	}
	if lf.Date != "" {
		if _, err := time.Parse(time.DateOnly, lf.Date); err != nil {
			f.fail("date", "Enter a date as YYYY-MM-DD.")
			lf.Date = ""
		}
	}
	f.Values["location_id"], f.Values["status"], f.Values["date"] = lf.LocationID, lf.Status, lf.Date
	return lf
}

// directory is the tenant's locations and hosts, by id, for labels.
type directory struct {
	locations []visitor.Location
	locByID   map[string]visitor.Location
	hosts     []visitor.Host
	hostByID  map[string]visitor.Host
}

func (c *console) directory(ctx context.Context, tenant string, withHosts bool) (*directory, error) {
	d := &directory{locByID: map[string]visitor.Location{}, hostByID: map[string]visitor.Host{}}
	if err := c.s.store.EachLocation(ctx, tenant, func(l visitor.Location) error {
		d.locations = append(d.locations, l)
		d.locByID[l.ID] = l
		return nil
	}); err != nil {
		return nil, err
	}
	sort.Slice(d.locations, func(i, j int) bool { return d.locations[i].Name < d.locations[j].Name })
	if withHosts {
		hosts, _, err := c.s.store.Hosts(ctx, tenant, "", store.MaxLimit, "")
		if err != nil {
			return nil, err
		}
		d.hosts = hosts
		sort.Slice(d.hosts, func(i, j int) bool { return d.hosts[i].Name < d.hosts[j].Name })
		for _, h := range hosts {
			d.hostByID[h.ID] = h
		}
	}
	return d, nil
}

func statusLabel(s visitor.VisitStatus) string {
	switch s {
	case visitor.VisitCheckedIn:
		return "On site"
	case visitor.VisitCheckedOut:
		return "Checked out"
	case visitor.VisitExpected:
		return "Expected"
	case visitor.VisitDenied:
		return "Denied"
	}
	return string(s)
}

func (c *console) row(sess *visitor.Session, d *directory, v visitor.Visit, ret string) visitRow {
	l := d.locByID[v.LocationID]
	tz := loadTZ(l.Timezone)
	host := d.hostByID[v.HostID].Name
	return visitRow{
		ID: v.ID, Name: v.Visitor.Name, Company: v.Visitor.Company, Email: v.Visitor.Email, Phone: v.Visitor.Phone,
		Host: host, Location: l.Name, Type: v.VisitorType, Status: statusLabel(v.Status), Badge: v.BadgeNumber,
		In: fmtTime(v.CheckedInAt, tz), Out: fmtTime(v.CheckedOutAt, tz), Flag: v.Flag, Source: string(v.Source),
		OnSite: v.Status == visitor.VisitCheckedIn, CanCheckOut: sess.Has(visitor.PermVisitorsCheckout), Return: ret,
	}
}

// logRows returns the visits of the filter: each location's own local
// date, newest first, at most maxLogRows (more reports true).
func (c *console) logRows(ctx context.Context, sess *visitor.Session, d *directory, lf logFilter) ([]visitRow, bool, error) {
	var day time.Time
	if lf.Date != "" {
		day, _ = time.Parse(time.DateOnly, lf.Date) // checked by readLogFilter
	}
	windows := map[string][2]time.Time{}
	for _, l := range d.locations {
		if lf.LocationID != "" && l.ID != lf.LocationID {
			continue
		}
		if lf.Date == "" {
			from, to := store.LocalDay(c.s.now(), l.Timezone)
			windows[l.ID] = [2]time.Time{from, to}
			continue
		}
		tz := loadTZ(l.Timezone)
		start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, tz)
		windows[l.ID] = [2]time.Time{start.UTC(), start.AddDate(0, 0, 1).UTC()}
	}
	if len(windows) == 0 {
		return nil, false, nil
	}
	var from, to time.Time
	for _, w := range windows {
		if from.IsZero() || w[0].Before(from) {
			from = w[0]
		}
		if w[1].After(to) {
			to = w[1]
		}
	}
	var status visitor.VisitStatus
	if lf.Status != "" {
		status, _ = visitor.ParseVisitStatus(lf.Status)
	}
	ret := "/visits"
	if q := lf.query(); q != "" {
		ret += "?" + q
	}
	var out []visitRow
	cursor := ""
	for range 20 {
		items, next, err := c.s.store.Visits(ctx, sess.TenantID, visitor.VisitFilter{
			LocationID: lf.LocationID, Status: status, From: from, To: to, Limit: store.MaxLimit, Cursor: cursor,
		})
		if err != nil {
			return nil, false, err
		}
		for _, v := range items {
			at := v.CheckedInAt
			if at.IsZero() {
				at = v.CreatedAt
			}
			w, ok := windows[v.LocationID]
			if !ok || at.Before(w[0]) || !at.Before(w[1]) {
				continue
			}
			if len(out) == maxLogRows {
				return out, true, nil
			}
			out = append(out, c.row(sess, d, v, ret))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out, false, nil
}

// logView is the visitor log page's data.
type logView struct {
	Filter    logFilter
	Query     string
	Locations []visitor.Location
	Rows      []visitRow
	More      bool
	Today     string
	// Since is the latest visit event the rows include; the live stream
	// sends rows at once only when something changed after it.
	Since int64
}

// visits is GET /visits: the visitor log, live.
func (c *console) visits(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	f := newForm()
	lf := readLogFilter(e, f)
	// Read the mark before the rows: a change after it is in the rows or
	// is sent by the live stream, never lost between the two.
	since, err := c.s.store.LatestVisitSeq(ctx)
	if err != nil {
		return err
	}
	d, err := c.directory(ctx, sess.TenantID, true)
	if err != nil {
		return err
	}
	rows, more, err := c.logRows(ctx, sess, d, lf)
	if err != nil {
		return err
	}
	return c.render(e, http.StatusOK, "visits", "Visitor log", f, logView{
		Filter: lf, Query: lf.query(), Locations: d.locations, Rows: rows, More: more,
		Today: c.s.now().UTC().Format(time.DateOnly), Since: since,
	})
}

// visitsLive is GET /visits/live: the visitor log's live stream (see
// liveStream), its rows rendered with the page's filter.
func (c *console) visitsLive(e *echo.Context) error {
	sess, _ := session(e)
	lf := readLogFilter(e, newForm())
	return c.liveStream(e, sess.TenantID, func(ctx context.Context, buf *bytes.Buffer) error {
		d, err := c.directory(ctx, sess.TenantID, true)
		if err != nil {
			return err
		}
		rows, more, err := c.logRows(ctx, sess, d, lf)
		if err != nil {
			return err
		}
		return c.renderFragment(buf, "visits", "rows", logView{Rows: rows, More: more})
	})
}

// checkinFields are the staff check-in form's fields.
var checkinFields = []string{"location_id", "host_id", "visitor_type", "name", "email", "company", "phone"}

// checkinView is the check-in page's data.
type checkinView struct {
	Locations []visitor.Location
	Hosts     []visitor.Host
	Types     []string
}

var visitorTypes = []string{visitor.TypeGuest, visitor.TypeContractor, visitor.TypeInterview, visitor.TypeDelivery}

// checkinForm is GET /visits/new.
func (c *console) checkinForm(e *echo.Context) error {
	f := newForm()
	f.Values["visitor_type"] = visitor.TypeGuest
	f.Values["location_id"] = e.QueryParam("location_id")
	return c.checkinPage(e, http.StatusOK, f)
}

func (c *console) checkinPage(e *echo.Context, status int, f *form) error {
	sess, _ := session(e)
	d, err := c.directory(e.Request().Context(), sess.TenantID, true)
	if err != nil {
		return err
	}
	if f.V("location_id") == "" && len(d.locations) == 1 {
		f.Values["location_id"] = d.locations[0].ID
	}
	return c.render(e, status, "checkin", "Check a visitor in", f, checkinView{Locations: d.locations, Hosts: d.hosts, Types: visitorTypes})
}

// checkin is POST /visits: the staff check-in, through the same store
// method as POST /api/v1/visits. A refused form comes back with the
// values typed and a message next to each field at fault.
func (c *console) checkin(e *echo.Context) error {
	sess, _ := session(e)
	f, err := readForm(e, checkinFields...)
	if err != nil {
		return err
	}
	p := visitor.Person{Name: f.V("name"), Email: f.V("email"), Company: f.V("company"), Phone: f.V("phone")}.Normalize()
	switch {
	case p.Name == "":
		f.fail("name", "Enter the visitor's name.")
	case len(p.Name) > 200:
		f.fail("name", "The name is too long (200 characters at most).")
	}
	if p.Email != "" && (!strings.Contains(p.Email, "@") || len(p.Email) > 254) {
		f.fail("email", "Enter an email address like name@example.com, or leave it empty.")
	}
	if len(p.Company) > 200 {
		f.fail("company", "The company is too long (200 characters at most).")
	}
	if len(p.Phone) > 50 {
		f.fail("phone", "The phone number is too long (50 characters at most).")
	}
	if f.V("location_id") == "" {
		f.fail("location_id", "Choose the location the visitor is at.")
	}
	if len(f.V("visitor_type")) > 50 {
		f.fail("visitor_type", "Choose a visitor type.")
	}
	if !f.OK() {
		return c.checkinPage(e, http.StatusUnprocessableEntity, f)
	}
	_, err = c.s.store.CheckIn(e.Request().Context(), sess.TenantID, visitor.Visit{
		LocationID: f.V("location_id"), HostID: f.V("host_id"), VisitorType: f.V("visitor_type"), Visitor: p,
		Source: visitor.SourceStaff,
	}, actor(sess))
	if err != nil {
		if !formError(f, err, map[string]string{"location": "location_id", "host": "host_id"}) {
			return err
		}
		return c.checkinPage(e, http.StatusUnprocessableEntity, f)
	}
	return seeOther(e, "/visits", "checkin")
}

// formError turns a store's invalid, not-found or conflict error into a
// message on the form (on the field its text names, else on the form)
// and reports whether it did; anything else is left to the error handler.
func formError(f *form, err error, fields map[string]string) bool {
	switch visitor.ErrorCode(err) {
	case visitor.EINVALID, visitor.ENOTFOUND, visitor.ECONFLICT:
	default:
		return false
	}
	msg := visitor.ErrorMessage(err)
	lower := strings.ToLower(msg)
	for word, field := range fields {
		if strings.Contains(lower, word) {
			f.fail(field, msg)
			return true
		}
	}
	f.Error = msg
	return true
}

// checkout is POST /visits/:id/checkout, through the same store method as
// the JSON API. htmx callers get the updated row; a plain form goes back
// to the page it came from.
func (c *console) checkout(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	if err := e.Request().ParseForm(); err != nil {
		return visitor.Errorf(visitor.EINVALID, "unreadable form")
	}
	v, changed, err := c.s.store.CheckOut(ctx, sess.TenantID, e.Param("id"), time.Time{}, visitor.SourceStaff, actor(sess))
	if err != nil {
		return err
	}
	ret := localReturn(e.Request().PostForm.Get("return"), "/visits")
	if e.Request().Header.Get("HX-Request") == "true" {
		d, err := c.directory(ctx, sess.TenantID, true)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := c.renderFragment(&buf, "visits", "row", c.row(sess, d, v, ret)); err != nil {
			return err
		}
		return e.HTMLBlob(http.StatusOK, buf.Bytes())
	}
	done := "checkout"
	if !changed {
		done = "already"
	}
	return seeOther(e, ret, done)
}

// maxOnsitePages bounds the store pages read per location for the on-site
// list; a location with more people on site is marked partial.
const maxOnsitePages = 10

// onsiteGroup is one location's people on site.
type onsiteGroup struct {
	Location visitor.Location
	Rows     []visitRow
}

// onsiteView is the on-site (evacuation) list's data.
type onsiteView struct {
	Groups  []onsiteGroup
	Total   int
	AsOf    string
	Partial bool
	// LocationID is the page's location filter ("" for all), kept by the
	// refresh link and the live stream; Since is the latest visit event
	// the list includes, so the stream resends it only after a change.
	LocationID string
	Since      int64
}

// onsite is GET /onsite: everyone checked in now, per location, whatever
// the day they arrived — printable as an evacuation list. The page works
// without JavaScript (a Refresh link); with it, console.js opens the same
// URL as an event stream (Accept: text/event-stream) and the list is
// swapped in again whenever the tenant's visits change, so the list on a
// screen is never stale.
func (c *console) onsite(e *echo.Context) error {
	sess, _ := session(e)
	locFilter := e.QueryParam("location_id")
	if wantsEventStream(e) {
		return c.liveStream(e, sess.TenantID, func(ctx context.Context, buf *bytes.Buffer) error {
			view, err := c.onsiteList(ctx, sess, locFilter)
			if err != nil {
				return err
			}
			return c.renderFragment(buf, "onsite", "onsite-list", view)
		})
	}
	ctx := e.Request().Context()
	// Read the mark before the list: a change after it is in the list or
	// is sent by the live stream, never lost between the two.
	since, err := c.s.store.LatestVisitSeq(ctx)
	if err != nil {
		return err
	}
	view, err := c.onsiteList(ctx, sess, locFilter)
	if err != nil {
		return err
	}
	view.Since = since
	e.Response().Header().Add("Vary", "Accept")
	return c.render(e, http.StatusOK, "onsite", "On site now", nil, view)
}

// onsiteList reads who is checked in now at each location (or only at
// locFilter), sorted by name.
func (c *console) onsiteList(ctx context.Context, sess *visitor.Session, locFilter string) (onsiteView, error) {
	view := onsiteView{AsOf: c.s.now().UTC().Format("2006-01-02 15:04:05 UTC"), LocationID: locFilter}
	ret := "/onsite"
	if locFilter != "" {
		ret += "?" + url.Values{"location_id": {locFilter}}.Encode()
	}
	d, err := c.directory(ctx, sess.TenantID, true)
	if err != nil {
		return view, err
	}
	for _, l := range d.locations {
		if locFilter != "" && l.ID != locFilter {
			continue
		}
		g := onsiteGroup{Location: l}
		cursor := ""
		for page := 1; ; page++ {
			items, next, err := c.s.store.Visits(ctx, sess.TenantID, visitor.VisitFilter{
				LocationID: l.ID, Status: visitor.VisitCheckedIn, Limit: store.MaxLimit, Cursor: cursor,
			})
			if err != nil {
				return view, err
			}
			for _, v := range items {
				g.Rows = append(g.Rows, c.row(sess, d, v, ret))
			}
			if next == "" {
				break
			}
			if page == maxOnsitePages {
				view.Partial = true
				break
			}
			cursor = next
		}
		sort.Slice(g.Rows, func(i, j int) bool { return strings.ToLower(g.Rows[i].Name) < strings.ToLower(g.Rows[j].Name) })
		view.Total += len(g.Rows)
		view.Groups = append(view.Groups, g)
	}
	return view, nil
}

// homeView is the home page's data: who is on site per location.
type homeView struct {
	OnSite map[string]int
	Locs   []visitor.Location
}

// home is GET /: who is signed in, and where to go.
func (c *console) home(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	d, err := c.directory(ctx, sess.TenantID, false)
	if err != nil {
		return err
	}
	view := homeView{OnSite: map[string]int{}, Locs: d.locations}
	if sess.Has(visitor.PermVisitorsView) {
		for _, l := range d.locations {
			items, _, err := c.s.store.Visits(ctx, sess.TenantID, visitor.VisitFilter{LocationID: l.ID, Status: visitor.VisitCheckedIn, Limit: store.MaxLimit})
			if err != nil {
				return err
			}
			view.OnSite[l.ID] = len(items)
		}
	}
	return c.render(e, http.StatusOK, "home", "The One Visitor", nil, view)
}
