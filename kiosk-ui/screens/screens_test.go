package screens_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/edgeapi"
	"github.com/theonestack/visitor/kiosk-ui/screens"
	"github.com/theonestack/visitor/pairing"
)

// fakeBackend is an in-memory kiosk engine.
type fakeBackend struct {
	mu       sync.Mutex
	status   edgeapi.Status
	info     screens.Info
	hosts    []visitor.Host
	onSite   []visitor.Visit
	invites  map[string]visitor.Person
	checkIns []edgeapi.CheckInRequest
	outs     []edgeapi.CheckOutRequest
	badge    screens.BadgeState
	printer  screens.PrinterStatus
}

func newBackend() *fakeBackend {
	return &fakeBackend{
		status: edgeapi.Status{Paired: true, Online: true},
		info:   screens.Info{LocationName: "HQ Lobby"},
		hosts: []visitor.Host{{ID: "h1", Name: "Ada Lovelace"}, {ID: "h2", Name: "Adam Smith"},
			{ID: "h3", Name: "Charles Babbage"}},
		onSite: []visitor.Visit{
			{ID: "v1", Visitor: visitor.Person{Name: "Grace Hopper", Company: "Navy"}, BadgeNumber: "12", Status: visitor.VisitCheckedIn},
			{ID: "v2", Visitor: visitor.Person{Name: "Grace Kelly"}, BadgeNumber: "13", Status: visitor.VisitCheckedIn},
			{ID: "v3", Visitor: visitor.Person{Name: "Alan Turing"}, BadgeNumber: "14", Status: visitor.VisitCheckedIn},
		},
		invites: map[string]visitor.Person{"ABC123": {Name: "Linus Pauling"}},
		badge:   screens.BadgePrinting,
		printer: screens.PrinterStatus{Ready: true, State: "ready"},
	}
}

func (f *fakeBackend) CheckIn(_ context.Context, req edgeapi.CheckInRequest) (visitor.Visit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkIns = append(f.checkIns, req)
	p := visitor.Person{Name: req.Name, Email: req.Email, Company: req.Company}
	if req.InviteCode != "" {
		inv, ok := f.invites[strings.ToUpper(req.InviteCode)]
		if !ok {
			return visitor.Visit{}, visitor.Errorf(visitor.ENOTFOUND, "unknown invite code. Please check it or ask reception.")
		}
		p = inv
	}
	return visitor.Visit{ID: "new1", Visitor: p, HostID: req.HostID, Status: visitor.VisitCheckedIn}, nil
}

func (f *fakeBackend) CheckOut(_ context.Context, req edgeapi.CheckOutRequest) (visitor.Visit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.onSite {
		if (req.VisitID != "" && v.ID == req.VisitID) || (req.VisitID == "" && v.BadgeNumber == req.BadgeNumber) {
			f.outs = append(f.outs, req)
			return v, nil
		}
	}
	return visitor.Visit{}, visitor.Errorf(visitor.ENOTFOUND, "no visit found to check out")
}

func (f *fakeBackend) OnSite(context.Context) ([]visitor.Visit, error) {
	return nil, errors.New("the screens must never list everyone on site")
}

func (f *fakeBackend) FindOnSite(_ context.Context, prefix string) ([]visitor.Visit, error) {
	var out []visitor.Visit
	for _, v := range f.onSite {
		for _, w := range strings.Fields(v.Visitor.Name) {
			if strings.HasPrefix(strings.ToLower(w), strings.ToLower(prefix)) {
				out = append(out, v)
				break
			}
		}
	}
	return out, nil
}

func (f *fakeBackend) Hosts(_ context.Context, q string) ([]visitor.Host, error) {
	var out []visitor.Host
	for _, h := range f.hosts {
		if strings.HasPrefix(strings.ToLower(h.Name), strings.ToLower(q)) {
			out = append(out, h)
		}
	}
	return out, nil
}

func (f *fakeBackend) Status(context.Context) (edgeapi.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, nil
}

func (f *fakeBackend) Info(context.Context) (screens.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info, nil
}

func (f *fakeBackend) Badge(context.Context, string) (screens.BadgeState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.badge, nil
}

func (f *fakeBackend) Printer() screens.PrinterStatus { return f.printer }

// fakeTimers records idle timers and fires them on demand.
type fakeTimers struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (ft *fakeTimers) AfterFunc(d time.Duration, f func()) func() bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	ft.timers = append(ft.timers, t)
	return func() bool { ft.mu.Lock(); defer ft.mu.Unlock(); was := !t.stopped; t.stopped = true; return was }
}

