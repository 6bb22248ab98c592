package screens_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/theonestack/visitor/kiosk-ui/screens"
)

type fakeStatus struct {
	st  screens.Status
	err error
}

func (f *fakeStatus) Status(context.Context) (screens.Status, error) { return f.st, f.err }

func TestWelcomeShowsStatus(t *testing.T) {
	test.NewTempApp(t)
	tests := []struct {
		name        string
		st          screens.Status
		err         error
		title, line string
		enabled     bool
	}{
		{"online", screens.Status{Paired: true, Online: true, LocationName: "HQ Lobby"}, nil, "Welcome to HQ Lobby", "Online", true},
		{"offline", screens.Status{Paired: true, LocationName: "HQ Lobby"}, nil, "Welcome to HQ Lobby", "Working offline", true},
		{"unpaired", screens.Status{}, nil, "not paired", "Displays page", false},
		{"revoked", screens.Status{Revoked: true}, nil, "out of service", "ask reception", false},
		{"engine error", screens.Status{}, errors.New("disk"), "Welcome", "cannot read its status", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taps := 0
			w := screens.NewWelcome(&fakeStatus{tt.st, tt.err}, func() { taps++ }, nil)
			win := test.NewTempWindow(t, w.Content())
			_ = win
			w.Refresh(context.Background())
			if !strings.Contains(w.Title.Text, tt.title) || !strings.Contains(w.Connection.Text, tt.line) {
				t.Errorf("title %q, line %q; want %q, %q", w.Title.Text, w.Connection.Text, tt.title, tt.line)
			}
			if w.CheckIn.Disabled() == tt.enabled {
				t.Errorf("check-in enabled = %v, want %v", !w.CheckIn.Disabled(), tt.enabled)
			}
			test.Tap(w.CheckIn)
			if (taps == 1) != tt.enabled {
				t.Errorf("tapping check-in ran the action %d times (enabled %v)", taps, tt.enabled)
			}
		})
	}
}
