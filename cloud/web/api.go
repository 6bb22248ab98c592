package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// maxJSONBody bounds JSON request bodies.
const maxJSONBody = 1 << 20

// listPage is the pinned list shape {"<plural>": [...], "next_cursor": "…"}.
func listPage[T any](c *echo.Context, plural string, items []T, next string) error {
	if items == nil {
		items = []T{}
	}
	return c.JSON(http.StatusOK, map[string]any{plural: items, "next_cursor": next})
}

// paging reads limit (default 100, at most 1000) and cursor.
func paging(c *echo.Context) (int, string, error) {
	limit := store.DefaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, "", visitor.Errorf(visitor.EINVALID, "limit must be a positive integer")
		}
		limit = min(n, store.MaxLimit)
	}
	cursor := c.QueryParam("cursor")
	if len(cursor) > 200 {
		return 0, "", visitor.Errorf(visitor.EINVALID, "bad cursor")
	}
	return limit, cursor, nil
}

// decodeBody reads one JSON object into v, refusing unknown fields.
func decodeBody(c *echo.Context, v any) error {
	r := c.Request()
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
		}
		return visitor.Errorf(visitor.EINVALID, "invalid JSON body: %s", err.Error())
	}
	if dec.More() {
		return visitor.Errorf(visitor.EINVALID, "invalid JSON body: trailing data")
	}
	return nil
}

// me is GET /api/v1/me.
func (s *Server) me(c *echo.Context) error {
	sess, _ := session(c)
	perms := sess.Permissions
	if perms == nil {
		perms = []visitor.Permission{}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"user": map[string]string{
			"id": sess.UserID, "name": sess.Name, "email": sess.Email, "role": sess.Role,
		},
		"tenant":      map[string]string{"id": sess.TenantID, "name": sess.TenantName},
		"permissions": perms,
		"expires_at":  sess.ExpiresAt,
	})
}

func (s *Server) listLocations(c *echo.Context) error {
	sess, _ := session(c)
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	items, next, err := s.store.Locations(c.Request().Context(), sess.TenantID, limit, cursor)
	if err != nil {
		return err
	}
	return listPage(c, "locations", items, next)
}

func (s *Server) createLocation(c *echo.Context) error {
	sess, _ := session(c)
	var in struct {
		Name     string `json:"name"`
		Address  string `json:"address"`
		Type     string `json:"type"`
		Timezone string `json:"timezone"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	l, err := s.store.CreateLocation(c.Request().Context(), sess.TenantID,
		visitor.Location{Name: in.Name, Address: in.Address, Type: in.Type, Timezone: in.Timezone}, actor(sess))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, l)
}

func (s *Server) listHosts(c *echo.Context) error {
	sess, _ := session(c)
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	items, next, err := s.store.Hosts(c.Request().Context(), sess.TenantID, c.QueryParam("q"), limit, cursor)
	if err != nil {
		return err
	}
	return listPage(c, "hosts", items, next)
}

func (s *Server) createHost(c *echo.Context) error {
	sess, _ := session(c)
	var in struct {
		Name       string `json:"name"`
		Email      string `json:"email"`
		Phone      string `json:"phone"`
		LocationID string `json:"location_id"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	h, err := s.store.CreateHost(c.Request().Context(), sess.TenantID,
		visitor.Host{Name: in.Name, Email: in.Email, Phone: in.Phone, LocationID: in.LocationID}, actor(sess))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, h)
}

// listBadges is GET /api/v1/badges?location_id=: the physical badge
// inventory of one location, or of every location.
func (s *Server) listBadges(c *echo.Context) error {
	sess, _ := session(c)
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	items, next, err := s.store.Badges(c.Request().Context(), sess.TenantID, c.QueryParam("location_id"), limit, cursor)
	if err != nil {
		return err
	}
	return listPage(c, "badges", items, next)
}