// fire runs every live timer (as if the idle time passed).
func (ft *fakeTimers) fire() int {
	ft.mu.Lock()
	var live []*fakeTimer
	for _, t := range ft.timers {
		if !t.stopped {
			t.stopped = true
			live = append(live, t)
		}
	}
	ft.mu.Unlock()
	for _, t := range live {
		t.f()
	}
	return len(live)
}

func newApp(t *testing.T, b *fakeBackend, opts screens.Options) (*screens.App, fyne.Window, *fakeTimers) {
	t.Helper()
	test.NewTempApp(t)
	win := test.NewTempWindow(t, nil)
	win.Resize(fyne.NewSize(1024, 1400))
	ft := &fakeTimers{}
	if opts.AfterFunc == nil {
		opts.AfterFunc = ft.AfterFunc
	}
	a := screens.New(win, b, opts)
	a.Start(context.Background())
	return a, win, ft
}

// typeInto focuses f and types s on the on-screen keyboard.
func typeInto(win fyne.Window, a *screens.App, f *screens.Field, s string) {
	win.Canvas().Focus(f)
	a.Keyboard.Type(s)
}

func TestCheckInWithHostSearch(t *testing.T) {
	b := newBackend()
	a, win, _ := newApp(t, b, screens.Options{})
	test.Tap(a.Welcome.CheckIn)
	if a.Current() != screens.ScreenCheckIn {
		t.Fatalf("screen %q after tapping Check in", a.Current())
	}
	typeInto(win, a, a.CheckIn.Name, "Grace Hopper")
	typeInto(win, a, a.CheckIn.Company, "Navy")
	typeInto(win, a, a.CheckIn.HostSearch, "A")
	if n := len(a.CheckIn.HostButtons()); n != 0 {
		t.Errorf("%d hosts offered after one letter; want none", n)
	}
	typeInto(win, a, a.CheckIn.HostSearch, "da")
	hosts := a.CheckIn.HostButtons()
	if len(hosts) != 2 || hosts[0].Text != "Ada Lovelace" {
		t.Fatalf("host suggestions for %q: %v", a.CheckIn.HostSearch.Text, labels(hosts))
	}
	test.Tap(hosts[0])
	test.Tap(a.CheckIn.Confirm)
	if len(b.checkIns) != 1 {
		t.Fatalf("check-ins %v", b.checkIns)
	}
	got := b.checkIns[0]
	if got.Name != "Grace Hopper" || got.Company != "Navy" || got.HostID != "h1" || got.VisitorType != "guest" {
		t.Errorf("check-in request %+v", got)
	}
	if a.Current() != screens.ScreenConfirm || !strings.Contains(a.Confirm.Title.Text, "Grace") ||
		!strings.Contains(a.Confirm.Host.Text, "Ada Lovelace") {
		t.Fatalf("confirmation %q / %q / %q", a.Current(), a.Confirm.Title.Text, a.Confirm.Host.Text)
	}
	for _, tt := range []struct {
		state screens.BadgeState
		want  string
	}{
		{screens.BadgePrinting, screens.MsgBadgePrinting},
		{screens.BadgePrinted, screens.MsgBadgePrinted},
		{screens.BadgeAskStaff, screens.MsgBadgeAskStaff},
	} {
		b.mu.Lock()
		b.badge = tt.state
		b.mu.Unlock()
		a.BadgeChanged("new1")
		if a.Confirm.Badge.Text != tt.want {
			t.Errorf("badge state %v shows %q, want %q", tt.state, a.Confirm.Badge.Text, tt.want)
		}
	}
	// Nothing of this visitor remains once they are done.
	test.Tap(a.Confirm.Done)
	if a.Current() != screens.ScreenWelcome || a.CheckIn.Name.Text != "" || a.Confirm.Title.Text != "" {
		t.Errorf("after Done: screen %q, name %q, title %q", a.Current(), a.CheckIn.Name.Text, a.Confirm.Title.Text)
	}
}

func labels(bs []*widget.Button) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Text)
	}
	return out
}

