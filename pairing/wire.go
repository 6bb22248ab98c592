package pairing

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// HTTP paths of the pairing endpoints, relative to the cloud's base URL.
// Both are public (no session): the device code and the device's signature
// are the credentials.
const (
	PathDeviceCode = "/api/pairing/device-code"
	PathToken      = "/api/pairing/token"
)

// GrantTypeDeviceCode is the RFC 8628 grant type a token request may carry.
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Defaults the cloud uses for device codes, in seconds.
const (
	// DefaultExpiresIn is the life of a device code and its user code.
	DefaultExpiresIn = 600
	// DefaultInterval is the minimum time between two polls.
	DefaultInterval = 5
	// SlowDownStep is what a client adds to its interval on ErrorSlowDown
	// (RFC 8628 §3.5).
	SlowDownStep = 5
)

// Error codes of the token endpoint (RFC 8628 §3.5), the "error" member of
// ErrorResponse. The device-code endpoint uses ErrorInvalidRequest and
// ErrorSlowDown.
const (
	// ErrorAuthorizationPending: nobody has approved or denied yet; poll again.
	ErrorAuthorizationPending = "authorization_pending"
	// ErrorSlowDown: poll again, with the interval increased by SlowDownStep.
	ErrorSlowDown = "slow_down"
	// ErrorExpiredToken: the device code expired, was already used or is
	// unknown; the kiosk must start again with a new code.
	ErrorExpiredToken = "expired_token"
	// ErrorAccessDenied: an admin refused the pairing.
	ErrorAccessDenied = "access_denied"
	// ErrorInvalidRequest: the request is malformed or its proof fails.
	ErrorInvalidRequest = "invalid_request"
)

// Field limits the cloud enforces on a DeviceCodeRequest.
const (
	MaxNameLength       = 100
	MaxAppVersionLength = 64
)

// DeviceCodeRequest is the body of POST PathDeviceCode.
type DeviceCodeRequest struct {
	// PublicKey is the device's Ed25519 public key (EncodePublicKey).
	PublicKey string `json:"public_key"`
	// Name is the kiosk's suggested display name (host name, say).
	Name string `json:"name"`
	// AppVersion is the kiosk software version, for the Displays page.
	AppVersion string `json:"app_version,omitempty"`
}

// Validate checks the request and returns its parsed public key. It refuses
// a key ParsePublicKey refuses, an empty name, and fields that are too long
// or contain control characters.
func (r DeviceCodeRequest) Validate() (ed25519.PublicKey, error) {
	pub, err := ParsePublicKey(r.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("device code request: %w", err)
	}
	if strings.TrimSpace(r.Name) == "" {
		return nil, errors.New("device code request: name is empty")
	}
	if err := checkText("name", r.Name, MaxNameLength); err != nil {
		return nil, fmt.Errorf("device code request: %w", err)
	}
	if err := checkText("app_version", r.AppVersion, MaxAppVersionLength); err != nil {
		return nil, fmt.Errorf("device code request: %w", err)
	}
	return pub, nil
}

func checkText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s is %d characters, at most %d", field, n, max)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}

// DeviceCodeResponse is the answer to POST PathDeviceCode (RFC 8628 §3.2,
// plus ServerTime).
type DeviceCodeResponse struct {
	// DeviceCode is the kiosk's secret for polling; never shown or logged.
	DeviceCode string `json:"device_code"`
	// UserCode is shown on the kiosk, formatted "ABCD-EFGH".
	UserCode string `json:"user_code"`
	// VerificationURI is where an admin types the user code.
	VerificationURI string `json:"verification_uri"`
	// VerificationURIComplete carries the user code too; the kiosk shows it
	// as a QR code.
	VerificationURIComplete string `json:"verification_uri_complete"`
	// ExpiresIn is the codes' life in seconds (DefaultExpiresIn).
	ExpiresIn int `json:"expires_in"`
	// Interval is the minimum seconds between polls (DefaultInterval).
	Interval int `json:"interval"`
	// ServerTime is the server's clock in Unix seconds when it answered.
	// The kiosk stamps its proofs with it (see Proof), not its own clock.
	ServerTime int64 `json:"server_time,omitempty"`

	// ReceivedAt is the kiosk's local time when the response arrived, with
	// its monotonic reading; it is set by Client.RequestCode and not sent.
	// The code expires ExpiresIn seconds after it.
	ReceivedAt time.Time `json:"-"`
}

// Validate checks that a response has everything a kiosk needs: a device
// code of the right shape, a valid user code, a verification URI and
// positive timings.
func (r DeviceCodeResponse) Validate() error {
	switch {
	case !ValidDeviceCode(r.DeviceCode):
		return errors.New("device code response: malformed device_code")
	case r.VerificationURI == "" || r.VerificationURIComplete == "":
		return errors.New("device code response: missing verification_uri")
	case r.ExpiresIn <= 0 || r.Interval < 0:
		return errors.New("device code response: bad expires_in or interval")
	}
	if _, err := NormalizeUserCode(r.UserCode); err != nil {
		return fmt.Errorf("device code response: %w", err)
	}
	return nil
}

// TokenRequest is the body of POST PathToken: one poll.
type TokenRequest struct {
	// GrantType is GrantTypeDeviceCode or empty.
	GrantType string `json:"grant_type,omitempty"`
	// DeviceCode is the code from DeviceCodeResponse.
	DeviceCode string `json:"device_code"`
	// Proof is the device's signature over this poll (SignRequest).
	Proof Proof `json:"proof"`
}

// Validate checks the request's shape; the proof itself is checked by
// VerifyRequest against the key registered with the device code.
func (r TokenRequest) Validate() error {
	if r.GrantType != "" && r.GrantType != GrantTypeDeviceCode {
		return errors.New("token request: unsupported grant_type")
	}
	if !ValidDeviceCode(r.DeviceCode) {
		return errors.New("token request: malformed device_code")
	}
	if r.Proof.Nonce == "" || r.Proof.Signature == "" {
		return errors.New("token request: missing proof")
	}
	return nil
}

// TokenResponse is the answer to a successful poll: the binding the admin
// approved. It contains no secret: from now on the device proves itself by
// signing with its key (SignChallenge).
type TokenResponse struct {
	DeviceID     string `json:"device_id"`
	TenantID     string `json:"tenant_id"`
	TenantName   string `json:"tenant_name"`
	LocationID   string `json:"location_id"`
	LocationName string `json:"location_name"`
	DisplayName  string `json:"display_name"`
}

// ErrorResponse is the JSON error body of both pairing endpoints (RFC 6749
// §5.2 as used by RFC 8628), answered with status 400 (429 when the cloud
// rate-limits device-code requests).
type ErrorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	// ServerTime is the server's clock in Unix seconds; a polling kiosk
	// re-reads its estimate of server time from it.
	ServerTime int64 `json:"server_time,omitempty"`
}

// OAuthError is a pairing endpoint's error answer as a Go error.
type OAuthError struct {
	Status      int    // HTTP status
	Code        string // ErrorResponse.Error
	Description string // ErrorResponse.ErrorDescription
}

// Error describes the answer, e.g. "pairing: access_denied (HTTP 400)".
func (e *OAuthError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("pairing: %s (HTTP %d)", e.Code, e.Status)
	}
	return fmt.Sprintf("pairing: %s: %s (HTTP %d)", e.Code, e.Description, e.Status)
}
