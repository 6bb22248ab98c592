package badge

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	qrcode "github.com/skip2/go-qrcode"
	visitor "github.com/theonestack/visitor"
	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Layout proportions, in millimetres on the label, so both sizes look alike.
const (
	marginMM      = 2.5
	gapMM         = 1.2
	headerMMTall  = 13 // portrait labels
	headerMMWide  = 11 // landscape labels
	nameMaxMM     = 9
	nameMinMM     = 3.6
	companyMaxMM  = 5.5
	companyMinMM  = 3
	detailMaxMM   = 3.8
	detailMinMM   = 3.2
	numberMaxMM   = 9
	numberMinMM   = 3.5
	smallMM       = 2.4
	minModuleMM   = 0.4 // smallest QR module we print
	quietModules  = 4   // QR quiet zone, per ISO/IEC 18004
	nameMaxLines  = 2
	maxSizeSteps  = 40 // bound on the shrink loop
	shrinkPerStep = 0.94
	oneLineMin    = 0.7 // a wrappable block tries one line down to this share of its largest size
)

// RenderImage draws the badge for d with template t on a label of size s.
// The image is exactly s.Dots() in size, white where nothing is printed, and
// in colour only where the template's accent is; Monochrome reduces it for
// thermal printers. It fails with an EINVALID *visitor.Error when the
// template is invalid, the size unknown, the visitor's name empty, or the
// template shows the QR code and d.CheckoutCode is empty or too long to
// print legibly.
func RenderImage(d Data, t Template, s Size) (*image.RGBA, error) {
	l, err := layoutBadge(d, t, s)
	if err != nil {
		return nil, err
	}
	return l.draw(), nil
}

// placedText is one block of text, fitted into its box.
type placedText struct {
	role  string
	box   image.Rectangle // the space it was given
	lines []string
	xs    []int // pen x of each line
	ys    []int // baseline of each line
	ink   []image.Rectangle
	face  font.Face
	color color.Color
}

// badgeLayout is everything RenderImage draws, worked out before drawing so
// tests can check that every box stays inside the label.
type badgeLayout struct {
	w, h     int
	accent   color.RGBA
	header   image.Rectangle
	logo     image.Image
	logoBox  image.Rectangle
	texts    []placedText
	skipped  []string // roles that did not fit and were left off
	qrBits   [][]bool
	qrModule int
	qrBox    image.Rectangle // modules plus quiet zone
}

// typesetter fits text with the Go fonts at one resolution.
type typesetter struct {
	dpi           float64
	regular, bold *opentype.Font
}

func (ts *typesetter) px(mm float64) int { return int(math.Round(mm * ts.dpi / 25.4)) }

func newTypesetter(dpi int) (*typesetter, error) {
	reg, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go Regular: %w", err)
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go Bold: %w", err)
	}
	return &typesetter{dpi: float64(dpi), regular: reg, bold: bold}, nil
}

// textStyle says how a block may be set: the largest and smallest sizes (in
// millimetres of em height) and how many lines it may wrap onto.
type textStyle struct {
	bold         bool
	maxMM, minMM float64
	maxLines     int
	center       bool
	color        color.Color
}

// fit sets s in box with the largest size from style.maxMM down to
// style.minMM at which it fits, wrapping at spaces onto up to maxLines lines.
// At the smallest size text that still does not fit is cut and ends in "…".
// Lines are stacked from the top of box. ok is false when not even one line
// of the smallest size fits in the box's height.
func (ts *typesetter) fit(role, s string, style textStyle, box image.Rectangle) (placedText, bool, error) {
	f := ts.regular
	if style.bold {
		f = ts.bold
	}
	maxPx, minPx := float64(ts.px(style.maxMM)), float64(ts.px(style.minMM))
	if style.maxLines > 1 {
		// A line of slightly smaller type reads better than a wrapped
		// name: try one line down to oneLineMin of the largest size first.
		one := style
		one.maxLines, one.minMM = 1, max(style.maxMM*oneLineMin, style.minMM)
		if p, ok, err := ts.fitSized(role, s, one, box, f, maxPx, float64(ts.px(one.minMM)), false); err != nil || ok {
			return p, ok, err
		}
	}
	return ts.fitSized(role, s, style, box, f, maxPx, minPx, true)
}