func TestCheckInRequiredFields(t *testing.T) {
	tests := []struct {
		name     string
		required []string
		fill     func(a *screens.App, win fyne.Window)
		wantErr  string
	}{
		{"name missing", nil, func(*screens.App, fyne.Window) {}, "your name"},
		{"email required", []string{"email"}, func(a *screens.App, w fyne.Window) { typeInto(w, a, a.CheckIn.Name, "Grace") }, "your email"},
		{"host required", []string{"host"}, func(a *screens.App, w fyne.Window) { typeInto(w, a, a.CheckIn.Name, "Grace") }, "who you are visiting"},
		{"all given", []string{"email"}, func(a *screens.App, w fyne.Window) {
			typeInto(w, a, a.CheckIn.Name, "Grace")
			typeInto(w, a, a.CheckIn.Email, "g@navy.mil")
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			b.info.RequiredFields = tt.required
			a, win, _ := newApp(t, b, screens.Options{})
			test.Tap(a.Welcome.CheckIn)
			tt.fill(a, win)
			test.Tap(a.CheckIn.Confirm)
			if tt.wantErr == "" {
				if len(b.checkIns) != 1 || b.checkIns[0].Email != "g@navy.mil" {
					t.Fatalf("check-ins %+v", b.checkIns)
				}
				return
			}
			if len(b.checkIns) != 0 || !strings.Contains(a.CheckIn.Error.Text, tt.wantErr) {
				t.Errorf("error %q, check-ins %d; want %q and none", a.CheckIn.Error.Text, len(b.checkIns), tt.wantErr)
			}
		})
	}
}

func TestCheckInWithInviteCode(t *testing.T) {
	b := newBackend()
	a, win, _ := newApp(t, b, screens.Options{})
	test.Tap(a.Welcome.Invite)
	typeInto(win, a, a.Invite.Code, "abc12")
	test.Tap(a.Invite.Confirm)
	if a.Current() != screens.ScreenInvite || !strings.Contains(a.Invite.Error.Text, "Unknown invite code") {
		t.Fatalf("bad code: screen %q, error %q", a.Current(), a.Invite.Error.Text)
	}
	typeInto(win, a, a.Invite.Code, "3")
	test.Tap(a.Invite.Confirm)
	if a.Current() != screens.ScreenConfirm || !strings.Contains(a.Confirm.Title.Text, "Linus") {
		t.Fatalf("invite check-in: screen %q, title %q", a.Current(), a.Confirm.Title.Text)
	}
	if last := b.checkIns[len(b.checkIns)-1]; last.InviteCode != "abc123" || last.Name != "" {
		t.Errorf("request %+v; want the invite code only", last)
	}
}

// sign draws a finger stroke across the NDA pad.
func sign(a *screens.App) {
	for i := range 10 {
		a.NDA.Pad.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(float32(20+i*30), float32(40+i*8))}})
	}
	a.NDA.Pad.DragEnd()
}

func TestNDASignature(t *testing.T) {
	b := newBackend()
	b.info.NDA = screens.NDA{Enabled: true, Text: "You will keep our secrets.", Version: "v7"}
	a, win, _ := newApp(t, b, screens.Options{})
	test.Tap(a.Welcome.CheckIn)
	typeInto(win, a, a.CheckIn.Name, "Grace Hopper")
	test.Tap(a.CheckIn.Confirm)
	if a.Current() != screens.ScreenNDA || a.NDA.Text.Text != "You will keep our secrets." {
		t.Fatalf("screen %q, NDA text %q", a.Current(), a.NDA.Text.Text)
	}
	if len(b.checkIns) != 0 {
		t.Fatal("checked in before the NDA was signed")
	}
	if !a.NDA.Agree.Disabled() {
		t.Fatal("I agree is enabled with no signature")
	}
	test.Tap(a.NDA.Agree)
	if len(b.checkIns) != 0 {
		t.Fatal("checked in without a signature")
	}
	sign(a)
	if a.NDA.Agree.Disabled() {
		t.Fatal("I agree is still disabled after signing")
	}
	test.Tap(a.NDA.Agree)
	if len(b.checkIns) != 1 || a.Current() != screens.ScreenConfirm {
		t.Fatalf("after agreeing: %d check-ins, screen %q", len(b.checkIns), a.Current())
	}
	req := b.checkIns[0]
	if req.Name != "Grace Hopper" || req.NDA == nil || req.NDA.Version != "v7" {
		t.Fatalf("check-in request %+v; want the form's details with NDA v7", req)
	}
	img, err := png.Decode(bytes.NewReader(req.NDA.Signature))
	if err != nil {
		t.Fatalf("the signature sent with the check-in is not a PNG: %v", err)
	}
	if dark := darkPixels(img); dark == 0 {
		t.Error("the signature PNG is blank")
	}
}

