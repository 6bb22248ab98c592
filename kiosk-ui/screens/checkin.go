package screens

import (
	"context"
	"slices"
	"strings"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/edgeapi"
)

// maxHostMatches bounds the host suggestions shown while typing.
const maxHostMatches = 5

// VisitorTypes are the visitor types offered on the check-in form.
var visitorTypes = [...]string{"Guest", "Contractor", "Interview", "Delivery"}

// CheckInForm asks for the visitor's details and whom they visit. Host
// search runs as the visitor types, over the synced directory.
type CheckInForm struct {
	a *App

	Name, Email, Company, Phone *Field
	HostSearch                  *Field
	Type                        *widget.RadioGroup
	HostMatches                 *fyne.Container // one button per matching host
	HostChosen                  *widget.Label
	Error                       *widget.Label
	Confirm, Cancel             *widget.Button
	content                     fyne.CanvasObject

	hosts    []visitor.Host // the current matches
	host     *visitor.Host  // the chosen host
	required []string
}

func newCheckInForm(a *App) *CheckInForm {
	f := &CheckInForm{a: a}
	focus := a.Keyboard.SetTarget
	f.Name = NewField("Your full name", focus)
	f.Email = NewField("Email", focus)
	f.Company = NewField("Company", focus)
	f.Phone = NewField("Phone", focus)
	f.HostSearch = NewField("Who are you visiting? Type a name", focus)
	for _, e := range []*Field{f.Name, f.Email, f.Company, f.Phone} {
		e.OnChanged = func(string) { a.Touch() }
	}
	f.HostSearch.OnChanged = func(q string) { a.Touch(); f.searchHosts(context.Background(), q) }
	f.Type = widget.NewRadioGroup(visitorTypes[:], func(string) { a.Touch() })
	f.Type.Horizontal = true
	f.Type.Required = true
	f.Type.SetSelected("Guest")
	f.HostMatches = container.NewVBox()
	f.HostChosen = widget.NewLabel("")
	f.Error = widget.NewLabel("")
	f.Error.Importance = widget.DangerImportance
	f.Error.Wrapping = fyne.TextWrapWord
	f.Confirm = widget.NewButtonWithIcon("Confirm", theme.ConfirmIcon(), func() { f.submit(context.Background()) })
	f.Confirm.Importance = widget.HighImportance
	f.Cancel = widget.NewButton("Cancel", func() { a.Home(context.Background()) })
	title := widget.NewLabelWithStyle("Check in", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	form := container.NewVBox(title, f.Name, f.Email, f.Company, f.Phone, f.Type, f.HostSearch, f.HostMatches, f.HostChosen, f.Error,
		container.NewGridWithColumns(2, f.Cancel, f.Confirm))
	f.content = container.NewBorder(nil, a.Keyboard.Content(), nil, nil, container.NewVScroll(form))
	return f
}

// prepare applies the tenant's required fields.
func (f *CheckInForm) prepare(info Info) {
	f.required = info.RequiredFields
	label := func(e *Field, name, text string) {
		if slices.Contains(f.required, name) {
			text += " (required)"
		}
		e.SetPlaceHolder(text)
	}
	label(f.Email, "email", "Email")
	label(f.Company, "company", "Company")
	label(f.Phone, "phone", "Phone")
}

func (f *CheckInForm) searchHosts(ctx context.Context, q string) {
	f.HostMatches.RemoveAll()
	f.hosts = nil
	if q = strings.TrimSpace(q); len([]rune(q)) < 2 {
		return
	}
	hosts, err := f.a.b.Hosts(ctx, q)
	if err != nil {
		f.Error.SetText("Host search is not available. Please ask reception.")
		return
	}
	if len(hosts) > maxHostMatches {
		hosts = hosts[:maxHostMatches]
	}
	f.hosts = hosts
	for _, h := range hosts {
		f.HostMatches.Add(widget.NewButton(h.Name, func() { f.chooseHost(h) }))
	}
	if len(hosts) == 0 {
		f.HostMatches.Add(widget.NewLabel("No one by that name. Check the spelling, or leave it empty."))
	}
}

func (f *CheckInForm) chooseHost(h visitor.Host) {
	f.a.Touch()
	f.host = &h
	f.HostChosen.SetText("Visiting " + h.Name)
	f.HostSearch.SetText("")
	f.HostMatches.RemoveAll()
	f.hosts = nil
}

// hostName is the name of the host chosen (for the confirmation).
func (f *CheckInForm) hostName(id string) string {
	if f.host != nil && f.host.ID == id {
		return f.host.Name
	}
	return ""
}

// HostButtons returns the host suggestions shown, for tests.
func (f *CheckInForm) HostButtons() []*widget.Button {
	var out []*widget.Button
	for _, o := range f.HostMatches.Objects {
		if b, ok := o.(*widget.Button); ok {
			out = append(out, b)
		}
	}
	return out
}

func (f *CheckInForm) submit(ctx context.Context) {
	f.a.Touch()
	f.Error.SetText("")
	req := edgeapi.CheckInRequest{
		Name: strings.TrimSpace(f.Name.Text), Email: strings.TrimSpace(f.Email.Text),
		Company: strings.TrimSpace(f.Company.Text), Phone: strings.TrimSpace(f.Phone.Text),
		VisitorType: strings.ToLower(f.Type.Selected),
	}
	if f.host != nil {
		req.HostID = f.host.ID
	}
	missing := ""
	switch {
	case req.Name == "":
		missing = "your name"
	case slices.Contains(f.required, "email") && req.Email == "":
		missing = "your email"
	case slices.Contains(f.required, "company") && req.Company == "":
		missing = "your company"
	case slices.Contains(f.required, "phone") && req.Phone == "":
		missing = "your phone number"
	case slices.Contains(f.required, "host") && req.HostID == "":
		missing = "who you are visiting"
	}
	if missing != "" {
		f.Error.SetText("Please enter " + missing + ".")
		return
	}
	f.a.submit(ctx, req, f.showError)
}

func (f *CheckInForm) showError(msg string) { f.Error.SetText(sentence(msg)) }

func (f *CheckInForm) reset() {
	for _, e := range []*Field{f.Name, f.Email, f.Company, f.Phone, f.HostSearch} {
		e.SetText("")
	}
	f.Type.SetSelected("Guest")
	f.HostMatches.RemoveAll()
	f.HostChosen.SetText("")
	f.Error.SetText("")
	f.hosts, f.host = nil, nil
}

// sentence capitalises a message's first letter.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// InviteForm checks in a pre-registered visitor by the invite code from
// their invitation (typed, or scanned by a keyboard-emulating scanner).
type InviteForm struct {
	a *App

	Code            *Field
	Error           *widget.Label
	Confirm, Cancel *widget.Button
	content         fyne.CanvasObject
}

func newInviteForm(a *App) *InviteForm {
	f := &InviteForm{a: a}
	f.Code = NewField("Invite code", a.Keyboard.SetTarget)
	f.Code.OnChanged = func(string) { a.Touch() }
	f.Code.OnSubmitted = func(string) { f.submit(context.Background()) }
	f.Error = widget.NewLabel("")
	f.Error.Importance = widget.DangerImportance
	f.Error.Wrapping = fyne.TextWrapWord
	f.Confirm = widget.NewButtonWithIcon("Continue", theme.ConfirmIcon(), func() { f.submit(context.Background()) })
	f.Confirm.Importance = widget.HighImportance
	f.Cancel = widget.NewButton("Cancel", func() { a.Home(context.Background()) })
	title := widget.NewLabelWithStyle("Enter the code from your invitation", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	// The keyboard is shared: only one screen is on the window at a time.
	f.content = container.NewBorder(nil, a.Keyboard.Content(), nil, nil,
		container.NewVBox(title, f.Code, f.Error, container.NewGridWithColumns(2, f.Cancel, f.Confirm)))
	return f
}

func (f *InviteForm) submit(ctx context.Context) {
	f.a.Touch()
	code := strings.TrimSpace(f.Code.Text)
	if code == "" {
		f.Error.SetText("Please enter your invite code.")
		return
	}
	f.a.submit(ctx, edgeapi.CheckInRequest{InviteCode: code}, func(msg string) { f.Error.SetText(sentence(msg)) })
}

func (f *InviteForm) reset() {
	f.Code.SetText("")
	f.Error.SetText("")
}
