package screens

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// PINScreen asks staff for the admin PIN on a digit pad.
type PINScreen struct {
	a *App

	PIN     *widget.Entry
	Digits  map[string]*widget.Button
	Enter   *widget.Button
	Cancel  *widget.Button
	Message *widget.Label
	content fyne.CanvasObject
	fails   int
}

func newPINScreen(a *App) *PINScreen {
	p := &PINScreen{a: a, Digits: map[string]*widget.Button{}}
	p.PIN = widget.NewPasswordEntry()
	p.PIN.Disable() // typed on the pad only
	p.Message = widget.NewLabel("")
	var keys []fyne.CanvasObject
	for _, d := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "", "0", "⌫"} {
		if d == "" {
			keys = append(keys, widget.NewLabel(""))
			continue
		}
		b := widget.NewButton(d, func() {
			a.Touch()
			t := p.PIN.Text
			if d == "⌫" {
				if len(t) > 0 {
					p.PIN.SetText(t[:len(t)-1])
				}
				return
			}
			if len(t) < 12 {
				p.PIN.SetText(t + d)
			}
		})
		p.Digits[d] = b
		keys = append(keys, b)
	}
	p.Enter = widget.NewButton("Enter", func() { p.check(context.Background()) })
	p.Enter.Importance = widget.HighImportance
	p.Cancel = widget.NewButton("Cancel", func() { a.Home(context.Background()) })
	title := widget.NewLabelWithStyle("Staff PIN", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	p.content = container.NewCenter(container.NewVBox(title, p.PIN, container.NewGridWithColumns(3, keys...),
		container.NewGridWithColumns(2, p.Cancel, p.Enter), p.Message))
	return p
}

func (p *PINScreen) check(ctx context.Context) {
	p.a.Touch()
	pin := p.PIN.Text
	p.PIN.SetText("")
	if p.a.opts.Admin == nil || !p.a.opts.Admin.CheckPIN(pin) {
		p.fails++
		p.Message.SetText("Wrong PIN.")
		if p.fails >= 5 {
			p.a.Home(ctx) // back off: start again from the welcome screen
		}
		return
	}
	p.fails = 0
	p.a.Admin.open(ctx)
	p.a.show(ScreenAdmin, p.a.Admin.content)
}

func (p *PINScreen) reset() {
	p.PIN.SetText("")
	p.Message.SetText("")
}

// AdminScreen lets staff choose the printer, print a test badge, see the
// sync backlog and unpair the kiosk.
type AdminScreen struct {
	a *App

	Kind        *widget.Select
	Target      *Field
	Size        *widget.Select
	Save        *widget.Button
	TestPrint   *widget.Button
	PrinterInfo *widget.Label
	SyncInfo    *widget.Label
	Unpair      *widget.Button
	Close       *widget.Button
	Message     *widget.Label
	content     fyne.CanvasObject
	confirmed   bool // Unpair asks twice
}

func newAdminScreen(a *App) *AdminScreen {
	s := &AdminScreen{a: a}
	s.Kind = widget.NewSelect([]string{"dir", "cups", "brother", "zebra"}, func(string) { a.Touch() })
	s.Target = NewField("Folder, CUPS queue, or printer address host:9100", a.Keyboard.SetTarget)
	s.Size = widget.NewSelect([]string{"brother_62x100", "label_4x3in"}, func(string) { a.Touch() })
	s.Message = widget.NewLabel("")
	s.Message.Wrapping = fyne.TextWrapWord
	s.PrinterInfo = widget.NewLabel("")
	s.SyncInfo = widget.NewLabel("")
	s.Save = widget.NewButton("Save printer", func() { s.save(context.Background()) })
	s.TestPrint = widget.NewButton("Print a test badge", func() { s.testPrint(context.Background()) })
	s.Unpair = widget.NewButton("Unpair this kiosk", func() { s.unpair(context.Background()) })
	s.Unpair.Importance = widget.DangerImportance
	s.Close = widget.NewButton("Close", func() { a.Home(context.Background()) })
	title := widget.NewLabelWithStyle("Kiosk settings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	form := container.NewVBox(title,
		widget.NewLabel("Printer"), s.Kind, s.Target, s.Size, container.NewGridWithColumns(2, s.Save, s.TestPrint), s.PrinterInfo,
		widget.NewLabel("Sync"), s.SyncInfo, s.Unpair, s.Message, s.Close)
	s.content = container.NewBorder(nil, a.Keyboard.Content(), nil, nil, container.NewVScroll(form))
	return s
}

func (s *AdminScreen) open(ctx context.Context) {
	ps := s.a.opts.Admin.PrinterSettings()
	s.Kind.SetSelected(ps.Kind)
	s.Target.SetText(ps.Target)
	s.Size.SetSelected(ps.Size)
	s.Message.SetText("")
	s.confirmed = false
	s.refresh(ctx)
}

func (s *AdminScreen) refresh(ctx context.Context) {
	p := s.a.b.Printer()
	line := fmt.Sprintf("%s — %s", p.Printer, humanState(p.State))
	if p.Detail != "" {
		line += " (" + p.Detail + ")"
	}
	if p.Waiting > 0 {
		line += fmt.Sprintf("; %d badge(s) waiting", p.Waiting)
	}
	s.PrinterInfo.SetText(line)
	st, err := s.a.b.Status(ctx)
	if err != nil {
		s.SyncInfo.SetText("Status not available.")
		return
	}
	conn := "offline"
	if st.Online {
		conn = "online"
	}
	last := "never"
	if st.LastSyncAt != nil {
		last = st.LastSyncAt.Local().Format(time.DateTime)
	}
	s.SyncInfo.SetText(fmt.Sprintf("%s; %d change(s) waiting to sync; %d refused by the cloud; last sync %s; device %s",
		conn, st.PendingOps, st.RejectedOps, last, st.DeviceID))
}

func (s *AdminScreen) save(ctx context.Context) {
	s.a.Touch()
	err := s.a.opts.Admin.SetPrinterSettings(ctx, PrinterSettings{Kind: s.Kind.Selected, Target: s.Target.Text, Size: s.Size.Selected})
	if err != nil {
		s.Message.SetText(sentence(userMessage(err, "The printer settings could not be saved.")))
		return
	}
	s.Message.SetText("Printer saved.")
	s.open(ctx)
	s.Message.SetText("Printer saved.")
}

func (s *AdminScreen) testPrint(ctx context.Context) {
	s.a.Touch()
	if err := s.a.opts.Admin.TestPrint(ctx); err != nil {
		s.Message.SetText(sentence(userMessage(err, "The test badge could not be queued.")))
		return
	}
	s.Message.SetText("Test badge sent to the printer.")
}

func (s *AdminScreen) unpair(ctx context.Context) {
	s.a.Touch()
	if !s.confirmed {
		s.confirmed = true
		s.Message.SetText("Tap Unpair again to unpair this kiosk. Its local data is erased.")
		return
	}
	s.confirmed = false
	if err := s.a.opts.Admin.Unpair(ctx); err != nil {
		s.Message.SetText(sentence(userMessage(err, "The kiosk could not be unpaired.")))
		return
	}
	s.a.Home(ctx)
}

func (s *AdminScreen) reset() {
	s.Target.SetText("")
	s.Message.SetText("")
	s.confirmed = false
}
