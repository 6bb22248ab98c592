package screens

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/edgeapi"
)

// DefaultIdle is how long the kiosk waits without a touch before it goes
// back to the welcome screen and clears every field.
const DefaultIdle = 60 * time.Second

// Options are the App's optional dependencies; the zero value works.
type Options struct {
	// Idle is the idle timeout; default DefaultIdle.
	Idle time.Duration
	// AfterFunc starts a timer that runs f (on any goroutine) after d and
	// returns a function that stops it. Default time.AfterFunc. Tests
	// inject a fake to fire the idle timer at will.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Now is the clock for the pairing countdown; default time.Now.
	Now func() time.Time
	// Do runs f on the UI goroutine; default fyne.Do.
	Do func(f func())
	// Admin and Pairer enable the admin and pairing screens (nil: none).
	Admin  Admin
	Pairer Pairer
	// Logger receives errors (never visitor data). Default: discard.
	Logger *slog.Logger
}

// Screen names, for Current.
const (
	ScreenWelcome  = "welcome"
	ScreenCheckIn  = "checkin"
	ScreenInvite   = "invite"
	ScreenNDA      = "nda"
	ScreenConfirm  = "confirm"
	ScreenCheckOut = "checkout"
	ScreenPairing  = "pairing"
	ScreenPIN      = "pin"
	ScreenAdmin    = "admin"
)

// App is the kiosk: its screens, the keyboard, the idle timer and the
// check-in in progress. All methods run on the UI goroutine unless noted.
type App struct {
	b    Backend
	opts Options
	log  *slog.Logger
	win  fyne.Window

	Keyboard *Keyboard
	Welcome  *Welcome
	CheckIn  *CheckInForm
	Invite   *InviteForm
	NDA      *NDAScreen
	Confirm  *Confirmation
	CheckOut *CheckOutForm
	Pairing  *PairingScreen
	PIN      *PINScreen
	Admin    *AdminScreen

	root      *fyne.Container
	current   string
	stopIdle  func() bool
	idleGen   int
	pending   edgeapi.CheckInRequest // the check-in waiting for its NDA
	info      Info
	lastVisit string // the visit on the confirmation screen
}