func darkPixels(img image.Image) int {
	n := 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if c, _, _, _ := img.At(x, y).RGBA(); c < 0x8000 {
				n++
			}
		}
	}
	return n
}

func TestNDACancelCommitsNothing(t *testing.T) {
	tests := []struct {
		name   string
		signed bool
	}{{"before signing", false}, {"after signing", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			b.info.NDA = screens.NDA{Enabled: true, Text: "Secrets.", Version: "v7"}
			a, win, _ := newApp(t, b, screens.Options{})
			test.Tap(a.Welcome.CheckIn)
			typeInto(win, a, a.CheckIn.Name, "Grace Hopper")
			test.Tap(a.CheckIn.Confirm)
			if a.Current() != screens.ScreenNDA {
				t.Fatalf("screen %q, want the NDA", a.Current())
			}
			if tt.signed {
				sign(a)
			}
			test.Tap(a.NDA.Cancel)
			if len(b.checkIns) != 0 {
				t.Fatalf("cancelling at the NDA checked in %+v", b.checkIns)
			}
			if a.Current() != screens.ScreenWelcome || a.CheckIn.Name.Text != "" || !a.NDA.Pad.Empty() {
				t.Errorf("after cancel: screen %q, name %q, pad empty %v", a.Current(), a.CheckIn.Name.Text, a.NDA.Pad.Empty())
			}
			// The next visitor starts from a clean form and no NDA of the last.
			test.Tap(a.Welcome.CheckIn)
			typeInto(win, a, a.CheckIn.Name, "Alan Turing")
			test.Tap(a.CheckIn.Confirm)
			sign(a)
			test.Tap(a.NDA.Agree)
			if len(b.checkIns) != 1 || b.checkIns[0].Name != "Alan Turing" {
				t.Errorf("check-ins %+v; want only the next visitor's", b.checkIns)
			}
		})
	}
}

func TestCheckOut(t *testing.T) {
	tests := []struct {
		name     string
		typed    string
		tapMatch int // index of the name match to tap; -1 to use the code
		want     edgeapi.CheckOutRequest
		msg      string
	}{
		{"by name", "gra", 0, edgeapi.CheckOutRequest{VisitID: "v1"}, "Goodbye, Grace"},
		{"by badge number", "14", -1, edgeapi.CheckOutRequest{BadgeNumber: "14"}, "Goodbye, Alan"},
		{"by badge QR", "VB1:v2:13", -1, edgeapi.CheckOutRequest{VisitID: "v2"}, "Goodbye, Grace"},
		{"unknown badge", "99", -1, edgeapi.CheckOutRequest{}, "could not find"},
		{"bad QR", "VB1:", -1, edgeapi.CheckOutRequest{}, "could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			a, win, _ := newApp(t, b, screens.Options{})
			test.Tap(a.Welcome.CheckOut)
			scanner := strings.HasPrefix(tt.typed, "VB1")
			if scanner {
				// A hand scanner types like a keyboard and ends with Enter.
				win.Canvas().Focus(a.CheckOut.Query)
				test.Type(a.CheckOut.Query, tt.typed)
				a.CheckOut.Query.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
			} else {
				typeInto(win, a, a.CheckOut.Query, tt.typed)
			}
			if scanner {
			} else if tt.tapMatch >= 0 {
				m := a.CheckOut.MatchButtons()
				if len(m) != 2 {
					t.Fatalf("matches for %q: %v; want the two on-site Graces only", tt.typed, labels(m))
				}
				test.Tap(m[tt.tapMatch])
			} else {
				if len(a.CheckOut.MatchButtons()) != 0 && tt.typed != "14" {
					t.Errorf("names shown for %q", tt.typed)
				}
				test.Tap(a.CheckOut.ByBadge)
			}
			if !strings.Contains(a.CheckOut.Message.Text, tt.msg) {
				t.Errorf("message %q, want %q", a.CheckOut.Message.Text, tt.msg)
			}
			if tt.want == (edgeapi.CheckOutRequest{}) {
				if len(b.outs) != 0 {
					t.Errorf("checked out %+v", b.outs)
				}
				return
			}
			if len(b.outs) != 1 || b.outs[0] != tt.want {
				t.Errorf("check-outs %+v, want %+v", b.outs, tt.want)
			}
		})
	}
}

