package visitor

import (
	"strings"
	"time"
)

// VisitStatus is where a visit stands. A visit only moves forward:
// expected → checked_in → checked_out, or to denied; a checked-out visit
// never reopens.
type VisitStatus string

// Visit statuses.
const (
	VisitExpected   VisitStatus = "expected"
	VisitCheckedIn  VisitStatus = "checked_in"
	VisitCheckedOut VisitStatus = "checked_out"
	VisitDenied     VisitStatus = "denied"
)

// StatusOnSite is the filter value that means VisitCheckedIn.
const StatusOnSite = "on_site"

// ParseVisitStatus accepts a status or the on_site alias.
func ParseVisitStatus(s string) (VisitStatus, error) {
	switch s {
	case StatusOnSite:
		return VisitCheckedIn, nil
	case string(VisitExpected), string(VisitCheckedIn), string(VisitCheckedOut), string(VisitDenied):
		return VisitStatus(s), nil
	}
	return "", Errorf(EINVALID, "unknown visit status %q", s)
}

// VisitSource says where a visit was started.
type VisitSource string

// Visit sources.
const (
	SourceKiosk VisitSource = "kiosk"
	SourceStaff VisitSource = "staff"
)

// Built-in visitor types; tenants may define more.
const (
	TypeGuest      = "guest"
	TypeContractor = "contractor"
	TypeInterview  = "interview"
	TypeDelivery   = "delivery"
)

// Person is the visitor's own details as given at check-in.
type Person struct {
	Name    string `json:"name"`
	Email   string `json:"email,omitempty"`
	Company string `json:"company,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// Normalize trims the fields and lower-cases the email.
func (p Person) Normalize() Person {
	return Person{
		Name:    strings.TrimSpace(p.Name),
		Email:   strings.ToLower(strings.TrimSpace(p.Email)),
		Company: strings.TrimSpace(p.Company),
		Phone:   strings.TrimSpace(p.Phone),
	}
}

// Validate reports missing or oversized fields.
func (p Person) Validate() error {
	switch {
	case p.Name == "":
		return Errorf(EINVALID, "visitor name is required")
	case len(p.Name) > 200, len(p.Email) > 254, len(p.Company) > 200, len(p.Phone) > 50:
		return Errorf(EINVALID, "a visitor field is too long")
	case p.Email != "" && !strings.Contains(p.Email, "@"):
		return Errorf(EINVALID, "visitor email %q is not an email address", p.Email)
	}
	return nil
}

// Visit is one person's visit to one location. Its ID is a UUIDv7 made
// where the visit started (kiosk or cloud), so a kiosk's visit id is the
// cloud's visit id.
type Visit struct {
	ID                string      `json:"id"`
	TenantID          string      `json:"tenant_id"`
	LocationID        string      `json:"location_id"`
	HostID            string      `json:"host_id,omitempty"`
	Visitor           Person      `json:"visitor"`
	VisitorType       string      `json:"visitor_type"`
	Status            VisitStatus `json:"status"`
	Source            VisitSource `json:"source"`
	DeviceID          string      `json:"device_id,omitempty"`
	BadgeNumber       string      `json:"badge_number,omitempty"`
	PreregistrationID string      `json:"preregistration_id,omitempty"`
	CheckedInAt       time.Time   `json:"checked_in_at,omitzero"`
	CheckedOutAt      time.Time   `json:"checked_out_at,omitzero"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`

	// Flag is set when a visit was accepted despite a conflict it could not
	// have known about (a pre-registration edited or cancelled while the
	// kiosk was offline). A flagged visit is never rejected.
	Flag string `json:"flag,omitempty"`

	// Planned fields: Security screening and NDA signing.
	AIRiskScore     *float64  `json:"ai_risk_score"`
	AIRiskNotes     *string   `json:"ai_risk_notes"`
	NDAVersion      string    `json:"nda_version,omitempty"`
	NDASignedAt     time.Time `json:"nda_signed_at,omitzero"`
	NDASignatureRef string    `json:"nda_signature_ref,omitempty"`
}

// VisitFilter selects visits in a list.
type VisitFilter struct {
	LocationID string
	Status     VisitStatus // "" for any
	// From and To bound CheckedInAt (or CreatedAt for expected visits): From ≤ t < To.
	From, To time.Time
	Limit    int
	Cursor   string
}