// New builds the App on win (its content is replaced); call Start to show
// the first screen.
func New(win fyne.Window, b Backend, opts Options) *App {
	if opts.Idle <= 0 {
		opts.Idle = DefaultIdle
	}
	if opts.AfterFunc == nil {
		opts.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Do == nil {
		opts.Do = fyne.Do
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{b: b, opts: opts, log: opts.Logger, win: win}
	a.Keyboard = NewKeyboard(a.Touch)
	a.Welcome = newWelcome(a)
	a.CheckIn = newCheckInForm(a)
	a.Invite = newInviteForm(a)
	a.NDA = newNDAScreen(a)
	a.Confirm = newConfirmation(a)
	a.CheckOut = newCheckOutForm(a)
	a.Pairing = newPairingScreen(a)
	a.PIN = newPINScreen(a)
	a.Admin = newAdminScreen(a)
	a.root = container.NewStack()
	win.SetContent(a.root)
	return a
}

// Current names the screen shown.
func (a *App) Current() string { return a.current }

// Do runs f on the UI goroutine; safe from any goroutine. Every update
// from the engine (status, badge printing, timers) goes through it.
func (a *App) Do(f func()) { a.opts.Do(f) }

// Start shows the welcome screen, or the pairing screen when the kiosk is
// not paired.
func (a *App) Start(ctx context.Context) { a.Home(ctx) }

// Home clears every field and shows the welcome screen (or pairing).
func (a *App) Home(ctx context.Context) {
	a.reset()
	st, err := a.b.Status(ctx)
	if err == nil && !st.Paired && !st.Revoked && a.opts.Pairer != nil {
		a.show(ScreenPairing, a.Pairing.content)
		a.Pairing.begin(ctx)
		return
	}
	a.Welcome.Refresh(ctx)
	a.show(ScreenWelcome, a.Welcome.content)
}

// reset clears every field of every screen and forgets the visitor.
func (a *App) reset() {
	a.CheckIn.reset()
	a.Invite.reset()
	a.NDA.reset()
	a.Confirm.reset()
	a.CheckOut.reset()
	a.PIN.reset()
	a.Admin.reset()
	a.pending = edgeapi.CheckInRequest{}
	a.lastVisit = ""
	a.Keyboard.SetTarget(nil)
}

func (a *App) show(name string, content fyne.CanvasObject) {
	a.current = name
	a.root.Objects = []fyne.CanvasObject{content}
	a.root.Refresh()
	if c := a.win.Canvas(); c != nil {
		c.Unfocus()
	}
	a.Touch()
}

// Touch restarts the idle timer; every tap and key calls it. On the
// welcome and pairing screens there is nothing to clear, so no timer runs.
func (a *App) Touch() {
	if a.stopIdle != nil {
		a.stopIdle()
		a.stopIdle = nil
	}
	if a.current == ScreenWelcome || a.current == ScreenPairing {
		return
	}
	a.idleGen++
	gen := a.idleGen
	a.stopIdle = a.opts.AfterFunc(a.opts.Idle, func() {
		a.Do(func() {
			if gen == a.idleGen { // not superseded by a later touch
				a.Home(context.Background())
			}
		})
	})
}

// info reads the kiosk's settings (at each new check-in: they sync down).
func (a *App) loadInfo(ctx context.Context) Info {
	info, err := a.b.Info(ctx)
	if err != nil {
		a.log.Error("kiosk info", "err", err)
	}
	a.info = info
	return info
}

// submit checks the visitor in with req: through the NDA screen first
// when the tenant requires one. Nothing is committed until the visitor
// has signed and agreed (form → NDA → commit → confirmation).
func (a *App) submit(ctx context.Context, req edgeapi.CheckInRequest, onErr func(string)) {
	if a.info.NDA.Enabled {
		a.pending = req
		a.NDA.prepare(a.info.NDA)
		a.show(ScreenNDA, a.NDA.content)
		return
	}
	a.finishCheckIn(ctx, req, nil, onErr)
}

// finishCheckIn commits the check-in: with the signed NDA in the same
// request when there is one, so the visit, its NDA and the check-in op
// the cloud receives are one transaction.
func (a *App) finishCheckIn(ctx context.Context, req edgeapi.CheckInRequest, signature []byte, onErr func(string)) {
	if signature != nil {
		req.NDA = &edgeapi.NDASignature{Version: a.info.NDA.Version, Signature: signature}
	}
	v, err := a.b.CheckIn(ctx, req)
	if err != nil {
		onErr(userMessage(err, "Sorry, that did not work. Please ask reception."))
		return
	}
	host := ""
	if v.HostID != "" {
		host = a.CheckIn.hostName(v.HostID)
	}
	a.reset()
	a.lastVisit = v.ID
	a.Confirm.show(v.Visitor.Name, host)
	a.show(ScreenConfirm, a.Confirm.content)
	a.refreshBadge(ctx)
}

// BadgeChanged updates the confirmation screen when the badge of visitID
// changes. Safe from any goroutine.
func (a *App) BadgeChanged(visitID string) {
	a.Do(func() {
		if a.current == ScreenConfirm && visitID == a.lastVisit {
			a.refreshBadge(context.Background())
		}
	})
}

func (a *App) refreshBadge(ctx context.Context) {
	st, err := a.b.Badge(ctx, a.lastVisit)
	if err != nil {
		st = BadgeAskStaff
	}
	a.Confirm.setBadge(st)
}

// StatusChanged refreshes the welcome screen's status line. Safe from any
// goroutine.
func (a *App) StatusChanged() {
	a.Do(func() {
		switch a.current {
		case ScreenWelcome:
			a.Welcome.Refresh(context.Background())
		case ScreenPairing:
			a.Pairing.poll(context.Background())
		}
	})
}

// Tick advances the pairing countdown; the kiosk's main calls it every
// second. Safe from any goroutine.
func (a *App) Tick() {
	a.Do(func() {
		if a.current == ScreenPairing {
			a.Pairing.tick(context.Background())
		}
	})
}

// userMessage is the text of a *visitor.Error a visitor may act on, else
// fallback (internal errors are never shown).
func userMessage(err error, fallback string) string {
	var ve *visitor.Error
	if errors.As(err, &ve) && ve.Code != visitor.EINTERNAL {
		return visitor.ErrorMessage(err)
	}
	return fallback
}
