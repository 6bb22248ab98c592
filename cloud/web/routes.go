package web

import (
	"github.com/labstack/echo/v5"
)

// publicRoutes are the routes that need no session, key or device: the
// health checks, metrics, sign-in and pairing (DESIGN.md "Public routes").
// Every other route must declare a permission (or another caller check)
// when it is registered; TestEveryRouteDeclaresAccess enforces it.
var publicRoutes = map[string]bool{
	"GET /healthz": true,
	"GET /readyz":  true,
	"GET /metrics": true,
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

	// Kiosks: one WebSocket per device, authenticated by the device key.
	if s.sync != nil {
		e.GET("/api/sync", echo.WrapHandler(s.sync))
		s.perms["GET /api/sync"] = deviceKey
	}
}