func TestCheckOutNeverListsEveryone(t *testing.T) {
	b := newBackend()
	a, win, _ := newApp(t, b, screens.Options{})
	test.Tap(a.Welcome.CheckOut)
	if n := len(a.CheckOut.MatchButtons()); n != 0 {
		t.Fatalf("%d names shown before typing", n)
	}
	typeInto(win, a, a.CheckOut.Query, "g")
	if n := len(a.CheckOut.MatchButtons()); n != 0 {
		t.Fatalf("%d names shown after one letter", n)
	}
}

func TestIdleResetClearsEveryField(t *testing.T) {
	b := newBackend()
	a, win, ft := newApp(t, b, screens.Options{Idle: 45 * time.Second})
	test.Tap(a.Welcome.CheckIn)
	typeInto(win, a, a.CheckIn.Name, "Grace Hopper")
	typeInto(win, a, a.CheckIn.Email, "grace@navy.mil")
	typeInto(win, a, a.CheckIn.Company, "Navy")
	typeInto(win, a, a.CheckIn.Phone, "555")
	typeInto(win, a, a.CheckIn.HostSearch, "Ad")
	test.Tap(a.CheckIn.HostButtons()[0])
	test.Tap(a.CheckIn.Confirm) // check in, then walk away from the confirmation
	test.Tap(a.Welcome.CheckOut)
	a.Home(context.Background())
	test.Tap(a.Welcome.CheckIn)
	typeInto(win, a, a.CheckIn.Name, "Next Visitor")
	typeInto(win, a, a.CheckIn.HostSearch, "Ch")
	if ft.timers[len(ft.timers)-1].d != 45*time.Second {
		t.Errorf("idle timer %v, want 45s", ft.timers[len(ft.timers)-1].d)
	}
	if n := ft.fire(); n != 1 {
		t.Fatalf("%d idle timers live, want exactly 1 (each touch restarts it)", n)
	}
	if a.Current() != screens.ScreenWelcome {
		t.Fatalf("screen %q after idle, want welcome", a.Current())
	}
	for name, f := range map[string]*screens.Field{"name": a.CheckIn.Name, "email": a.CheckIn.Email,
		"company": a.CheckIn.Company, "phone": a.CheckIn.Phone, "host": a.CheckIn.HostSearch,
		"invite": a.Invite.Code, "checkout": a.CheckOut.Query} {
		if f.Text != "" {
			t.Errorf("%s field still holds %q after idle reset", name, f.Text)
		}
	}
	if a.CheckIn.HostChosen.Text != "" || len(a.CheckIn.HostButtons()) != 0 || a.Confirm.Title.Text != "" {
		t.Errorf("host %q, suggestions %d, confirmation %q after idle reset",
			a.CheckIn.HostChosen.Text, len(a.CheckIn.HostButtons()), a.Confirm.Title.Text)
	}
	if a.Keyboard.Target() != nil {
		t.Error("keyboard still targets a field")
	}
	if n := ft.fire(); n != 0 {
		t.Errorf("%d idle timers run on the welcome screen", n)
	}
}

func TestWelcomeStatus(t *testing.T) {
	tests := []struct {
		name     string
		st       edgeapi.Status
		printer  screens.PrinterStatus
		title    string
		line     string
		printMsg string
		enabled  bool
	}{
		{"online", edgeapi.Status{Paired: true, Online: true}, screens.PrinterStatus{Ready: true, State: "ready"}, "Welcome to HQ Lobby", "Online", "", true},
		{"offline", edgeapi.Status{Paired: true}, screens.PrinterStatus{Ready: true, State: "ready"}, "Welcome to HQ Lobby", "Working offline", "", true},
		{"printer out of labels", edgeapi.Status{Paired: true, Online: true}, screens.PrinterStatus{State: "out_of_media"}, "Welcome to HQ Lobby", "Online", "out of labels", true},
		{"unpaired", edgeapi.Status{}, screens.PrinterStatus{}, "not paired", "Displays page", "", false},
		{"revoked", edgeapi.Status{Revoked: true}, screens.PrinterStatus{}, "out of service", "ask reception", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			b.status, b.printer = tt.st, tt.printer
			a, _, _ := newApp(t, b, screens.Options{})
			w := a.Welcome
			if !strings.Contains(w.Title.Text, tt.title) || !strings.Contains(w.Connection.Text, tt.line) {
				t.Errorf("title %q, line %q; want %q, %q", w.Title.Text, w.Connection.Text, tt.title, tt.line)
			}
			if (tt.printMsg == "") != (w.PrinterMsg.Text == "") || !strings.Contains(w.PrinterMsg.Text, tt.printMsg) {
				t.Errorf("printer line %q, want %q", w.PrinterMsg.Text, tt.printMsg)
			}
			if w.CheckIn.Disabled() == tt.enabled {
				t.Errorf("check-in enabled = %v, want %v", !w.CheckIn.Disabled(), tt.enabled)
			}
		})
	}
}

