package screens

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// PairingScreen shows the QR code and the user code an admin approves in
// the console, counts down to the code's expiry and fetches a new code
// when it expires. Once approved it moves to the welcome screen.
type PairingScreen struct {
	a *App

	QR        *canvas.Image
	UserCode  *canvas.Text
	URI       *widget.Label
	Countdown *widget.Label
	Message   *widget.Label
	content   fyne.CanvasObject

	code    PairingCode
	qrImage image.Image
	started bool
}

func newPairingScreen(a *App) *PairingScreen {
	p := &PairingScreen{a: a}
	p.QR = canvas.NewImageFromImage(image.NewGray(image.Rect(0, 0, 1, 1)))
	p.QR.FillMode = canvas.ImageFillContain
	p.QR.ScaleMode = canvas.ImageScalePixels
	p.QR.SetMinSize(fyne.NewSize(360, 360))
	p.QR.Hide() // until there is a code
	p.UserCode = canvas.NewText("", theme.Color(theme.ColorNameForeground))
	p.UserCode.TextSize = 72
	p.UserCode.TextStyle = fyne.TextStyle{Monospace: true}
	p.UserCode.Alignment = fyne.TextAlignCenter
	p.URI = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	p.URI.Wrapping = fyne.TextWrapBreak
	p.Countdown = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	p.Message = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	p.Message.Wrapping = fyne.TextWrapWord
	title := widget.NewLabelWithStyle("Pair this kiosk", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	how := widget.NewLabelWithStyle("Scan the code with your phone, or open the console's Displays page and enter:",
		fyne.TextAlignCenter, fyne.TextStyle{})
	how.Wrapping = fyne.TextWrapWord
	p.content = container.NewVBox(layout.NewSpacer(), title, how, container.NewCenter(p.QR), p.UserCode, p.URI,
		p.Countdown, p.Message, layout.NewSpacer())
	return p
}

// QRImage returns the QR code shown (decoded from the Pairer's PNG).
func (p *PairingScreen) QRImage() image.Image { return p.qrImage }

// Code returns the pairing code shown.
func (p *PairingScreen) Code() PairingCode { return p.code }

func (p *PairingScreen) begin(ctx context.Context) {
	p.started = true
	p.fetch(ctx)
}

func (p *PairingScreen) fetch(ctx context.Context) {
	if p.a.opts.Pairer == nil {
		return
	}
	code, err := p.a.opts.Pairer.Start(ctx)
	if err != nil {
		p.Message.SetText("Cannot reach the cloud to get a pairing code. Retrying…")
		p.code = PairingCode{}
		p.QR.Hide()
		p.a.log.Warn("pairing code", "err", err)
		return
	}
	img, err := png.Decode(bytes.NewReader(code.QRPNG))
	if err != nil {
		p.Message.SetText("The pairing QR code could not be shown; use the code below.")
		img = image.NewGray(image.Rect(0, 0, 1, 1))
	} else {
		p.Message.SetText("")
	}
	p.code, p.qrImage = code, img
	p.QR.Image = img
	p.QR.Show()
	p.QR.Refresh()
	p.UserCode.Text = code.UserCode
	p.UserCode.Refresh()
	p.URI.SetText(code.URI)
	p.tick(ctx)
}

// tick updates the countdown and fetches a new code once this one expired
// (or none could be fetched yet).
func (p *PairingScreen) tick(ctx context.Context) {
	if !p.started {
		return
	}
	if p.code.UserCode == "" {
		p.fetch(ctx)
		return
	}
	left := p.code.ExpiresAt.Sub(p.a.opts.Now())
	if left <= 0 {
		p.Countdown.SetText("Code expired — getting a new one…")
		p.fetch(ctx)
		return
	}
	secs := int(left.Round(time.Second) / time.Second)
	p.Countdown.SetText(fmt.Sprintf("This code expires in %d:%02d", secs/60, secs%60))
}

// poll moves on to the welcome screen once the kiosk is paired.
func (p *PairingScreen) poll(ctx context.Context) {
	if p.a.opts.Pairer == nil {
		return
	}
	if ok, err := p.a.opts.Pairer.Paired(ctx); err == nil && ok {
		p.started = false
		p.code = PairingCode{}
		p.a.Home(ctx)
	}
}
