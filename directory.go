package visitor

import (
	"bytes"
	"image"
	_ "image/jpeg" // logos may be JPEG
	_ "image/png"  // or PNG
	"time"
)

// Tenant is a Hub organisation; its ID is the Hub org_id.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// TenantSettings are the tenant-level settings admins change in the console
// and kiosks receive down the sync feed.
type TenantSettings struct {
	BadgeTemplate    string   `json:"badge_template"`
	AutoCheckoutTime string   `json:"auto_checkout_time"` // "HH:MM" local, "" for never
	NDAEnabled       bool     `json:"nda_enabled"`
	NDAText          string   `json:"nda_text"`
	NDAVersion       string   `json:"nda_version"`
	RetentionDays    int      `json:"retention_days"`
	KioskPIN         string   `json:"-"`
	RequiredFields   []string `json:"required_fields"`
	// Logo is the tenant's logo as PNG or JPEG bytes (empty for none),
	// shown on the kiosk's welcome screen. It travels down the sync feed
	// with the rest of the settings, so kiosks show it offline too.
	Logo []byte `json:"logo,omitempty"`
}

// Logo limits: kept small because every kiosk stores the logo and it
// travels in the settings change.
const (
	MaxLogoBytes = 256 << 10
	MaxLogoSide  = 2048
)

// ValidateLogo checks that b is a PNG or JPEG image within the limits.
func ValidateLogo(b []byte) error {
	if len(b) > MaxLogoBytes {
		return Errorf(EINVALID, "the logo is too large: %d KiB at most", MaxLogoBytes>>10)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || (format != "png" && format != "jpeg") {
		return Errorf(EINVALID, "the logo must be a PNG or JPEG image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return Errorf(EINVALID, "the logo must be at most %d×%d pixels", MaxLogoSide, MaxLogoSide)
	}
	return nil
}

// Location is a building or lobby of a tenant.
type Location struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	Type      string    `json:"type"`
	Timezone  string    `json:"timezone"` // IANA name
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks the required fields and the timezone name.
func (l Location) Validate() error {
	switch {
	case l.Name == "":
		return Errorf(EINVALID, "location name is required")
	case len(l.Name) > 200 || len(l.Address) > 500:
		return Errorf(EINVALID, "a location field is too long")
	}
	if _, err := time.LoadLocation(l.Timezone); err != nil || l.Timezone == "" {
		return Errorf(EINVALID, "timezone %q is not an IANA timezone name", l.Timezone)
	}
	return nil
}

// Host is a person visitors come to see.
type Host struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenant_id"`
	LocationID string    `json:"location_id,omitempty"` // "" for every location
	Name       string    `json:"name"`
	Email      string    `json:"email,omitempty"`
	Phone      string    `json:"phone,omitempty"`
	Active     bool      `json:"active"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// PreregStatus is the state of a pre-registration.
type PreregStatus string

// Pre-registration states.
const (
	PreregPending   PreregStatus = "pending"
	PreregUsed      PreregStatus = "used"
	PreregCancelled PreregStatus = "cancelled"
)

// Preregistration is a guest expected at a location, who checks in with an
// invite code.
type Preregistration struct {
	ID          string       `json:"id"`
	TenantID    string       `json:"tenant_id"`
	LocationID  string       `json:"location_id"`
	HostID      string       `json:"host_id,omitempty"`
	Visitor     Person       `json:"visitor"`
	VisitorType string       `json:"visitor_type"`
	InviteCode  string       `json:"invite_code"`
	ExpectedAt  time.Time    `json:"expected_at,omitzero"`
	Status      PreregStatus `json:"status"`
	VisitID     string       `json:"visit_id,omitempty"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// BadgeStatus is the state of a physical badge.
type BadgeStatus string

// Badge states.
const (
	BadgeAvailable BadgeStatus = "available"
	BadgeAssigned  BadgeStatus = "assigned"
	BadgeRetired   BadgeStatus = "retired"
)

// Badge is a physical, reusable badge of a location's inventory.
type Badge struct {
	ID         string      `json:"id"`
	TenantID   string      `json:"tenant_id"`
	LocationID string      `json:"location_id"`
	Number     string      `json:"number"`
	Status     BadgeStatus `json:"status"`
	VisitID    string      `json:"visit_id,omitempty"`
	UpdatedAt  time.Time   `json:"updated_at"`
}
