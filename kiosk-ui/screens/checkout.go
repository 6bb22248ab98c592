package screens

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/edgeapi"
)

// maxCheckoutMatches bounds the on-site names shown for a typed prefix:
// the screen never lists everyone on site.
const maxCheckoutMatches = 5

// minCheckoutPrefix is how many letters must be typed before any name is
// shown.
const minCheckoutPrefix = 2

// CheckOutForm checks a visitor out by name (only on-site visitors whose
// name starts with what was typed) or by the badge code: the badge's QR
// payload from a scanner, or the badge number.
type CheckOutForm struct {
	a *App

	Query    *Field
	Matches  *fyne.Container
	ByBadge  *widget.Button
	Message  *widget.Label
	Cancel   *widget.Button
	content  fyne.CanvasObject
	visits   []visitor.Visit
	finished bool
}

func newCheckOutForm(a *App) *CheckOutForm {
	f := &CheckOutForm{a: a}
	f.Query = NewField("Type your name, or your badge number", a.Keyboard.SetTarget)
	f.Query.OnChanged = func(q string) { a.Touch(); f.search(context.Background(), q) }
	f.Query.OnSubmitted = func(string) { f.byCode(context.Background()) } // scanners end with Enter
	f.Matches = container.NewVBox()
	f.ByBadge = widget.NewButton("Check out with this badge number", func() { f.byCode(context.Background()) })
	f.Message = widget.NewLabel("")
	f.Message.Wrapping = fyne.TextWrapWord
	f.Cancel = widget.NewButton("Cancel", func() { a.Home(context.Background()) })
	title := widget.NewLabelWithStyle("Check out", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	hint := widget.NewLabel("Or hold your badge's QR code to the scanner.")
	f.content = container.NewBorder(nil, a.Keyboard.Content(), nil, nil,
		container.NewVScroll(container.NewVBox(title, f.Query, hint, f.Matches, f.ByBadge, f.Message, f.Cancel)))
	return f
}

// MatchButtons returns the on-site visitors offered, for tests.
func (f *CheckOutForm) MatchButtons() []*widget.Button {
	var out []*widget.Button
	for _, o := range f.Matches.Objects {
		if b, ok := o.(*widget.Button); ok {
			out = append(out, b)
		}
	}
	return out
}

func (f *CheckOutForm) search(ctx context.Context, q string) {
	f.Matches.RemoveAll()
	f.visits = nil
	q = strings.TrimSpace(q)
	if len([]rune(q)) < minCheckoutPrefix || strings.HasPrefix(strings.ToUpper(q), badge.CheckoutPrefix) {
		return
	}
	visits, err := f.a.b.FindOnSite(ctx, q)
	if err != nil {
		f.Message.SetText("Search is not available. Please ask reception.")
		return
	}
	if len(visits) > maxCheckoutMatches {
		visits = visits[:maxCheckoutMatches]
	}
	f.visits = visits
	for _, v := range visits {
		label := v.Visitor.Name
		if v.Visitor.Company != "" {
			label += " (" + v.Visitor.Company + ")"
		}
		f.Matches.Add(widget.NewButton(label, func() { f.checkOut(ctx, edgeapi.CheckOutRequest{VisitID: v.ID}) }))
	}
}

// byCode checks out by the badge's QR payload or by a badge number.
func (f *CheckOutForm) byCode(ctx context.Context) {
	f.a.Touch()
	code := strings.TrimSpace(f.Query.Text)
	if code == "" {
		f.Message.SetText("Please type your badge number, or scan your badge.")
		return
	}
	req := edgeapi.CheckOutRequest{BadgeNumber: code}
	if strings.HasPrefix(strings.ToUpper(code), badge.CheckoutPrefix) {
		ref, err := badge.ParseCheckoutQRPayload(code)
		if err != nil {
			f.Message.SetText("That badge code could not be read. Please try again or ask reception.")
			return
		}
		req = edgeapi.CheckOutRequest{VisitID: ref.VisitID, BadgeNumber: ref.BadgeNumber}
		if req.VisitID != "" {
			req.BadgeNumber = ""
		}
	}
	f.checkOut(ctx, req)
}

func (f *CheckOutForm) checkOut(ctx context.Context, req edgeapi.CheckOutRequest) {
	f.a.Touch()
	v, err := f.a.b.CheckOut(ctx, req)
	if err != nil {
		if visitor.ErrorCode(err) == visitor.ENOTFOUND {
			f.Message.SetText("We could not find that visit. Please ask reception.")
		} else {
			f.Message.SetText(sentence(userMessage(err, "Sorry, that did not work. Please ask reception.")))
		}
		return
	}
	f.Query.SetText("")
	f.Matches.RemoveAll()
	f.visits = nil
	f.finished = true
	f.Message.SetText("Goodbye, " + firstName(v.Visitor.Name) + ". Thank you for visiting!")
}

// Done reports whether the last check-out succeeded.
func (f *CheckOutForm) Done() bool { return f.finished }

func (f *CheckOutForm) reset() {
	f.Query.SetText("")
	f.Matches.RemoveAll()
	f.Message.SetText("")
	f.visits, f.finished = nil, false
}
