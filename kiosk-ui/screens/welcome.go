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

// Welcome is the screen a visitor first sees: the location's name, the
// main actions, and a discreet line about the network and the printer.
type Welcome struct {
	a *App

	Title      *widget.Label
	Connection *widget.Label // "Online" / "Working offline — …"
	PrinterMsg *widget.Label // empty while the printer is fine
	CheckIn    *widget.Button
	CheckOut   *widget.Button
	Invite     *widget.Button
	AdminBtn   *widget.Button // small, for staff
	content    fyne.CanvasObject
}

func newWelcome(a *App) *Welcome {
	w := &Welcome{a: a}
	w.Title = widget.NewLabelWithStyle("Welcome", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	w.Title.SizeName = theme.SizeNameHeadingText
	w.Title.Wrapping = fyne.TextWrapWord
	w.Connection = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	w.Connection.SizeName = theme.SizeNameCaptionText
	w.PrinterMsg = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	w.PrinterMsg.SizeName = theme.SizeNameCaptionText
	w.CheckIn = widget.NewButtonWithIcon("Check in", theme.LoginIcon(), func() {
		a.loadInfo(context.Background())
		a.CheckIn.prepare(a.info)
		a.show(ScreenCheckIn, a.CheckIn.content)
	})
	w.CheckIn.Importance = widget.HighImportance
	w.CheckOut = widget.NewButtonWithIcon("Check out", theme.LogoutIcon(), func() {
		a.show(ScreenCheckOut, a.CheckOut.content)
	})
	w.Invite = widget.NewButton("I have an invite", func() {
		a.loadInfo(context.Background())
		a.show(ScreenInvite, a.Invite.content)
	})
	w.AdminBtn = widget.NewButtonWithIcon("", theme.SettingsIcon(), func() {
		if a.opts.Admin != nil {
			a.show(ScreenPIN, a.PIN.content)
		}
	})
	w.AdminBtn.Importance = widget.LowImportance
	buttons := container.NewGridWithColumns(2, w.CheckIn, w.CheckOut)
	status := container.NewVBox(w.Connection, w.PrinterMsg)
	w.content = container.NewBorder(nil, container.NewBorder(nil, nil, nil, w.AdminBtn, status), nil, nil,
		container.NewPadded(container.NewVBox(layout.NewSpacer(), w.Title, layout.NewSpacer(), buttons, w.Invite, layout.NewSpacer())))
	return w
}

// Content is the screen's root object.
func (w *Welcome) Content() fyne.CanvasObject { return w.content }

// Refresh reads the kiosk's status and printer and updates the screen.
func (w *Welcome) Refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := w.a.b.Status(ctx)
	info, ierr := w.a.b.Info(ctx)
	if ierr != nil {
		info = Info{}
	}
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
		if info.LocationName != "" {
			w.Title.SetText(fmt.Sprintf("Welcome to %s", info.LocationName))
		} else {
			w.Title.SetText("Welcome")
		}
		if st.Online {
			w.Connection.SetText("Online")
		} else {
			w.Connection.SetText("Working offline — check-ins are saved and sent when the network returns.")
		}
		w.setActions(true)
	}
	p := w.a.b.Printer()
	switch {
	case p.State == "" || p.Ready || p.State == "unknown":
		w.PrinterMsg.SetText("")
	default:
		w.PrinterMsg.SetText("Badge printer: " + humanState(p.State) + " — reception can give you a badge.")
	}
}

func humanState(s string) string {
	switch s {
	case "offline":
		return "not reachable"
	case "out_of_media":
		return "out of labels"
	case "cover_open":
		return "cover open"
	case "ready":
		return "ready"
	}
	return "needs attention"
}

func (w *Welcome) setActions(enabled bool) {
	for _, b := range []*widget.Button{w.CheckIn, w.CheckOut, w.Invite} {
		if enabled {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}
