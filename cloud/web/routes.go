package web

import (
	"github.com/theonestack/visitor/cloud/integration"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/displays"
	"github.com/theonestack/visitor/pairing"
)

// publicRoute reports whether a route needs no session, key or device:
// the health checks, metrics, sign-in (/auth/*) and pairing
// (/api/pairing/*), as DESIGN.md "Public routes" pins. Every other route
// must declare a permission (or another caller check) when it is
// registered; TestEveryRouteDeclaresAccess enforces it.
func publicRoute(method, path string) bool {
	switch method + " " + path {
	case "GET /healthz", "GET /readyz", "GET /metrics":
		return true
	}
	return strings.HasPrefix(path, "/auth/") || strings.HasPrefix(path, "/api/pairing/")
}

// routes is the route table, grouped by audience.
func (s *Server) routes() {
	e := s.e
	// Process and operations.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.cfg.MetricsAddr == "" {
		e.GET("/metrics", echo.WrapHandler(s.MetricsHandler()))
	}

	// Sign-in through Hub (public).
	e.GET("/auth/login", s.login)
	e.GET("/auth/hub/callback", s.callback)
	e.POST("/auth/logout", s.logout)

	// JSON API: session cookie, a permission per route.
	const get, post = http.MethodGet, http.MethodPost
	s.route(get, "/api/v1/me", anySession, s.me)
	s.route(get, "/api/v1/locations", anySession, s.listLocations)
	s.route(post, "/api/v1/locations", visitor.PermLocationsManage, s.createLocation)
	s.route(get, "/api/v1/hosts", visitor.PermHostsView, s.listHosts)
	s.route(post, "/api/v1/hosts", visitor.PermHostsManage, s.createHost)
	s.route(get, "/api/v1/badges", visitor.PermBadgesManage, s.listBadges)
	s.route(post, "/api/v1/badges", visitor.PermBadgesManage, s.createBadge)
	s.route(get, "/api/v1/visits", visitor.PermVisitorsView, s.listVisits)
	s.route(post, "/api/v1/visits", visitor.PermVisitorsCheckin, s.checkIn)
	s.route(post, "/api/v1/visits/:id/checkout", visitor.PermVisitorsCheckout, s.checkOut)
	s.route(get, "/api/v1/preregistrations", visitor.PermPreregisterManage, s.listPreregistrations)
	s.route(post, "/api/v1/preregistrations", visitor.PermPreregisterManage, s.createPreregistration)
	s.route(get, "/api/v1/audit", visitor.PermAdminSettings, s.listAudit)

	// Pairing and displays (DESIGN.md §4): the kiosk's device-code and
	// token polls are public (the device code and the device's signature
	// are the credentials); the approval page and the Displays API need
	// visitor.admin.kiosk, and act in the session's tenant only.
	const patch = http.MethodPatch
	e.POST(pairing.PathDeviceCode, s.deviceCode)
	e.POST(pairing.PathToken, s.pairingToken)
	s.route(get, displays.VerificationPath, visitor.PermAdminKiosk, s.pairPage)
	s.route(post, displays.VerificationPath, visitor.PermAdminKiosk, s.pairSubmit)
	s.route(get, "/api/v1/displays", visitor.PermAdminKiosk, s.listDisplays)
	s.route(post, "/api/v1/displays/approve", visitor.PermAdminKiosk, s.approveDisplay)
	s.route(patch, "/api/v1/displays/:id", visitor.PermAdminKiosk, s.renameDisplay)
	s.route(post, "/api/v1/displays/:id/unpair", visitor.PermAdminKiosk, s.unpairDisplay)
	s.route(post, "/api/v1/displays/:id/revoke", visitor.PermAdminKiosk, s.revokeDisplay)

	// Console pages: session cookie, HTML; each page and action declares
	// its permission like the JSON API (the navigation shows only what the
	// session may use). The templates are embedded and parsed here, once:
	// a broken one stops start-up.
	con, err := newConsole(s)
	if err != nil {
		panic(err) // embedded templates: a build defect, caught by every test
	}
	s.route(get, "/", anySession, con.home)
	s.route(get, "/static/*", anySession, con.static)
	s.route(get, "/visits", visitor.PermVisitorsView, con.visits)
	s.route(get, "/visits/live", visitor.PermVisitorsView, con.visitsLive)
	s.route(get, "/visits/new", visitor.PermVisitorsCheckin, con.checkinForm)
	s.route(post, "/visits", visitor.PermVisitorsCheckin, con.checkin)
	s.route(post, "/visits/:id/checkout", visitor.PermVisitorsCheckout, con.checkout)
	s.route(get, "/onsite", visitor.PermVisitorsView, con.onsite)
	s.route(get, "/preregistrations", visitor.PermPreregisterManage, con.preregistrations)
	s.route(post, "/preregistrations", visitor.PermPreregisterManage, con.createPrereg)
	s.route(post, "/preregistrations/:id/cancel", visitor.PermPreregisterManage, con.cancelPrereg)
	s.route(get, "/hosts", visitor.PermHostsView, con.hosts)
	s.route(post, "/hosts", visitor.PermHostsManage, con.createHost)
	s.route(get, "/badges", visitor.PermBadgesManage, con.badges)
	s.route(post, "/badges", visitor.PermBadgesManage, con.addBadge)
	s.route(post, "/badges/:id/status", visitor.PermBadgesManage, con.badgeStatus)
	s.route(get, "/locations", anySession, con.locations)
	s.route(post, "/locations", visitor.PermLocationsManage, con.createLocation)
	s.route(get, "/displays", visitor.PermAdminKiosk, con.displays)
	s.route(get, "/settings", visitor.PermAdminSettings, con.settings)
	s.route(post, "/settings", visitor.PermAdminSettings, con.saveSettings)
	s.route(post, "/settings/keys", visitor.PermAdminSettings, con.createKey)
	s.route(post, "/settings/keys/:id/revoke", visitor.PermAdminSettings, con.revokeKey)
	s.route(post, "/settings/webhook-secret", visitor.PermAdminSettings, con.rotateWebhookSecret)
	s.route(post, "/settings/webhook-secret/remove", visitor.PermAdminSettings, con.removeWebhookSecrets)
	s.route(get, "/settings/logo", visitor.PermAdminSettings, con.logo)
	s.route(post, "/settings/logo", visitor.PermAdminSettings, con.uploadLogo)
	s.route(post, "/settings/logo/remove", visitor.PermAdminSettings, con.removeLogo)
	s.route(get, "/audit", visitor.PermAdminSettings, con.audit)
	s.route(get, "/api/v1/export/visits.csv", visitor.PermReportsExport, con.exportVisits)

	// Integrations: X-Integration-Key, checked by the handler.
	if s.integ != nil {
		for _, r := range integration.Routes() {
			e.Add(r[0], r[1], echo.WrapHandler(s.integ))
			s.perms[r[0]+" "+r[1]] = integrationKey
		}
	}

	// Kiosks: one WebSocket per device, authenticated by the device key.
	if s.sync != nil {
		e.GET("/api/sync", echo.WrapHandler(s.sync))
		s.perms["GET /api/sync"] = deviceKey
	}
}
