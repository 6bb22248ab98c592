package edgeapi

import (
	"context"
	"time"
)

// Error codes of pairing, besides the visitor vocabulary.
const (
	// CodeAlreadyPaired: the kiosk is paired; unpair it from the console first.
	CodeAlreadyPaired = "already_paired"
	// CodeCloudUnreachable: the cloud could not be asked for a code; retry.
	CodeCloudUnreachable = "cloud_unreachable"
)

// PairingCode is what the pairing screen shows: the user code in large
// type and verification_uri_complete as a QR code (QRPNG, a PNG, base64 in
// JSON). ExpiresAt is on the cloud's clock, not the kiosk's.
type PairingCode struct {
	UserCode                string    `json:"user_code"`
	VerificationURIComplete string    `json:"verification_uri_complete"`
	ExpiresAt               time.Time `json:"expires_at"`
	QRPNG                   []byte    `json:"qr_png"`
}

// Pairer starts pairing an unpaired kiosk. *edge.Engine implements it.
type Pairer interface {
	// StartPairing returns the live pairing code, asking the cloud for a
	// new one (with a new device key) when there is none, and polls for
	// the admin's approval in the background; on approval the kiosk is
	// paired and starts syncing. A paired kiosk answers CodeAlreadyPaired.
	StartPairing(ctx context.Context) (PairingCode, error)
}
