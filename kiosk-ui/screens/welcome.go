// Package screens holds the kiosk's Fyne screens. Screens talk to the
// kiosk engine only through the narrow interfaces declared here, never
// through SQL or sockets, so they run headless in tests with
// fyne.io/fyne/v2/test.
package screens

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Status is what the welcome screen shows about the kiosk.
type Status struct {
	Paired       bool
	Revoked      bool
	Online       bool
	LocationName string
	PendingOps   int64
}

// StatusSource reports the kiosk's status. The edge engine implements it
// through a small adapter in the kiosk's main.
type StatusSource interface {
	Status(ctx context.Context) (Status, error)
}

// Welcome is the screen a visitor first sees: the location's name, the
// main actions, and a discreet line saying whether the kiosk is online.
type Welcome struct {
	source StatusSource

	Title      *widget.Label
	Connection *widget.Label
	CheckIn    *widget.Button
	CheckOut   *widget.Button
	content    fyne.CanvasObject
}

// NewWelcome builds the welcome screen. onCheckIn and onCheckOut run when
// the buttons are tapped; they may be nil until those flows exist.
func NewWelcome(source StatusSource, onCheckIn, onCheckOut func()) *Welcome {
	w := &Welcome{source: source}
	w.Title = widget.NewLabelWithStyle("Welcome", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	w.Title.SizeName = theme.SizeNameHeadingText
	w.Connection = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	w.CheckIn = widget.NewButtonWithIcon("Check in", theme.LoginIcon(), orNoop(onCheckIn))
	w.CheckIn.Importance = widget.HighImportance
	w.CheckOut = widget.NewButtonWithIcon("Check out", theme.LogoutIcon(), orNoop(onCheckOut))
	buttons := container.NewGridWithColumns(2, w.CheckIn, w.CheckOut)
	w.content = container.NewBorder(nil, w.Connection, nil, nil,
		container.NewVBox(layout.NewSpacer(), w.Title, layout.NewSpacer(), buttons, layout.NewSpacer()))
	return w
}

func orNoop(f func()) func() {
	if f == nil {
		return func() {}
	}
	return f
}

// Content is the screen's root object.
func (w *Welcome) Content() fyne.CanvasObject { return w.content }

// Refresh reads the status and updates the screen. It must run on the UI
// goroutine (wrap in fyne.Do when called from elsewhere).
func (w *Welcome) Refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := w.source.Status(ctx)
	switch {
	case err != nil:
		w.Title.SetText("Welcome")
		w.Connection.SetText("This kiosk cannot read its status. Please ask reception.")
		w.setActions(false)
	case st.Revoked:
		w.Title.SetText("This kiosk is out of service")
		w.Connection.SetText("Please ask reception.")
		w.setActions(false)
	case !st.Paired:
		w.Title.SetText("This kiosk is not paired yet")
		w.Connection.SetText("An administrator pairs it from the console's Displays page.")
		w.setActions(false)
	default:
		w.Title.SetText(fmt.Sprintf("Welcome to %s", st.LocationName))
		if st.Online {
			w.Connection.SetText("Online")
		} else {
			w.Connection.SetText("Working offline — check-ins are saved and sent when the network returns.")
		}
		w.setActions(true)
	}
}

func (w *Welcome) setActions(enabled bool) {
	for _, b := range []*widget.Button{w.CheckIn, w.CheckOut} {
		if enabled {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}
