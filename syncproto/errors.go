package syncproto

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Code is a numbered wire error code. The set is closed and append-only: a
// code is never renumbered, renamed or reused, and new codes are added only
// at the end (after the last one below). See SPEC.md §11.
type Code int

// Wire error codes of protocol version 1. Retryable says whether a client
// should reconnect (with backoff) after receiving the code; the codes that
// are not retryable stop a kiosk from syncing until a person acts (upgrade,
// re-pair).
const (
	CodeBadFrame           Code = 1  // malformed, invalid or truncated frame; retryable
	CodeUnknownFrame       Code = 2  // frame type not known to the receiver; retryable
	CodeUnsupportedVersion Code = 3  // no protocol version in common; not retryable
	CodeUnauthorized       Code = 4  // unknown device or bad proof; not retryable
	CodeRevoked            Code = 5  // device revoked by an admin; not retryable
	CodeNotPaired          Code = 6  // device unpaired (or never paired); not retryable
	CodeInternal           Code = 7  // the peer failed; retryable
	CodeOverloaded         Code = 8  // the peer sheds load; retryable, honour retry_after_ms
	CodeSeqGap             Code = 9  // the sequence could not be repaired in-band; retryable
	CodeTooLarge           Code = 10 // frame above the size limit; not retryable
	CodeProtocolViolation  Code = 11 // a valid frame at the wrong time or over the window; retryable
	CodeTimeout            Code = 12 // handshake or idle timeout; retryable
	CodeReplaced           Code = 13 // a newer connection of the same device replaced this one; retryable
)

// codeInfo is the immutable table of known codes.
var codeInfo = [...]struct {
	name      string
	retryable bool
}{
	CodeBadFrame:           {"bad_frame", true},
	CodeUnknownFrame:       {"unknown_frame", true},
	CodeUnsupportedVersion: {"unsupported_version", false},
	CodeUnauthorized:       {"unauthorized", false},
	CodeRevoked:            {"revoked", false},
	CodeNotPaired:          {"not_paired", false},
	CodeInternal:           {"internal", true},
	CodeOverloaded:         {"overloaded", true},
	CodeSeqGap:             {"seq_gap", true},
	CodeTooLarge:           {"too_large", false},
	CodeProtocolViolation:  {"protocol_violation", true},
	CodeTimeout:            {"timeout", true},
	CodeReplaced:           {"replaced", true},
}

// Known reports whether c is a code defined by this version of the package.
func (c Code) Known() bool {
	return c > 0 && int(c) < len(codeInfo) && codeInfo[c].name != ""
}

// String returns the code's wire name (e.g. "bad_frame"), or "code_N" for a
// code this package does not know (one appended by a newer peer).
func (c Code) String() string {
	if c.Known() {
		return codeInfo[c].name
	}
	return "code_" + strconv.Itoa(int(c))
}

// Retryable reports whether a client should reconnect with backoff after
// code. Codes unknown to this package are retryable: a newer server may add
// codes, and only the known terminal codes may stop a kiosk for good. When an
// error frame is at hand, its own retryable field is authoritative.
func Retryable(c Code) bool {
	if c.Known() {
		return codeInfo[c].retryable
	}
	return true
}

// CodeByName returns the code whose wire name is name.
func CodeByName(name string) (Code, bool) {
	for i, ci := range codeInfo {
		if ci.name != "" && ci.name == name {
			return Code(i), true
		}
	}
	return 0, false
}

// Error is a protocol error: one received in an error frame, one to be sent
// in an error frame, or one raised locally (bad frame, timeout). Use
// errors.As to find it in a chain.
type Error struct {
	Code       Code
	Retryable  bool          // whether reconnecting may succeed; defaults to Retryable(Code) via NewError
	RetryAfter time.Duration // minimum wait before reconnecting, 0 if none
	Message    string        // human-readable; never carries secrets or visitor data
}

// NewError returns an *Error with code c, a formatted message and
// Retryable(c) as its retryability.
func NewError(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Retryable: Retryable(c), Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "syncproto: " + e.Code.String()
	}
	return "syncproto: " + e.Code.String() + ": " + e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &Error{Code: CodeTimeout}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Frame returns the error frame that carries e.
func (e *Error) Frame() *ErrorFrame {
	return &ErrorFrame{
		Code:         e.Code,
		Name:         e.Code.String(),
		Retryable:    e.Retryable,
		RetryAfterMs: e.RetryAfter.Milliseconds(),
		Message:      e.Message,
	}
}

// Err returns the *Error carried by the error frame f.
func (f *ErrorFrame) Err() *Error {
	return &Error{
		Code:       f.Code,
		Retryable:  f.Retryable,
		RetryAfter: time.Duration(f.RetryAfterMs) * time.Millisecond,
		Message:    f.Message,
	}
}

// ByeError is the cause recorded when the peer ended the connection with a
// bye frame.
type ByeError struct {
	Reason  string
	Message string
}

func (e *ByeError) Error() string { return "syncproto: peer said bye: " + e.Reason }

// ErrClosed is the cause recorded when a Conn was closed locally by Close.
var ErrClosed = errors.New("syncproto: connection closed")

// CodeOf returns the code of the first *Error in err's chain, or 0.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
