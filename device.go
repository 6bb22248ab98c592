package visitor

import (
	"encoding/json"
	"time"
)

// DeviceStatus is the state of a kiosk's binding to the cloud.
type DeviceStatus string

// Device states. A revoked device is refused at once; an unpaired one may
// drain its outbox and is then forgotten by the kiosk.
const (
	DeviceActive   DeviceStatus = "active"
	DeviceUnpaired DeviceStatus = "unpaired"
	DeviceRevoked  DeviceStatus = "revoked"
)

// Device is a paired kiosk. It proves itself with the Ed25519 key whose
// public half is PublicKey.
type Device struct {
	ID             string       `json:"id"`
	TenantID       string       `json:"tenant_id"`
	LocationID     string       `json:"location_id"`
	Name           string       `json:"name"`
	PublicKey      []byte       `json:"-"`
	Status         DeviceStatus `json:"status"`
	LastSeenAt     time.Time    `json:"last_seen_at,omitzero"`
	LastAppliedSeq int64        `json:"last_applied_seq"`
	PendingOps     int64        `json:"pending_ops"`
	RejectedOps    int64        `json:"rejected_ops"`
	PrinterStatus  string       `json:"printer_status,omitempty"`
	CreatedAt      time.Time    `json:"created_at"`
}

// AuditRecord is one line of a tenant's audit trail.
type AuditRecord struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"tenant_id"`
	At        time.Time       `json:"at"`
	ActorType string          `json:"actor_type"` // user, device, integration, system
	ActorID   string          `json:"actor_id"`
	Action    string          `json:"action"`
	Subject   string          `json:"subject,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	// DedupeKey, when set, makes the record unique per tenant (webhooks).
	DedupeKey string `json:"-"`
}

// Event types emitted to the Bus.
const (
	EventCheckedIn   = "visitor.checked_in"
	EventCheckedOut  = "visitor.checked_out"
	EventSSOLogin    = "auth.hub_sso_login"
	EventLoginFailed = "auth.login_failed"
)

// OutboxEvent is a Bus event written in the same transaction as the change
// that causes it. ID is the CloudEvent id: stable across retries.
type OutboxEvent struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"tenant_id"`
	Type      string          `json:"type"`
	Subject   string          `json:"subject"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error,omitempty"`
	Parked    bool            `json:"parked"`
}

// Session is a signed-in staff member's server-side session.
type Session struct {
	ID          string       `json:"-"`
	UserID      string       `json:"user_id"`
	TenantID    string       `json:"tenant_id"`
	TenantName  string       `json:"tenant_name"`
	Name        string       `json:"name"`
	Email       string       `json:"email"`
	Role        string       `json:"role"`
	Permissions []Permission `json:"permissions"`
	CreatedAt   time.Time    `json:"created_at"`
	ExpiresAt   time.Time    `json:"expires_at"`
}

// Has reports whether the session holds permission p.
func (s *Session) Has(p Permission) bool {
	for _, q := range s.Permissions {
		if q == p {
			return true
		}
	}
	return false
}

// IntegrationKey is a tenant-scoped key for the integration endpoints. Only
// its hash is stored; the secret is shown once, at creation.
type IntegrationKey struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"` // first characters, to recognise a key
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// WebhookSecret is a tenant's Standard Webhooks signing secret. While a
// tenant has one, inbound webhooks must carry a valid signature made with
// it. A replaced secret stays valid until ExpiresAt so senders can switch
// over without refused deliveries.
type WebhookSecret struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Key       []byte    `json:"-"`    // the HMAC key (the decoded whsec_ secret)
	Hint      string    `json:"hint"` // first characters of the secret, to recognise it
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero: current
}

// BillingReport is one usage report sent (or to be sent) to Hub Billing.
type BillingReport struct {
	IdempotencyKey string    `json:"idempotency_key"`
	TenantID       string    `json:"tenant_id"`
	Period         string    `json:"period"` // YYYY-MM
	Quantity       int       `json:"quantity"`
	AsOf           time.Time `json:"as_of"`
	SentAt         time.Time `json:"sent_at,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
}
