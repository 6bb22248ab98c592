// Package web is the cloud's HTTP surface on Echo v5: the route table
// (routes.go), identity and permission middleware, the JSON API, the
// console pages, and the one error handler that maps application errors
// to statuses and renders them as JSON or HTML by route group.
package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/displays"
	"github.com/theonestack/visitor/cloud/store"
)

// Deps are what the web layer needs. Store, Config and Logger are required.
type Deps struct {
	Store  *store.DB
	Config config.Config
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Registry receives the HTTP metrics; nil makes a new one.
	Registry *prometheus.Registry
	// Sync, when set, serves the kiosk sync WebSocket at /api/sync. It
	// authenticates the device itself (challenge signed by the device key).
	Sync http.Handler
	// Integration, when set, serves the endpoints external systems call
	// with an X-Integration-Key (search provider and integration API); it
	// authenticates the key itself.
	Integration http.Handler
	// Auth runs Hub sign-in and resolves sessions; nil builds one from
	// Config (HUB_URL, HUB_ISSUER, PUBLIC_URL) with Now and Rand.
	Auth *auth.Service
	// Rand is the source of invite codes (and of session ids and login
	// states when Auth is built here); nil means crypto/rand.
	Rand io.Reader
	// Displays runs kiosk pairing and the Displays API; nil builds one
	// over Store with PUBLIC_URL, Now, Rand and no live-connection hooks.
	Displays *displays.Service
	// Changes, when set, is told the session's tenant after every
	// successful state-changing request (after its commit), so the
	// tenant's kiosks get new hosts, pre-registrations, badges, locations
	// and settings at once, on every instance (fanout.Notifier); without
	// it they arrive with the sync server's poll.
	Changes TenantNotifier
}

// TenantNotifier is told that a tenant's data changed.
type TenantNotifier interface {
	// Notify sends the tenant's committed changes to its kiosks.
	Notify(tenantID string)
}

// Server is the cloud's HTTP handler. Build it with New.
type Server struct {
	e        *echo.Echo
	store    *store.DB
	cfg      config.Config
	log      *slog.Logger
	now      func() time.Time
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	sync     http.Handler
	integ    http.Handler
	auth     *auth.Service
	rand     io.Reader
	handler  http.Handler
	displays *displays.Service
	pairing  pairingPages
	changes  TenantNotifier

	// perms records the permission each protected route declared, by
	// "METHOD path"; routes.go fills it and a test checks every route is
	// either here or in publicRoutes.
	perms map[string]visitor.Permission
}

// New builds the server and its route table.
func New(d Deps) (*Server, error) {
	if d.Store == nil || d.Logger == nil {
		return nil, errors.New("web: Store and Logger are required")
	}
	s := &Server{
		store: d.Store, cfg: d.Config, log: d.Logger.With("component", "web"), now: d.Now,
		registry: d.Registry, perms: map[string]visitor.Permission{}, sync: d.Sync, integ: d.Integration,
		changes: d.Changes,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.rand = d.Rand
	if s.rand == nil {
		s.rand = rand.Reader
	}
	s.auth = d.Auth
	if s.auth == nil {
		a, err := auth.New(auth.Config{
			HubURL: d.Config.HubURL, Issuer: d.Config.HubIssuer, SecureCookies: d.Config.SecureCookies(),
		}, d.Store, auth.Options{Now: s.now, Rand: d.Rand, Logger: d.Logger})
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		s.auth = a
	}
	s.displays = d.Displays
	if s.displays == nil {
		s.displays = displays.New(d.Store, d.Config.PublicURL, displays.Options{Now: s.now, Rand: d.Rand, Logger: d.Logger})
	}
	var err error
	if s.pairing, err = parsePairingPages(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "visitor_http_requests_total", Help: "HTTP requests by route and status class.",
	}, []string{"route", "code"})
	if err := s.registry.Register(s.requests); err != nil {
		return nil, err
	}
	s.e = echo.NewWithConfig(echo.Config{Logger: s.log, HTTPErrorHandler: s.handleError})
	s.e.Use(s.countRequests, s.identity, s.notifyChanges)
	s.routes()
	// Every state-changing request passes Go's cross-origin check: browsers
	// say where a request comes from (Sec-Fetch-Site or Origin), and a
	// cross-site write is refused; scripts, which send neither, pass.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossOriginDenied))
	s.handler = cop.Handler(s.e)
	return s, nil
}