// fitSized is fit's shrink loop from maxPx to minPx. With truncateLast it
// sets the text at minPx, cut short, when nothing fits; otherwise it reports
// ok false.
func (ts *typesetter) fitSized(role, s string, style textStyle, box image.Rectangle, f *opentype.Font, maxPx, minPx float64, truncateLast bool) (placedText, bool, error) {
	size := maxPx
	for step := 0; ; step++ {
		last := size <= minPx || step == maxSizeSteps
		if last {
			size = minPx
		}
		face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			return placedText{}, false, fmt.Errorf("make %.0fpx face: %w", size, err)
		}
		lineH := face.Metrics().Height.Ceil()
		maxLines := min(style.maxLines, box.Dy()/max(lineH, 1))
		if maxLines < 1 {
			if last {
				return placedText{}, false, nil
			}
			size *= shrinkPerStep
			continue
		}
		lines, fits := wrap(face, s, box.Dx(), maxLines)
		if last && !fits && !truncateLast {
			return placedText{}, false, nil
		}
		if fits || last {
			if !fits {
				lines = truncate(face, s, box.Dx(), maxLines)
			}
			return ts.place(role, face, lines, style, box), true, nil
		}
		size *= shrinkPerStep
	}
}

// place positions already-fitted lines in box.
func (ts *typesetter) place(role string, face font.Face, lines []string, style textStyle, box image.Rectangle) placedText {
	m := face.Metrics()
	lineH := m.Height.Ceil()
	p := placedText{role: role, box: box, lines: lines, face: face, color: style.color}
	for i, line := range lines {
		left, width := inkSpan(face, line)
		x := box.Min.X - left
		if style.center {
			x += (box.Dx() - width) / 2
		}
		base := box.Min.Y + i*lineH + m.Ascent.Ceil()
		p.xs = append(p.xs, x)
		p.ys = append(p.ys, base)
		p.ink = append(p.ink, image.Rect(x+left, base-m.Ascent.Ceil(), x+left+width, base+m.Descent.Ceil()))
	}
	return p
}

// inkSpan returns how far left of the pen a line's ink starts (zero or
// negative) and the width from there to the further of its ink and advance.
func inkSpan(face font.Face, s string) (left, width int) {
	b, adv := font.BoundString(face, s)
	left = min(b.Min.X.Floor(), 0)
	right := max(b.Max.X.Ceil(), adv.Ceil())
	return left, right - left
}

func textWidth(face font.Face, s string) int { _, w := inkSpan(face, s); return w }