// createBadge is POST /api/v1/badges: add a badge to a location's inventory.
func (s *Server) createBadge(c *echo.Context) error {
	sess, _ := session(c)
	var in struct {
		LocationID string `json:"location_id"`
		Number     string `json:"number"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if in.LocationID == "" {
		return visitor.Errorf(visitor.EINVALID, "location_id is required")
	}
	b, err := s.store.AddBadge(c.Request().Context(), sess.TenantID, in.LocationID, in.Number, actor(sess))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, b)
}

// listVisits is GET /api/v1/visits?date=&location_id=&status=. date is
// each location's own local date (YYYY-MM-DD, default today there), so a
// visit belongs to the day its location saw it.
func (s *Server) listVisits(c *echo.Context) error {
	sess, _ := session(c)
	ctx := c.Request().Context()
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	var status visitor.VisitStatus
	if v := c.QueryParam("status"); v != "" {
		if status, err = visitor.ParseVisitStatus(v); err != nil {
			return err
		}
	}
	date := c.QueryParam("date")
	var day time.Time
	if date != "" {
		if day, err = time.Parse(time.DateOnly, date); err != nil {
			return visitor.Errorf(visitor.EINVALID, "date must be YYYY-MM-DD")
		}
	}
	locationID := c.QueryParam("location_id")
	// The local day of each location in question, as a UTC interval.
	windows := map[string][2]time.Time{}
	addWindow := func(l visitor.Location) {
		tz, err := time.LoadLocation(l.Timezone)
		if err != nil {
			tz = time.UTC
		}
		d := day
		if date == "" {
			d = s.now().In(tz)
		}
		start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, tz)
		windows[l.ID] = [2]time.Time{start.UTC(), start.AddDate(0, 0, 1).UTC()}
	}
	if locationID != "" {
		l, err := s.store.Location(ctx, sess.TenantID, locationID)
		if err != nil {
			return err
		}
		addWindow(l)
	} else if err := s.store.EachLocation(ctx, sess.TenantID, func(l visitor.Location) error {
		addWindow(l)
		return nil
	}); err != nil {
		return err
	}
	if len(windows) == 0 {
		return listPage(c, "visits", []visitor.Visit{}, "")
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
	// One query over the union of the windows, then each visit checked
	// against its own location's window; bounded by a number of pages.
	var out []visitor.Visit
	next := cursor
	for range 20 {
		items, n, err := s.store.Visits(ctx, sess.TenantID, visitor.VisitFilter{
			LocationID: locationID, Status: status, From: from, To: to, Limit: limit, Cursor: next,
		})
		if err != nil {
			return err
		}
		next = n
		for i, v := range items {
			at := v.CheckedInAt
			if at.IsZero() {
				at = v.CreatedAt
			}
			w, ok := windows[v.LocationID]
			if !ok || at.Before(w[0]) || !at.Before(w[1]) {
				continue
			}
			out = append(out, v)
			if len(out) == limit {
				if i < len(items)-1 || next != "" {
					next = v.ID
				}
				return listPage(c, "visits", out, next)
			}
		}
		if next == "" {
			break
		}
	}
	return listPage(c, "visits", out, next)
}

// checkInBody is the pinned staff check-in body.
type checkInBody struct {
	LocationID  string         `json:"location_id"`
	HostID      string         `json:"host_id"`
	VisitorType string         `json:"visitor_type"`
	Visitor     visitor.Person `json:"visitor"`
}

func (s *Server) checkIn(c *echo.Context) error {
	sess, _ := session(c)
	var in checkInBody
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	v, err := s.store.CheckIn(c.Request().Context(), sess.TenantID, visitor.Visit{
		LocationID: in.LocationID, HostID: in.HostID, VisitorType: in.VisitorType, Visitor: in.Visitor,
		Source: visitor.SourceStaff,
	}, actor(sess))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) checkOut(c *echo.Context) error {
	sess, _ := session(c)
	v, _, err := s.store.CheckOut(c.Request().Context(), sess.TenantID, c.Param("id"), time.Time{}, visitor.SourceStaff, actor(sess))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) listPreregistrations(c *echo.Context) error {
	sess, _ := session(c)
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	items, next, err := s.store.Preregistrations(c.Request().Context(), sess.TenantID, c.QueryParam("location_id"), limit, cursor)
	if err != nil {
		return err
	}
	return listPage(c, "preregistrations", items, next)
}

func (s *Server) createPreregistration(c *echo.Context) error {
	sess, _ := session(c)
	var in struct {
		LocationID  string         `json:"location_id"`
		HostID      string         `json:"host_id"`
		VisitorType string         `json:"visitor_type"`
		Visitor     visitor.Person `json:"visitor"`
		ExpectedAt  time.Time      `json:"expected_at"`
		InviteCode  string         `json:"invite_code"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	p := visitor.Preregistration{
		LocationID: in.LocationID, HostID: in.HostID, VisitorType: in.VisitorType,
		Visitor: in.Visitor, ExpectedAt: in.ExpectedAt, InviteCode: in.InviteCode,
	}
	ctx := c.Request().Context()
	// A generated code may collide with one in use: try a few.
	for attempt := 0; ; attempt++ {
		if in.InviteCode == "" {
			code, err := inviteCode(s.rand)
			if err != nil {
				return err
			}
			p.InviteCode = code
		}
		out, err := s.store.CreatePreregistration(ctx, sess.TenantID, p, actor(sess))
		if err == nil {
			return c.JSON(http.StatusCreated, out)
		}
		if in.InviteCode != "" || visitor.ErrorCode(err) != visitor.ECONFLICT || attempt == 4 {
			return err
		}
	}
}

// inviteAlphabet has no look-alike characters (0/O, 1/I/L).
const inviteAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// inviteCode returns an 8-character invite code from r, without modulo bias.
func inviteCode(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < 8 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("invite code: %w", err)
		}
		if int(buf[0]) >= 256-256%len(inviteAlphabet) {
			continue
		}
		b.WriteByte(inviteAlphabet[int(buf[0])%len(inviteAlphabet)])
	}
	return b.String(), nil
}

func (s *Server) listAudit(c *echo.Context) error {
	sess, _ := session(c)
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	items, next, err := s.store.Audit(c.Request().Context(), sess.TenantID, limit, cursor)
	if err != nil {
		return err
	}
	return listPage(c, "events", items, next)
}