func TestOfflineIndicatorFollowsStatus(t *testing.T) {
	b := newBackend()
	a, _, _ := newApp(t, b, screens.Options{})
	if a.Welcome.Connection.Text != "Online" {
		t.Fatalf("line %q", a.Welcome.Connection.Text)
	}
	b.mu.Lock()
	b.status.Online = false
	b.mu.Unlock()
	a.StatusChanged()
	if !strings.Contains(a.Welcome.Connection.Text, "offline") || a.Welcome.CheckIn.Disabled() {
		t.Errorf("offline: line %q, check-in disabled %v; want a calm offline note and check-in still working",
			a.Welcome.Connection.Text, a.Welcome.CheckIn.Disabled())
	}
}

// fakePairer hands out codes from pairing.QRCodePNG.
type fakePairer struct {
	mu     sync.Mutex
	starts int
	paired bool
	now    func() time.Time
}

func (p *fakePairer) Start(context.Context) (screens.PairingCode, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts++
	code := []string{"BCDF-GHJK", "LMNP-QRST", "VWXZ-BCDF"}[(p.starts-1)%3]
	uri := "https://visitor.example.com/pair?code=" + strings.ReplaceAll(code, "-", "")
	png, err := pairing.QRCodePNG(uri, 0)
	if err != nil {
		return screens.PairingCode{}, err
	}
	return screens.PairingCode{UserCode: code, URI: uri, QRPNG: png, ExpiresAt: p.now().Add(10 * time.Minute)}, nil
}

func (p *fakePairer) Paired(context.Context) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paired, nil
}

func TestPairingScreen(t *testing.T) {
	b := newBackend()
	b.status = edgeapi.Status{}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p := &fakePairer{now: clock}
	a, _, _ := newApp(t, b, screens.Options{Pairer: p, Now: clock})
	if a.Current() != screens.ScreenPairing {
		t.Fatalf("unpaired kiosk shows %q", a.Current())
	}
	code := a.Pairing.Code()
	if a.Pairing.UserCode.Text != "BCDF-GHJK" || a.Pairing.UserCode.TextSize < 60 {
		t.Errorf("user code %q at size %v; want large", a.Pairing.UserCode.Text, a.Pairing.UserCode.TextSize)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(a.Pairing.QRImage())
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR shown does not decode: %v", err)
	}
	if res.GetText() != code.URI || !strings.Contains(res.GetText(), "BCDFGHJK") {
		t.Errorf("QR decodes to %q, want %q", res.GetText(), code.URI)
	}
	now = now.Add(9*time.Minute + 30*time.Second)
	a.Tick()
	if a.Pairing.Countdown.Text != "This code expires in 0:30" {
		t.Errorf("countdown %q", a.Pairing.Countdown.Text)
	}
	now = now.Add(31 * time.Second)
	a.Tick()
	if a.Pairing.UserCode.Text != "LMNP-QRST" || p.starts != 2 {
		t.Errorf("after expiry the code is %q (%d starts); want a new one", a.Pairing.UserCode.Text, p.starts)
	}
	p.paired = true
	b.status = edgeapi.Status{Paired: true}
	a.StatusChanged()
	if a.Current() != screens.ScreenWelcome {
		t.Errorf("after approval: %q", a.Current())
	}
}

