package syncproto

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestCodesAreAppendOnly pins every code's number, name and retryability.
// Changing a line here breaks deployed kiosks: only append.
func TestCodesAreAppendOnly(t *testing.T) {
	want := []struct {
		code      Code
		name      string
		retryable bool
	}{
		{1, "bad_frame", true},
		{2, "unknown_frame", true},
		{3, "unsupported_version", false},
		{4, "unauthorized", false},
		{5, "revoked", false},
		{6, "not_paired", false},
		{7, "internal", true},
		{8, "overloaded", true},
		{9, "seq_gap", true},
		{10, "too_large", false},
		{11, "protocol_violation", true},
		{12, "timeout", true},
		{13, "replaced", true},
	}
	for _, w := range want {
		if got := w.code.String(); got != w.name {
			t.Errorf("code %d name = %q, want %q", w.code, got, w.name)
		}
		if got := Retryable(w.code); got != w.retryable {
			t.Errorf("Retryable(%s) = %v, want %v", w.name, got, w.retryable)
		}
		if c, ok := CodeByName(w.name); !ok || c != w.code {
			t.Errorf("CodeByName(%q) = %d, %v", w.name, c, ok)
		}
	}
	if n := len(codeInfo) - 1; n != len(want) {
		t.Errorf("%d codes defined, %d pinned: pin the new ones here", n, len(want))
	}
	if Retryable(0) != true || Retryable(1000) != true {
		t.Error("unknown codes must be retryable")
	}
	if Code(0).Known() || Code(14).Known() {
		t.Error("Known() true for an undefined code")
	}
}

func TestErrorFrameRoundTrip(t *testing.T) {
	e := &Error{Code: CodeOverloaded, Retryable: true, RetryAfter: 1500 * time.Millisecond, Message: "busy"}
	got := e.Frame().Err()
	if *got != *e {
		t.Errorf("got %+v, want %+v", got, e)
	}
	if f := e.Frame(); f.Name != "overloaded" || f.RetryAfterMs != 1500 {
		t.Errorf("frame %+v", f)
	}
	wrapped := fmt.Errorf("connect: %w", e)
	if CodeOf(wrapped) != CodeOverloaded || !errors.Is(wrapped, &Error{Code: CodeOverloaded}) {
		t.Error("wrapped *Error not found")
	}
	if errors.Is(wrapped, &Error{Code: CodeRevoked}) || CodeOf(errors.New("x")) != 0 {
		t.Error("wrong code matched")
	}
}