// Handler returns the http.Handler serving every route, behind the
// cross-origin protection.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves /metrics, for a separate listener.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// Routes lists the registered routes.
func (s *Server) Routes() echo.Routes { return s.e.Router().Routes() }

// Permission returns the permission the route declared and whether it
// declared one.
func (s *Server) Permission(method, path string) (visitor.Permission, bool) {
	p, ok := s.perms[method+" "+path]
	return p, ok
}

func (s *Server) countRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		err := next(c)
		code := http.StatusOK
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Status != 0 {
			code = r.Status
		}
		if err != nil {
			code = statusOf(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.requests.WithLabelValues(route, string(rune('0'+code/100))+"xx").Inc()
		return err
	}
}

// notifyChanges tells Changes the session's tenant after a state-changing
// request succeeded: its handler has committed by then. A request that
// changed nothing kiosks follow costs one spare feed read per kiosk.
func (s *Server) notifyChanges(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		err := next(c)
		if err != nil || s.changes == nil {
			return err
		}
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return nil
		}
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Status >= 400 {
			return nil
		}
		if sess, ok := session(c); ok && sess.TenantID != "" {
			s.changes.Notify(sess.TenantID)
		}
		return nil
	}
}

// statusOf maps an error to its HTTP status: application codes by the
// table below, Echo's own errors by their status, anything else 500.
func statusOf(err error) int {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode()
	}
	var sc echo.HTTPStatusCoder
	if errors.As(err, &sc) && sc.StatusCode() != 0 {
		return sc.StatusCode()
	}
	switch visitor.ErrorCode(err) {
	case visitor.EINVALID:
		return http.StatusBadRequest
	case visitor.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case visitor.EFORBIDDEN:
		return http.StatusForbidden
	case visitor.ENOTFOUND:
		return http.StatusNotFound
	case visitor.ECONFLICT, visitor.ENOTPAIRED:
		return http.StatusConflict
	case visitor.ERATELIMIT:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// codeOf is the JSON error code for err.
func codeOf(err error, status int) string {
	if c := visitor.ErrorCode(err); c != visitor.EINTERNAL {
		return c
	}
	switch status {
	case http.StatusNotFound:
		return visitor.ENOTFOUND
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusBadRequest:
		return visitor.EINVALID
	case http.StatusUnauthorized:
		return visitor.EUNAUTHORIZED
	case http.StatusForbidden:
		return visitor.EFORBIDDEN
	case http.StatusTooManyRequests:
		return visitor.ERATELIMIT
	}
	return visitor.EINTERNAL
}

// handleError is the one place errors become responses. Internal errors
// are logged with the request and shown only as a generic message.
func (s *Server) handleError(c *echo.Context, err error) {
	if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
		return
	}
	status := statusOf(err)
	code := codeOf(err, status)
	msg := visitor.ErrorMessage(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg = he.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
	}
	if status >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
		msg = "Internal error."
	}
	if status == http.StatusForbidden {
		msg = "Access Denied"
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if wantsHTML(c.Request()) {
		c.HTML(status, errorPage(status, msg))
		return
	}
	c.JSON(status, map[string]string{"error": code, "message": msg})
}

// wantsHTML reports whether a request is for a console page rather than
// the JSON API, the integration endpoints or the sync endpoint.
func wantsHTML(r *http.Request) bool {
	p := r.URL.Path
	for _, prefix := range []string{"/api/", "/healthz", "/readyz", "/metrics"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return true
}