func TestTouchTargetsAndKeyboard(t *testing.T) {
	b := newBackend()
	a, win, _ := newApp(t, b, screens.Options{})
	fyne.CurrentApp().Settings().SetTheme(screens.Theme())
	for label, k := range a.Keyboard.Keys {
		if h := k.MinSize().Height; h < screens.MinTouch {
			t.Errorf("key %q is %v high, want ≥ %d", label, h, screens.MinTouch)
		}
	}
	for _, btn := range []*widget.Button{a.Welcome.CheckIn, a.Welcome.CheckOut, a.Welcome.Invite, a.CheckIn.Confirm, a.Confirm.Done} {
		if h := btn.MinSize().Height; h < screens.MinTouch {
			t.Errorf("button %q is %v high", btn.Text, h)
		}
	}
	test.Tap(a.Welcome.CheckIn)
	typeInto(win, a, a.CheckIn.Email, "g.h-1_x@navy.mil")
	if got := a.CheckIn.Email.Text; got != "g.h-1_x@navy.mil" {
		t.Errorf("typed %q", got)
	}
	a.Keyboard.Keys["⌫"].OnTapped()
	a.Keyboard.Keys["Space"].OnTapped()
	if got := a.CheckIn.Email.Text; got != "g.h-1_x@navy.mi " {
		t.Errorf("after backspace and space: %q", got)
	}
	// Tapping keys: a new field starts in capitals, then lower case; shift
	// comes back after a space.
	win.Canvas().Focus(a.CheckIn.Company)
	for _, k := range []string{"A", "C", "M", "E", "Space", "C", "O"} {
		a.Keyboard.Keys[k].OnTapped()
	}
	if got := a.CheckIn.Company.Text; got != "Acme Co" {
		t.Errorf("tapped keys gave %q, want %q", got, "Acme Co")
	}
	a.Keyboard.Keys["Shift"].OnTapped()
	a.Keyboard.Keys["X"].OnTapped()
	if got := a.CheckIn.Company.Text; got != "Acme CoX" {
		t.Errorf("after shift: %q", got)
	}
}

// logoPNG is a w×h two-colour PNG logo.
func logoPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 0x10, G: 0x40, B: 0xa0, A: 0xff}
			if x > w/2 {
				c = color.RGBA{R: 0xf0, G: 0x90, B: 0x20, A: 0xff}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// shownLogo returns the welcome screen's logo image when it is laid out
// on the window, visible, with a size and a picture; nil otherwise.
func shownLogo(win fyne.Window, a *screens.App) image.Image {
	for _, o := range test.LaidOutObjects(win.Canvas().Content()) {
		if img, ok := o.(*canvas.Image); ok && img == a.Welcome.Logo && img.Visible() && !img.Size().IsZero() {
			return img.Image
		}
	}
	return nil
}

func TestWelcomeLogo(t *testing.T) {
	logo := logoPNG(t, 300, 100)
	tests := []struct {
		name string
		logo []byte
		want bool
	}{
		{"tenant logo", logo, true},
		{"no logo", nil, false},
		{"bytes that do not decode", []byte("\x89PNG not really"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			b.info.Logo = tt.logo
			a, win, _ := newApp(t, b, screens.Options{})
			if got := shownLogo(win, a) != nil; got != tt.want {
				t.Fatalf("logo shown = %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			l := a.Welcome.Logo
			if l.FillMode != canvas.ImageFillContain || l.Size().Height > screens.LogoMaxHeight+1 {
				t.Errorf("logo fill %v, size %v; want contained within %d high", l.FillMode, l.Size(), screens.LogoMaxHeight)
			}
			if l.Position().Y >= a.Welcome.Title.Position().Y {
				t.Errorf("logo at y=%v is not above the location name at y=%v", l.Position().Y, a.Welcome.Title.Position().Y)
			}
		})
	}
}

func TestWelcomeLogoFollowsSettings(t *testing.T) {
	b := newBackend()
	a, win, _ := newApp(t, b, screens.Options{})
	if shownLogo(win, a) != nil {
		t.Fatal("a logo is shown before the tenant has one")
	}
	setLogo := func(logo []byte) {
		b.mu.Lock()
		b.info.Logo = logo
		b.mu.Unlock()
		a.StatusChanged() // the adapter calls it every few seconds
	}
	first, second := logoPNG(t, 300, 100), logoPNG(t, 100, 100)
	setLogo(first)
	if img := shownLogo(win, a); img == nil || img.Bounds().Dx() != 300 {
		t.Fatal("the logo is not shown after it arrived")
	}
	setLogo(second)
	if img := shownLogo(win, a); img == nil || img.Bounds().Dx() != 100 {
		t.Fatal("after the logo changed, the new 100-px logo is not shown")
	}
	setLogo(nil)
	if shownLogo(win, a) != nil {
		t.Error("a logo is shown after it was removed")
	}
}
