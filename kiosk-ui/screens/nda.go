package screens

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// NDAScreen shows the tenant's NDA and takes the visitor's signature with
// a finger; "I agree" is enabled once something is signed.
type NDAScreen struct {
	a *App

	Text         *widget.Label
	Pad          *SignaturePad
	Agree, Clear *widget.Button
	Cancel       *widget.Button
	ErrorMsg     *widget.Label
	content      fyne.CanvasObject
}

func newNDAScreen(a *App) *NDAScreen {
	n := &NDAScreen{a: a}
	n.Text = widget.NewLabel("")
	n.Text.Wrapping = fyne.TextWrapWord
	n.Pad = NewSignaturePad(func() { a.Touch(); n.updateAgree() })
	n.Agree = widget.NewButtonWithIcon("I agree", theme.ConfirmIcon(), func() { n.agree(context.Background()) })
	n.Agree.Importance = widget.HighImportance
	n.Clear = widget.NewButton("Clear signature", func() { a.Touch(); n.Pad.Clear(); n.updateAgree() })
	n.Cancel = widget.NewButton("Cancel", func() { a.Home(context.Background()) })
	n.ErrorMsg = widget.NewLabel("")
	n.ErrorMsg.Importance = widget.DangerImportance
	title := widget.NewLabelWithStyle("Please read and sign", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	sign := widget.NewLabel("Sign with your finger in the box below:")
	bottom := container.NewVBox(sign, n.Pad, n.ErrorMsg, container.NewGridWithColumns(3, n.Cancel, n.Clear, n.Agree))
	n.content = container.NewBorder(title, bottom, nil, nil, container.NewVScroll(n.Text))
	return n
}

func (n *NDAScreen) prepare(nda NDA) {
	n.Text.SetText(nda.Text)
	n.Pad.Clear()
	n.ErrorMsg.SetText("")
	n.updateAgree()
}

func (n *NDAScreen) updateAgree() {
	if n.Pad.Empty() {
		n.Agree.Disable()
	} else {
		n.Agree.Enable()
	}
}

func (n *NDAScreen) agree(ctx context.Context) {
	n.a.Touch()
	if n.Pad.Empty() {
		return
	}
	sig, err := n.Pad.PNG()
	if err != nil {
		n.ErrorMsg.SetText("Please sign again.")
		return
	}
	n.a.finishCheckIn(ctx, n.a.pending, sig, func(msg string) { n.ErrorMsg.SetText(sentence(msg)) })
}

func (n *NDAScreen) reset() {
	n.Text.SetText("")
	n.Pad.Clear()
	n.ErrorMsg.SetText("")
	n.updateAgree()
}

// SignaturePad records finger strokes (drags) and draws them.
type SignaturePad struct {
	widget.BaseWidget
	strokes  [][]fyne.Position
	drawing  bool
	onChange func()
	raster   *canvas.Raster
}

// NewSignaturePad returns an empty pad; onChange runs after each stroke.
func NewSignaturePad(onChange func()) *SignaturePad {
	p := &SignaturePad{onChange: onChange}
	p.raster = canvas.NewRaster(p.draw)
	p.ExtendBaseWidget(p)
	return p
}

// MinSize is a box large enough to sign with a finger.
func (p *SignaturePad) MinSize() fyne.Size { return fyne.NewSize(600, 180) }

// CreateRenderer draws the strokes on white.
func (p *SignaturePad) CreateRenderer() fyne.WidgetRenderer {
	border := canvas.NewRectangle(color.White)
	border.StrokeColor = color.Gray{Y: 0x80}
	border.StrokeWidth = 2
	return widget.NewSimpleRenderer(container.NewStack(border, p.raster))
}

// Dragged adds to the current stroke.
func (p *SignaturePad) Dragged(e *fyne.DragEvent) {
	if !p.drawing {
		p.strokes = append(p.strokes, nil)
		p.drawing = true
	}
	last := len(p.strokes) - 1
	p.strokes[last] = append(p.strokes[last], e.Position)
	p.raster.Refresh()
}

// DragEnd finishes the stroke.
func (p *SignaturePad) DragEnd() {
	p.drawing = false
	if p.onChange != nil {
		p.onChange()
	}
}

// Empty reports whether nothing has been signed (a tap is not a signature).
func (p *SignaturePad) Empty() bool {
	for _, s := range p.strokes {
		if len(s) >= 2 {
			return false
		}
	}
	return true
}

// Clear erases the signature.
func (p *SignaturePad) Clear() {
	p.strokes, p.drawing = nil, false
	p.raster.Refresh()
}

// Image returns the signature as black strokes on white, w × h pixels.
func (p *SignaturePad) Image(w, h int) image.Image { return p.draw(w, h) }

// PNG returns the signature as a PNG the size of the pad.
func (p *SignaturePad) PNG() ([]byte, error) {
	s := p.MinSize()
	var buf bytes.Buffer
	if err := png.Encode(&buf, p.draw(int(s.Width), int(s.Height))); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (p *SignaturePad) draw(w, h int) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	size := p.Size()
	if size.Width <= 0 || size.Height <= 0 {
		size = p.MinSize()
	}
	sx, sy := float32(w)/size.Width, float32(h)/size.Height
	for _, s := range p.strokes {
		for i := 1; i < len(s); i++ {
			line(img, s[i-1].X*sx, s[i-1].Y*sy, s[i].X*sx, s[i].Y*sy)
		}
	}
	return img
}

// line draws a 3-pixel black line.
func line(img *image.Gray, x0, y0, x1, y1 float32) {
	dx, dy := x1-x0, y1-y0
	steps := int(max(abs(dx), abs(dy))) + 1
	for i := 0; i <= steps; i++ {
		t := float32(i) / float32(steps)
		x, y := int(x0+dx*t), int(y0+dy*t)
		for ox := -1; ox <= 1; ox++ {
			for oy := -1; oy <= 1; oy++ {
				if (image.Point{x + ox, y + oy}).In(img.Rect) {
					img.SetGray(x+ox, y+oy, color.Gray{})
				}
			}
		}
	}
}

func abs(f float32) float32 {
	if f < 0 {
		return -f
	}
	return f
}
