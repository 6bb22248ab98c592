package web

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor/cloud/displays"
)

// listDisplays is GET /api/v1/displays: the tenant's kiosks with status,
// last seen, backlog and whether each is connected now.
func (s *Server) listDisplays(c *echo.Context) error {
	sess, _ := session(c)
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	items, next, err := s.displays.List(c.Request().Context(), sess.TenantID, limit, cursor)
	if err != nil {
		return err
	}
	return listPage(c, "displays", items, next)
}

// approveDisplay is POST /api/v1/displays/approve {user_code, location_id,
// name}: 201 with the new display; 429 with Retry-After after too many
// attempts; 404 for a code that is not live or a location of another tenant.
func (s *Server) approveDisplay(c *echo.Context) error {
	sess, _ := session(c)
	var in displays.Approval
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	d, err := s.displays.Approve(c.Request().Context(), sess, c.RealIP(), in)
	if err != nil {
		return s.rateLimited(c, err)
	}
	return c.JSON(http.StatusCreated, displays.Display{Device: d})
}

// renameDisplay is PATCH /api/v1/displays/{id} {name}.
func (s *Server) renameDisplay(c *echo.Context) error {
	sess, _ := session(c)
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	d, err := s.displays.Rename(c.Request().Context(), sess, c.Param("id"), in.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, displays.Display{Device: d})
}

// unpairDisplay is POST /api/v1/displays/{id}/unpair: the kiosk drains
// its outbox, then wipes its tenant data.
func (s *Server) unpairDisplay(c *echo.Context) error {
	sess, _ := session(c)
	d, err := s.displays.Unpair(c.Request().Context(), sess, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, displays.Display{Device: d})
}

// revokeDisplay is POST /api/v1/displays/{id}/revoke: the kiosk is
// refused at once (lost or stolen).
func (s *Server) revokeDisplay(c *echo.Context) error {
	sess, _ := session(c)
	d, err := s.displays.Revoke(c.Request().Context(), sess, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, displays.Display{Device: d})
}
