package syncproto

import "encoding/json"

// Op payloads. Each op kind has one payload type; the edge marshals it
// into Op.Payload and the cloud unmarshals it. Times inside payloads are
// not sent: an op's time is the op's own (TimeMs/BootID/MonoMs), corrected
// by the cloud with CorrectTime. Fields are only ever added.
//
// Down-feed Change.Data is the JSON of the corresponding domain type of
// the root package (visitor.Host, visitor.Preregistration, visitor.Badge,
// visitor.Location, visitor.TenantSettings, visitor.Device).

// PersonPayload is a visitor's own details.
type PersonPayload struct {
	Name    string `json:"name"`
	Email   string `json:"email,omitempty"`
	Company string `json:"company,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// CheckInPayload is the payload of KindVisitCheckIn: a visit that started
// at the kiosk. VisitID is a UUIDv7 made by the kiosk and becomes the
// cloud's visit id.
type CheckInPayload struct {
	VisitID           string        `json:"visit_id"`
	LocationID        string        `json:"location_id"`
	HostID            string        `json:"host_id,omitempty"`
	Visitor           PersonPayload `json:"visitor"`
	VisitorType       string        `json:"visitor_type,omitempty"`
	BadgeNumber       string        `json:"badge_number,omitempty"`
	PreregistrationID string        `json:"preregistration_id,omitempty"`
	InviteCode        string        `json:"invite_code,omitempty"`
	NDAVersion        string        `json:"nda_version,omitempty"`
	NDASigned         bool          `json:"nda_signed,omitempty"`
}

// CheckOutPayload is the payload of KindVisitCheckOut.
type CheckOutPayload struct {
	VisitID string `json:"visit_id"`
}

// BadgePayload is the payload of KindBadgeAssign and KindBadgeReturn.
type BadgePayload struct {
	BadgeID string `json:"badge_id"`
	Number  string `json:"number"`
	VisitID string `json:"visit_id,omitempty"`
}

// AuditPayload is the payload of KindAudit: a kiosk event for the
// tenant's audit trail (admin PIN used, printer test, unpair started…).
type AuditPayload struct {
	Action  string          `json:"action"`
	Subject string          `json:"subject,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
}

// PrintStatusPayload is the payload of KindPrintStatus: the outcome of a
// badge print job, so the console shows printer failures.
type PrintStatusPayload struct {
	JobID   string `json:"job_id"`
	VisitID string `json:"visit_id,omitempty"`
	State   string `json:"state"` // printed, failed, retrying
	Printer string `json:"printer,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// EntityVisit is a visit of the kiosk's location as the cloud knows it
// (Change.Data is a VisitState): staff check-ins and check-outs reach the
// lobby's on-site list, and a visit checked out anywhere is checked out
// at every kiosk of the location. A kiosk never reopens a visit it holds
// as checked out. Snapshots carry the location's recent visits as
// upserts; they never replace the kiosk's visits wholesale, because the
// kiosk's own unsent visits live there too.
const EntityVisit = "visit"

// VisitState is the down-feed form of a visit.
type VisitState struct {
	ID           string        `json:"id"`
	LocationID   string        `json:"location_id"`
	HostID       string        `json:"host_id,omitempty"`
	Visitor      PersonPayload `json:"visitor"`
	VisitorType  string        `json:"visitor_type,omitempty"`
	Status       string        `json:"status"` // checked_in or checked_out
	BadgeNumber  string        `json:"badge_number,omitempty"`
	CheckedInMs  int64         `json:"checked_in_ms"`            // Unix ms, cloud clock
	CheckedOutMs int64         `json:"checked_out_ms,omitempty"` // Unix ms, cloud clock
}
