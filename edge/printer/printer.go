package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"

	"github.com/theonestack/visitor/edge/badge"
)

// Printer prints badges. Implementations are safe for concurrent use.
type Printer interface {
	// Print sends job to the printer. A nil error means the printer took
	// the job (and, where the protocol says so, printed it); any other
	// result is an *Error.
	Print(ctx context.Context, job Job) error
	// Status asks the printer how it is. When the question cannot be
	// answered the error is an *Error and the Status still describes the
	// condition (offline, unknown), ready to show.
	Status(ctx context.Context) (Status, error)
}

// Job is one badge to print. ID identifies it for the print queue, in file
// names and in printer job titles; it must be 1–128 characters of letters,
// digits, '.', '_' and '-' and not start with '.'. Give the document in one
// or more forms; each driver takes the form it speaks and converts from
// Image or PNG when that form is missing (ZPL and raster printers reduce the
// image with badge.Threshold).
type Job struct {
	ID    string
	Size  badge.Size
	PNG   []byte
	PDF   []byte
	ZPL   []byte
	Image image.Image
}

// image returns the job's picture: Image, else PNG decoded.
func (j Job) image() (image.Image, error) {
	if j.Image != nil {
		return j.Image, nil
	}
	if len(j.PNG) == 0 {
		return nil, newError(KindRejected, "print", "job has neither an image nor a PNG", nil)
	}
	img, err := png.Decode(bytes.NewReader(j.PNG))
	if err != nil {
		return nil, newError(KindRejected, "print", "job PNG cannot be decoded", err)
	}
	return img, nil
}

// bitmap returns the job's picture in one bit per dot.
func (j Job) bitmap() (*badge.Bitmap, error) {
	img, err := j.image()
	if err != nil {
		return nil, err
	}
	if bm, ok := img.(*badge.Bitmap); ok {
		return bm, nil
	}
	return badge.Monochrome(img, badge.Threshold), nil
}

func validJobID(id string) bool {
	if id == "" || len(id) > 128 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// State is a printer's condition as the kiosk shows it and reports it to
// the cloud. Values are stable strings.
type State string

// Printer states.
const (
	StateReady      State = "ready"
	StateOffline    State = "offline"
	StateOutOfMedia State = "out_of_media"
	StateCoverOpen  State = "cover_open"
	StateError      State = "error"
	StateUnknown    State = "unknown"
)

// Status is a printer's answer to "how are you?". Detail is a short English
// phrase for staff ("paper out", "head open"); it never holds visitor data.
type Status struct {
	State  State  `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Ready reports whether the printer can take a job now.
func (s Status) Ready() bool { return s.State == StateReady }

// Kind classifies a printing failure. Values are stable strings, safe to
// store with a queued job and to report to the cloud.
type Kind string

// Failure kinds. Retryable reports the default for each.
const (
	KindOffline       Kind = "offline"       // cannot reach the printer or its spooler
	KindTimeout       Kind = "timeout"       // it stopped answering, or the context ended
	KindBusy          Kind = "busy"          // in use or buffers full; try again shortly
	KindOutOfMedia    Kind = "out_of_media"  // no labels, end of roll, ribbon out
	KindCoverOpen     Kind = "cover_open"    // cover or print head open
	KindJam           Kind = "jam"           // cutter jam or labels cannot be fed
	KindWrongMedia    Kind = "wrong_media"   // loaded labels do not match the job
	KindPaused        Kind = "paused"        // paused at the printer
	KindPrinterError  Kind = "printer_error" // other fault the printer reports
	KindProtocol      Kind = "protocol"      // an answer we could not understand
	KindRejected      Kind = "rejected"      // the job itself is unusable; resending will not help
	KindUnconfirmed   Kind = "unconfirmed"   // sent, but the printer never confirmed it printed
	KindMisconfigured Kind = "misconfigured" // the kiosk's printer settings are wrong
)

// Retryable reports whether a job that failed with k may print if sent again
// later without change (possibly after staff act, such as loading labels).
// Rejected and misconfigured jobs will not; an unconfirmed job might have
// printed, so resending it automatically could print a second badge.
func (k Kind) Retryable() bool {
	switch k {
	case KindRejected, KindUnconfirmed, KindMisconfigured:
		return false
	}
	return true
}

// NeedsStaff reports whether someone has to do something at the printer or
// in the settings before printing can succeed.
func (k Kind) NeedsStaff() bool {
	switch k {
	case KindOutOfMedia, KindCoverOpen, KindJam, KindWrongMedia, KindPaused, KindPrinterError, KindMisconfigured:
		return true
	}
	return false
}

// State returns the printer State a failure of kind k implies.
func (k Kind) State() State {
	switch k {
	case KindOffline, KindTimeout:
		return StateOffline
	case KindOutOfMedia:
		return StateOutOfMedia
	case KindCoverOpen:
		return StateCoverOpen
	case KindBusy:
		return StateReady
	case KindProtocol:
		return StateUnknown
	}
	return StateError
}

// Error is every failure a Printer returns. Detail is a short phrase for
// staff; Err, when set, is the underlying cause (for logs and errors.Is).
type Error struct {
	Kind      Kind
	Retryable bool
	Op        string // "print" or "status"
	Detail    string
	Err       error
}

func newError(kind Kind, op, detail string, err error) *Error {
	return &Error{Kind: kind, Retryable: kind.Retryable(), Op: op, Detail: detail, Err: err}
}

// Error formats as "printer OP: KIND: DETAIL: CAUSE".
func (e *Error) Error() string {
	msg := fmt.Sprintf("printer %s: %s", e.Op, e.Kind)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Status is the printer status this failure implies.
func (e *Error) Status() Status { return Status{State: e.Kind.State(), Detail: e.Detail} }

// KindOf returns the Kind of the first *Error in err's chain, "" for nil and
// KindPrinterError for any other error.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Kind
	}
	return KindPrinterError
}

// IsRetryable reports whether the print queue should try the job again
// later: the Retryable of the first *Error in err's chain; for other errors,
// true only for context.DeadlineExceeded.
func IsRetryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// ctxError turns a finished context into a retryable timeout.
func ctxError(op string, err error) *Error {
	return newError(KindTimeout, op, "gave up waiting", err)
}

// asError is errors.As for *Error, returning a bool.
func asError(err error, target **Error) bool { return errors.As(err, target) }
