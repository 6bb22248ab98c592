package badge

import (
	"image"
	"strings"
	"time"

	visitor "github.com/theonestack/visitor"
)

// Data is what one badge shows. Only VisitorName is required; empty fields are
// left off the badge even when the template lists them.
type Data struct {
	VisitorName  string
	Company      string
	HostName     string
	LocationName string
	// Date is the check-in time; it is shown in Location (UTC when nil), the
	// time zone of the lobby, not of the kiosk's clock setting.
	Date     time.Time
	Location *time.Location
	// BadgeNumber is the physical badge's number, or the visit's short number.
	BadgeNumber string
	VisitorType string
	// CheckoutCode is the text the QR code encodes; build it with
	// CheckoutQRPayload. Required when the template shows the QR code.
	CheckoutCode string
	TenantName   string
	// Logo is drawn in the header when the template shows it; nil for none.
	Logo image.Image
}

// CheckoutPrefix starts every check-out QR payload; the digit is the payload
// version, so a later format can be told apart by a kiosk that reads both.
const CheckoutPrefix = "VB1:"

// maxCheckoutPart bounds each part of a check-out payload so the QR stays
// small enough to print with large modules.
const maxCheckoutPart = 64

// CheckoutRef is what a check-out QR code identifies: a visit, a badge
// number, or both. The kiosk's check-out screen looks the visit up by VisitID
// when it is set (it is unique for ever) and falls back to the badge number
// of a visitor now on site (badges are reused).
type CheckoutRef struct {
	VisitID     string
	BadgeNumber string
}

// CheckoutQRPayload returns the text a badge's QR code encodes:
//
//	VB1:<visit id>:<badge number>
//
// Either part may be empty, not both. Each part is at most 64 printable ASCII
// characters without spaces or colons (visit ids are UUIDs; badge numbers are
// short codes such as "A-017"). ParseCheckoutQRPayload reads it back.
func CheckoutQRPayload(visitID, badgeNumber string) (string, error) {
	if visitID == "" && badgeNumber == "" {
		return "", visitor.Errorf(visitor.EINVALID, "check-out code needs a visit id or a badge number")
	}
	if err := checkCheckoutPart("visit id", visitID); err != nil {
		return "", err
	}
	if err := checkCheckoutPart("badge number", badgeNumber); err != nil {
		return "", err
	}
	return CheckoutPrefix + visitID + ":" + badgeNumber, nil
}

// ParseCheckoutQRPayload reads a payload made by CheckoutQRPayload, as a
// camera or a keyboard-emulating hand scanner delivers it: surrounding white
// space (the scanner's Enter) is ignored and the prefix is matched without
// regard to case. Anything else is an EINVALID *visitor.Error.
func ParseCheckoutQRPayload(s string) (CheckoutRef, error) {
	s = strings.TrimSpace(s)
	if len(s) < len(CheckoutPrefix) || !strings.EqualFold(s[:len(CheckoutPrefix)], CheckoutPrefix) {
		return CheckoutRef{}, visitor.Errorf(visitor.EINVALID, "not a visitor badge code")
	}
	visitID, badgeNumber, ok := strings.Cut(s[len(CheckoutPrefix):], ":")
	if !ok {
		return CheckoutRef{}, visitor.Errorf(visitor.EINVALID, "badge code is incomplete")
	}
	if visitID == "" && badgeNumber == "" {
		return CheckoutRef{}, visitor.Errorf(visitor.EINVALID, "badge code names no visit")
	}
	if err := checkCheckoutPart("visit id", visitID); err != nil {
		return CheckoutRef{}, err
	}
	if err := checkCheckoutPart("badge number", badgeNumber); err != nil {
		return CheckoutRef{}, err
	}
	return CheckoutRef{VisitID: visitID, BadgeNumber: badgeNumber}, nil
}

func checkCheckoutPart(what, s string) error {
	if len(s) > maxCheckoutPart {
		return visitor.Errorf(visitor.EINVALID, "%s in a badge code is longer than %d characters", what, maxCheckoutPart)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == ':' {
			return visitor.Errorf(visitor.EINVALID, "%s in a badge code has a character that is not allowed (position %d)", what, i+1)
		}
	}
	return nil
}