// wrap breaks s at spaces into lines no wider than width, breaking inside a
// word only when the word alone is too wide. fits is false when that takes
// more than maxLines lines.
func wrap(face font.Face, s string, width, maxLines int) (lines []string, fits bool) {
	var cur string
	for _, word := range strings.Fields(s) {
		try := word
		if cur != "" {
			try = cur + " " + word
		}
		if textWidth(face, try) <= width {
			cur = try
			continue
		}
		if cur != "" {
			lines = append(lines, cur)
			cur = ""
		}
		for textWidth(face, word) > width {
			n := fitRunes(face, word, width)
			lines = append(lines, word[:n])
			word = word[n:]
			if len(lines) > maxLines {
				return lines, false
			}
		}
		cur = word
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines, len(lines) <= maxLines
}

// fitRunes returns the byte length of the longest prefix of s (at least one
// rune) no wider than width.
func fitRunes(face font.Face, s string, width int) int {
	n := 0
	for i, r := range s {
		end := i + utf8.RuneLen(r)
		if n > 0 && textWidth(face, s[:end]) > width {
			break
		}
		n = end
	}
	return n
}

// truncate sets s on maxLines lines, cutting the last one to end in "…".
func truncate(face font.Face, s string, width, maxLines int) []string {
	lines, _ := wrap(face, s, width, maxLines)
	if len(lines) > maxLines {
		lines = lines[:maxLines]
	}
	last := lines[len(lines)-1]
	for last != "" && textWidth(face, strings.TrimSpace(last)+"…") > width {
		_, size := utf8.DecodeLastRuneInString(last)
		last = last[:len(last)-size]
	}
	lines[len(lines)-1] = strings.TrimSpace(last) + "…"
	return lines
}

// clean removes control and invisible characters and folds runs of white
// space, so what the visitor typed cannot upset the layout.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case !unicode.IsPrint(r), r == utf8.RuneError:
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func layoutBadge(d Data, t Template, s Size) (*badgeLayout, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	sp, ok := s.spec()
	if !ok {
		return nil, visitor.Errorf(visitor.EINVALID, "unknown label size %q", string(s))
	}
	name := clean(d.VisitorName)
	if name == "" {
		return nil, visitor.Errorf(visitor.EINVALID, "a badge needs the visitor's name")
	}
	accent, _ := parseAccent(t.Accent) // checked by Validate
	ts, err := newTypesetter(sp.dpi)
	if err != nil {
		return nil, err
	}
	l := &badgeLayout{w: sp.widthDots, h: sp.heightDots, accent: accent}
	w, h := l.w, l.h
	m, gap := ts.px(marginMM), ts.px(gapMM)
	portrait := h > w

	// Header band: full width, accent colour, optional logo and title.
	logo := d.Logo
	if !t.ShowLogo || logo == nil || logo.Bounds().Empty() {
		logo = nil
	}
	top := m
	if t.Title != "" || logo != nil {
		hh := ts.px(headerMMWide)
		if portrait {
			hh = ts.px(headerMMTall)
		}
		l.header = image.Rect(0, 0, w, hh)
		pad := hh / 8
		titleBox := image.Rect(m, pad, w-m, hh-pad)
		if logo != nil {
			l.logo = logo
			l.logoBox = fitInside(logo.Bounds(), image.Rect(m, pad, m+w/3, hh-pad))
			titleBox.Min.X = l.logoBox.Max.X + gap
		}
		if title := clean(t.Title); title != "" {
			fg := color.Color(color.Black)
			if luminance(accent) < 128 {
				fg = color.White
			}
			headerPx := float64(hh-2*pad) * 25.4 / ts.dpi
			p, ok, err := ts.fit("title", title, textStyle{bold: true, maxMM: headerPx * 0.8, minMM: headerPx * 0.4, maxLines: 1, center: true, color: fg}, titleBox)
			if err != nil {
				return nil, err
			}
			if ok {
				l.texts = append(l.texts, p)
			}
		}
		top = hh + m
	}

	// Check-out QR code and, beside or under it, the badge number.
	body := image.Rect(m, top, w-m, h-m)
	number := clean(d.BadgeNumber)
	numberByQR := false
	if t.ShowQR {
		if d.CheckoutCode == "" {
			return nil, visitor.Errorf(visitor.EINVALID, "the badge template shows a QR code but the badge has no check-out code")
		}
		q, err := qrcode.New(d.CheckoutCode, qrcode.Medium)
		if err != nil {
			return nil, visitor.Errorf(visitor.EINVALID, "check-out code cannot be a QR code: %v", err)
		}
		q.DisableBorder = true
		l.qrBits = q.Bitmap()
		side := len(l.qrBits) + 2*quietModules
		var area, side2 image.Rectangle // QR area and the number's area
		if portrait {
			qs := w * 44 / 100
			area = image.Rect(m, h-m-qs, m+qs, h-m)
			side2 = image.Rect(area.Max.X+gap, area.Min.Y, w-m, area.Max.Y)
			body.Max.Y = area.Min.Y - gap
		} else {
			numH := ts.px(numberMaxMM*1.2) + ts.px(smallMM*1.3)
			qs := min(w*36/100, h-m-top-numH-gap)
			area = image.Rect(w-m-qs, top, w-m, top+qs)
			side2 = image.Rect(area.Min.X, area.Max.Y+gap, area.Max.X, h-m)
			body.Max.X = area.Min.X - gap
		}
		l.qrModule = area.Dx() / side
		if l.qrModule < ts.px(minModuleMM) || l.qrModule < 1 {
			return nil, visitor.Errorf(visitor.EINVALID, "check-out code is too long to print as a legible QR code on this label")
		}
		qsz := l.qrModule * side
		l.qrBox = image.Rect(0, 0, qsz, qsz).Add(image.Pt(area.Min.X+(area.Dx()-qsz)/2, area.Min.Y+(area.Dy()-qsz)/2))
		if number != "" && t.has(FieldBadgeNumber) {
			numberByQR = true
			if err := l.numberBlock(ts, number, side2, portrait); err != nil {
				return nil, err
			}
		}
	}

	// Body: the name, then the template's fields in order, each in the space
	// left; a block that cannot fit even at its smallest size is left off.
	y := body.Min.Y
	add := func(role, text string, style textStyle, after int) error {
		if text == "" {
			return nil
		}
		p, ok, err := ts.fit(role, text, style, image.Rect(body.Min.X, y, body.Max.X, body.Max.Y))
		if err != nil {
			return err
		}
		if !ok {
			l.skipped = append(l.skipped, role)
			return nil
		}
		l.texts = append(l.texts, p)
		y = p.ink[len(p.ink)-1].Max.Y + after
		return nil
	}
	black := color.Black
	if err := add("name", name, textStyle{bold: true, maxMM: nameMaxMM, minMM: nameMinMM, maxLines: nameMaxLines, color: black}, ts.px(gapMM*1.5)); err != nil {
		return nil, err
	}
	for _, f := range t.Fields {
		var text string
		style := textStyle{maxMM: detailMaxMM, minMM: detailMinMM, maxLines: 1, color: black}
		switch f {
		case FieldCompany:
			text = clean(d.Company)
			style.maxMM, style.minMM = companyMaxMM, companyMinMM
		case FieldHost:
			text = labelled("Visiting", d.HostName)
		case FieldLocation:
			text = labelled("Location", d.LocationName)
		case FieldDate:
			text = formatDate(d, t.DateStyle)
		case FieldVisitorType:
			text = labelled("Type", titleCase(clean(d.VisitorType)))
		case FieldBadgeNumber:
			if !numberByQR {
				text = labelled("Badge", number)
			}
		case FieldTenantName:
			text = clean(d.TenantName)
		}
		if err := add(string(f), text, style, gap); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// numberBlock sets the badge number large in box, with a small caption.
func (l *badgeLayout) numberBlock(ts *typesetter, number string, box image.Rectangle, portrait bool) error {
	capH := ts.px(smallMM * 1.3)
	capStyle := textStyle{maxMM: smallMM, minMM: smallMM * 0.8, maxLines: 1, center: !portrait, color: color.Black}
	numStyle := textStyle{bold: true, maxMM: numberMaxMM, minMM: numberMinMM, maxLines: 1, center: !portrait, color: color.Black}
	capBox := image.Rect(box.Min.X, box.Min.Y, box.Max.X, min(box.Min.Y+capH, box.Max.Y))
	numBox := image.Rect(box.Min.X, capBox.Max.Y, box.Max.X, box.Max.Y)
	if portrait {
		// Beside the code: caption and number sit at the code's bottom edge.
		numH := ts.px(numberMaxMM * 1.25)
		numBox = image.Rect(box.Min.X, max(box.Max.Y-numH, box.Min.Y), box.Max.X, box.Max.Y)
		capBox = image.Rect(box.Min.X, max(numBox.Min.Y-capH, box.Min.Y), box.Max.X, numBox.Min.Y)
	}
	for _, b := range []struct {
		role, text string
		style      textStyle
		box        image.Rectangle
	}{{"number_caption", "BADGE", capStyle, capBox}, {"badge_number", number, numStyle, numBox}} {
		p, ok, err := ts.fit(b.role, b.text, b.style, b.box)
		if err != nil {
			return err
		}
		if !ok {
			l.skipped = append(l.skipped, b.role)
			continue
		}
		l.texts = append(l.texts, p)
	}
	return nil
}

func labelled(label, value string) string {
	if value = clean(value); value == "" {
		return ""
	}
	return label + ": " + value
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + strings.ReplaceAll(s[n:], "_", " ")
}

func formatDate(d Data, style DateStyle) string {
	if d.Date.IsZero() {
		return ""
	}
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	layout := "Mon 2 Jan 2006"
	if style == DateAndTime {
		layout += " 15:04"
	}
	return d.Date.In(loc).Format(layout)
}

// luminance is the Rec. 601 luma of c, 0–255.
func luminance(c color.RGBA) int {
	return (299*int(c.R) + 587*int(c.G) + 114*int(c.B)) / 1000
}

// fitInside returns the largest rectangle with src's aspect ratio inside box,
// centred vertically and flush left.
func fitInside(src, box image.Rectangle) image.Rectangle {
	sw, sh := src.Dx(), src.Dy()
	w, h := box.Dx(), box.Dy()
	if sw*h > sh*w { // wider than the box
		h = max(sh*w/sw, 1)
	} else {
		w = max(sw*h/sh, 1)
	}
	y := box.Min.Y + (box.Dy()-h)/2
	return image.Rect(box.Min.X, y, box.Min.X+w, y+h)
}

func (l *badgeLayout) draw() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	if !l.header.Empty() {
		draw.Draw(img, l.header, image.NewUniform(l.accent), image.Point{}, draw.Src)
	}
	if l.logo != nil {
		xdraw.CatmullRom.Scale(img, l.logoBox, l.logo, l.logo.Bounds(), xdraw.Over, nil)
	}
	for _, p := range l.texts {
		dr := font.Drawer{Dst: img, Src: image.NewUniform(p.color), Face: p.face}
		for i, line := range p.lines {
			dr.Dot = fixed.P(p.xs[i], p.ys[i])
			dr.DrawString(line)
		}
	}
	if l.qrBits != nil {
		ms := l.qrModule
		o := l.qrBox.Min.Add(image.Pt(quietModules*ms, quietModules*ms))
		for y, row := range l.qrBits {
			for x, dark := range row {
				if dark {
					r := image.Rect(0, 0, ms, ms).Add(o.Add(image.Pt(x*ms, y*ms)))
					draw.Draw(img, r, image.Black, image.Point{}, draw.Src)
				}
			}
		}
	}
	return img
}
