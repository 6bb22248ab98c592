package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/displays"
	"github.com/theonestack/visitor/pairing"
)

// pairingTemplateFiles holds the approval page reached from a kiosk's QR
// code (a read-only table built into the binary).
//
//go:embed templates/pairing/*.html
var pairingTemplateFiles embed.FS

// pairingPages are the approval page and its result page, parsed once at
// start-up.
type pairingPages struct {
	pair, paired *template.Template
}

func parsePairingPages() (pairingPages, error) {
	var p pairingPages
	var err error
	if p.pair, err = template.ParseFS(pairingTemplateFiles, "templates/pairing/pair.html"); err != nil {
		return p, fmt.Errorf("pairing templates: %w", err)
	}
	if p.paired, err = template.ParseFS(pairingTemplateFiles, "templates/pairing/paired.html"); err != nil {
		return p, fmt.Errorf("pairing templates: %w", err)
	}
	return p, nil
}

// maxPairingBody bounds the public pairing endpoints' bodies: a public key,
// a name and a proof fit in far less.
const maxPairingBody = 16 << 10

// decodePairing reads a pairing request body. Unknown fields are ignored,
// as OAuth endpoints do, so older clouds accept newer kiosks.
func decodePairing(c *echo.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxPairingBody))
	if err := dec.Decode(v); err != nil {
		return &displays.TokenError{Status: http.StatusBadRequest, Code: pairing.ErrorInvalidRequest, Description: "the body must be a JSON object"}
	}
	return nil
}

// pairingError answers an RFC 8628 error (or an internal one, logged).
func (s *Server) pairingError(c *echo.Context, err error) error {
	var te *displays.TokenError
	if !errors.As(err, &te) {
		s.log.Error("pairing request failed", "path", c.Path(), "err", err)
		te = &displays.TokenError{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error; try again"}
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	if te.RetryAfter > 0 {
		h.Set("Retry-After", retryAfterSeconds(te.RetryAfter))
	}
	return c.JSON(te.Status, pairing.ErrorResponse{Error: te.Code, ErrorDescription: te.Description, ServerTime: s.now().Unix()})
}

// deviceCode is POST /api/pairing/device-code (public): a new kiosk
// registers its public key and gets its codes.
func (s *Server) deviceCode(c *echo.Context) error {
	var req pairing.DeviceCodeRequest
	if err := decodePairing(c, &req); err != nil {
		return s.pairingError(c, err)
	}
	resp, err := s.displays.StartPairing(c.Request().Context(), req, c.RealIP())
	if err != nil {
		return s.pairingError(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, resp)
}

// pairingToken is POST /api/pairing/token (public): one signed poll.
func (s *Server) pairingToken(c *echo.Context) error {
	var req pairing.TokenRequest
	if err := decodePairing(c, &req); err != nil {
		return s.pairingError(c, err)
	}
	resp, err := s.displays.PollToken(c.Request().Context(), req)
	if err != nil {
		return s.pairingError(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, resp)
}

// pairView is the data of pair.html.
type pairView struct {
	Session   *visitor.Session
	Tenant    string
	Error     string
	Pending   *displays.Pending
	Locations []visitor.Location
}

// pairPage is GET /pair[?code=ABCD-EFGH]: the page the kiosk's QR code
// opens. Without a code it asks for one; with a live code it shows it with
// a location picker of the admin's tenant and Approve / Deny.
func (s *Server) pairPage(c *echo.Context) error {
	sess, _ := session(c)
	v := pairView{Session: sess, Tenant: tenantLabel(sess.TenantName, sess.TenantID)}
	status := http.StatusOK
	if code := c.QueryParam("code"); code != "" {
		p, err := s.displays.Lookup(c.Request().Context(), sess, c.RealIP(), code)
		switch visitor.ErrorCode(err) {
		case "":
			v.Pending = &p
			locs, _, err := s.store.Locations(c.Request().Context(), sess.TenantID, 1000, "")
			if err != nil {
				return err
			}
			v.Locations = locs
		case visitor.EINVALID, visitor.ENOTFOUND:
			v.Error, status = visitor.ErrorMessage(err), statusOf(err)
		default:
			return s.rateLimited(c, err)
		}
	}
	return s.renderPairing(c, s.pairing.pair, status, v)
}

// pairSubmit is POST /pair: the approval page's form (Approve or Deny).
func (s *Server) pairSubmit(c *echo.Context) error {
	sess, _ := session(c)
	ctx := c.Request().Context()
	code := c.FormValue("code")
	if c.FormValue("action") == "deny" {
		if err := s.displays.Deny(ctx, sess, c.RealIP(), code); err != nil {
			return s.rateLimited(c, err)
		}
		return s.renderPairing(c, s.pairing.paired, http.StatusOK, map[string]any{"Title": "Pairing refused"})
	}
	d, err := s.displays.Approve(ctx, sess, c.RealIP(), displays.Approval{
		UserCode: code, LocationID: c.FormValue("location_id"), Name: c.FormValue("name"),
	})
	if err != nil {
		return s.rateLimited(c, err)
	}
	loc, err := s.store.Location(ctx, sess.TenantID, d.LocationID)
	if err != nil {
		return err
	}
	return s.renderPairing(c, s.pairing.paired, http.StatusOK, map[string]any{"Title": "Display paired", "Device": d, "LocationName": loc.Name})
}

func (s *Server) renderPairing(c *echo.Context, t *template.Template, status int, data any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("render %s: %w", t.Name(), err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the code is in the URL
	return c.HTMLBlob(status, buf.Bytes())
}

// rateLimited turns a *displays.RateLimitError into 429 with Retry-After
// and passes any other error on to the error handler.
func (s *Server) rateLimited(c *echo.Context, err error) error {
	var rl *displays.RateLimitError
	if errors.As(err, &rl) {
		c.Response().Header().Set("Retry-After", retryAfterSeconds(rl.RetryAfter))
		return visitor.Errorf(visitor.ERATELIMIT, "%s", rl.Error())
	}
	return err
}

// retryAfterSeconds is a Retry-After value: whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
