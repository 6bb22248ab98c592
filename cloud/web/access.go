package web

import "github.com/theonestack/visitor"

// Access levels a route may declare besides the twelve permissions.
const (
	// anySession: any signed-in user of the tenant.
	anySession visitor.Permission = "session"
	// integrationKey: the platform key or a tenant integration key.
	integrationKey visitor.Permission = "integration_key"
	// deviceKey: a paired kiosk proving its key.
	deviceKey visitor.Permission = "device"
)
