// Package edgeapi is the narrow interface of the kiosk engine: the calls
// the kiosk screens and the loopback JSON API make, and their value types.
// It holds no logic, so both callers and the engine (package edge) can
// depend on it. *edge.Engine implements Service.
package edgeapi

import (
	"context"
	"time"

	"github.com/theonestack/visitor"
)

// CheckInRequest is a check-in at the kiosk. Either Name (with the other
// details) or InviteCode is given; with an invite code, the synced
// pre-registration fills every field left empty.
type CheckInRequest struct {
	Name        string `json:"name"`
	Email       string `json:"email"`
	Company     string `json:"company"`
	Phone       string `json:"phone"`
	HostID      string `json:"host_id"`
	VisitorType string `json:"visitor_type"`
	InviteCode  string `json:"invite_code"`
	// BadgeNumber picks a specific available badge; "" takes the first
	// available one, and no badge at all is fine.
	BadgeNumber string `json:"badge_number"`
	// NDA is the tenant's NDA as the visitor signed it on the kiosk
	// before confirming; nil when no NDA was asked for. It is stored on
	// the visit in the check-in's own transaction and travels to the cloud
	// on the check-in op. The local JSON API does not take it.
	NDA *NDASignature `json:"-"`
}

// NDASignature is a signed NDA: the version of the tenant's text the
// visitor read and a PNG of their signature.
type NDASignature struct {
	Version   string
	Signature []byte
}

// CheckOutRequest names the visit to end: by VisitID, or by the
// BadgeNumber the visitor is wearing.
type CheckOutRequest struct {
	VisitID     string `json:"visit_id"`
	BadgeNumber string `json:"badge_number"`
}

// Status is the kiosk's state as the screens and /v1/status show it.
type Status struct {
	Paired      bool       `json:"paired"`
	Revoked     bool       `json:"revoked"`
	Online      bool       `json:"online"`
	PendingOps  int64      `json:"pending_ops"`  // every outbox op not yet acknowledged by the cloud
	RejectedOps int64      `json:"rejected_ops"` // ops the cloud refused for good (recorded, never retried)
	DeviceID    string     `json:"device_id"`
	TenantID    string     `json:"tenant_id"`
	LocationID  string     `json:"location_id"`
	LastSyncAt  *time.Time `json:"last_sync_at"` // null until the first successful connection
}

// Service is what the kiosk screens and the local API call. Every method
// answers from the local database and never waits for the network, so it
// behaves the same online and offline. Errors a user may act on are
// *visitor.Error (EINVALID, ENOTFOUND, ECONFLICT, ENOTPAIRED); any other
// error is internal.
type Service interface {
	// CheckIn records a visit (and its outbox op, and a badge if one is
	// available) durably before returning it.
	CheckIn(ctx context.Context, req CheckInRequest) (visitor.Visit, error)
	// CheckOut ends a visit; checking out a visit twice returns it
	// unchanged.
	CheckOut(ctx context.Context, req CheckOutRequest) (visitor.Visit, error)
	// OnSite lists the visitors checked in and not out, oldest first.
	OnSite(ctx context.Context) ([]visitor.Visit, error)
	// FindOnSite lists on-site visitors whose name (or a word of it)
	// starts with namePrefix, case-insensitive.
	FindOnSite(ctx context.Context, namePrefix string) ([]visitor.Visit, error)
	// Hosts searches the synced host directory by name, word or email
	// prefix.
	Hosts(ctx context.Context, q string) ([]visitor.Host, error)
	// Status reports pairing, connectivity and the sync backlog.
	Status(ctx context.Context) (Status, error)
}
