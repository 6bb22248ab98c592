package screens

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // tenant logos are PNG or JPEG
	_ "image/png"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// LogoMaxHeight is the height, in Fyne units, of the box the tenant's logo
// is scaled to fit on the welcome screen (its width is the screen's).
const LogoMaxHeight = 160

// Welcome is the screen a visitor first sees: the tenant's logo, the
// location's name, the main actions, and a discreet line about the network
// and the printer.
type Welcome struct {
	a *App

	// Logo shows the tenant's logo scaled to fit; hidden when the tenant
	// has none or its bytes do not decode.
	Logo       *canvas.Image
	Title      *widget.Label
	Connection *widget.Label // "Online" / "Working offline — …"
	PrinterMsg *widget.Label // empty while the printer is fine
	CheckIn    *widget.Button
	CheckOut   *widget.Button
	Invite     *widget.Button
	AdminBtn   *widget.Button // small, for staff
	content    fyne.CanvasObject

	logoBytes []byte // the logo shown, to decode only when it changes
}

func newWelcome(a *App) *Welcome {
	w := &Welcome{a: a}
	w.Logo = canvas.NewImageFromImage(nil)
	w.Logo.FillMode = canvas.ImageFillContain
	w.Logo.ScaleMode = canvas.ImageScaleSmooth
	w.Logo.SetMinSize(fyne.NewSize(1, LogoMaxHeight))
	w.Logo.Hide()
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
		container.NewPadded(container.NewVBox(layout.NewSpacer(), w.Logo, w.Title, layout.NewSpacer(), buttons, w.Invite, layout.NewSpacer())))
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
	} else { // a failed read keeps the logo shown
		w.setLogo(info.Logo)
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

// setLogo shows logo (PNG or JPEG bytes) above the title, or nothing when
// it is empty or does not decode. It decodes only when the bytes change,
// since the status refresh calls it every few seconds.
func (w *Welcome) setLogo(logo []byte) {
	if bytes.Equal(logo, w.logoBytes) {
		return
	}
	w.logoBytes = bytes.Clone(logo)
	var img image.Image
	if len(logo) > 0 {
		var err error
		if img, _, err = image.Decode(bytes.NewReader(logo)); err != nil {
			w.a.log.Warn("tenant logo does not decode; showing none", "err", err)
			img = nil
		}
	}
	w.Logo.Image = img
	if img == nil {
		w.Logo.Hide()
	} else {
		w.Logo.Show()
	}
	w.Logo.Refresh()
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
