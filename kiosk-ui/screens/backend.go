// Package screens holds the kiosk's Fyne screens and the App that moves
// between them. Screens talk to the kiosk engine only through the narrow
// interfaces declared here (Backend, Admin, Pairer), never through SQL or
// sockets, so every flow runs headless in tests with fyne.io/fyne/v2/test.
// The kiosk's main adapts *edge.Engine to them.
//
// Widgets are exported fields of each screen so tests can tap and type
// into them. Every UI change made from another goroutine (sync status,
// badge printing, timers) goes through App.Do, which is fyne.Do by default.
package screens

import (
	"context"
	"time"

	"github.com/theonestack/visitor/edge/edgeapi"
)

// Info is what the screens show about the kiosk and what the tenant's
// settings ask of a check-in.
type Info struct {
	LocationName string
	TenantName   string
	// RequiredFields are the check-in fields the tenant requires besides
	// the name: "email", "company", "phone", "host".
	RequiredFields []string
	NDA            NDA
	// Logo is the tenant's logo (PNG or JPEG bytes) for the welcome
	// screen; empty for none.
	Logo []byte
}

// NDA is the tenant's non-disclosure agreement; visitors sign it on the
// kiosk before checking in when Enabled. The signature and Version go on
// the check-in itself (edgeapi.CheckInRequest.NDA), so a visitor who
// cancels at the NDA is never checked in.
type NDA struct {
	Enabled bool
	Text    string
	Version string
}

// BadgeState is what the confirmation screen says about a visitor's badge.
type BadgeState int

// Badge states.
const (
	BadgeUnknown   BadgeState = iota // not known yet
	BadgePrinting                    // queued or printing: "Badge printing…"
	BadgePrinted                     // "Printed"
	BadgeAskStaff                    // failed, retrying or never queued: "Please ask reception for a badge"
	BadgeNoPrinter                   // printing is off on this kiosk
)

// PrinterStatus is the printer's state for the discreet status line and
// the admin screen. Ready is false for any problem; Detail says which.
type PrinterStatus struct {
	Ready   bool
	State   string // ready, offline, out_of_media, cover_open, error, unknown
	Detail  string
	Printer string // e.g. "brother 192.168.1.50:9100"
	Waiting int    // badges not printed yet
}

// Backend is what the visitor-facing screens call. Every method answers
// from the kiosk's local database and never waits for the network. A
// signed NDA is part of the CheckIn request.
type Backend interface {
	edgeapi.Service
	// Info reports the location and the tenant's check-in settings.
	Info(ctx context.Context) (Info, error)
	// Badge reports the state of a visit's badge.
	Badge(ctx context.Context, visitID string) (BadgeState, error)
	// Printer reports the printer's last known state without blocking.
	Printer() PrinterStatus
}

// PrinterSettings is the admin's printer choice: Kind is dir, cups,
// brother or zebra; Target the folder, queue name or host:port; Size the
// label stock (brother_62x100 or label_4x3in).
type PrinterSettings struct {
	Kind   string
	Target string
	Size   string
}

// Admin is what the admin screen calls, behind the PIN.
type Admin interface {
	// CheckPIN reports whether pin opens the admin screen (constant time).
	CheckPIN(pin string) bool
	PrinterSettings() PrinterSettings
	SetPrinterSettings(ctx context.Context, s PrinterSettings) error
	// TestPrint queues a sample badge.
	TestPrint(ctx context.Context) error
	// Unpair unbinds the kiosk; it refuses while check-ins are unsynced.
	Unpair(ctx context.Context) error
}

// PairingCode is what the pairing screen shows: UserCode in large type
// and URI (verification_uri_complete) as the QR code QRPNG.
type PairingCode struct {
	UserCode  string
	URI       string
	QRPNG     []byte
	ExpiresAt time.Time
}

// Pairer pairs an unpaired kiosk.
type Pairer interface {
	// Start returns the live pairing code (a new one when the last
	// expired) and waits for approval in the background.
	Start(ctx context.Context) (PairingCode, error)
	// Paired reports whether an admin has approved the kiosk.
	Paired(ctx context.Context) (bool, error)
}
