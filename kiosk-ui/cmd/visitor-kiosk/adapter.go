package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/edgeapi"
	"github.com/theonestack/visitor/edge/printq"
	"github.com/theonestack/visitor/kiosk-ui/screens"
)

// adapter presents the engine to the screens (screens.Backend and
// screens.Admin) and is the one place engine events reach the UI: it
// forwards badge changes, a status refresh every few seconds and the
// pairing countdown through the App, which applies them with fyne.Do.
type adapter struct {
	*edge.Engine
	pin []byte
}

func newAdapter(e *edge.Engine, pinHash []byte) *adapter { return &adapter{Engine: e, pin: pinHash} }

var (
	_ screens.Backend = (*adapter)(nil)
	_ screens.Admin   = (*adapter)(nil)
)

// connect starts forwarding engine events to the kiosk until ctx ends.
func (a *adapter) connect(ctx context.Context, k *screens.App, wg *sync.WaitGroup) {
	if q := a.PrintQueue(); q != nil {
		cancel := q.Subscribe(func(j printq.Job) {
			if j.VisitID != "" {
				k.BadgeChanged(j.VisitID)
			}
		})
		wg.Go(func() { <-ctx.Done(); cancel() })
	}
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			k.Tick()
			if n%5 == 0 {
				k.StatusChanged()
			}
		}
	})
}

// Info implements screens.Backend.
func (a *adapter) Info(ctx context.Context) (screens.Info, error) {
	ki, err := a.KioskInfo(ctx)
	if err != nil {
		return screens.Info{}, err
	}
	s, err := a.Settings(ctx)
	if err != nil {
		return screens.Info{}, err
	}
	return screens.Info{LocationName: ki.LocationName, TenantName: ki.TenantName, RequiredFields: s.RequiredFields,
		NDA:  screens.NDA{Enabled: s.NDAEnabled && s.NDAText != "", Text: s.NDAText, Version: s.NDAVersion},
		Logo: s.Logo}, nil
}

// Badge implements screens.Backend.
func (a *adapter) Badge(ctx context.Context, visitID string) (screens.BadgeState, error) {
	if a.PrintQueue() == nil {
		return screens.BadgeNoPrinter, nil
	}
	j, err := a.BadgeJob(ctx, visitID)
	if err != nil {
		if visitor.ErrorCode(err) == visitor.ENOTFOUND {
			return screens.BadgeAskStaff, nil // never queued
		}
		return screens.BadgeUnknown, err
	}
	return badgeState(j), nil
}

func badgeState(j printq.Job) screens.BadgeState {
	switch {
	case j.State == printq.StatePrinted:
		return screens.BadgePrinted
	case j.State == printq.StateFailed || j.Retrying():
		return screens.BadgeAskStaff
	}
	return screens.BadgePrinting
}

// Printer implements screens.Backend.
func (a *adapter) Printer() screens.PrinterStatus {
	q := a.PrintQueue()
	if q == nil {
		return screens.PrinterStatus{}
	}
	st := q.Status()
	return screens.PrinterStatus{Ready: st.Printer.Ready(), State: string(st.Printer.State), Detail: st.Printer.Detail,
		Printer: st.Settings.String(), Waiting: st.Waiting}
}

// CheckPIN implements screens.Admin.
func (a *adapter) CheckPIN(pin string) bool { return checkPIN(a.pin, pin) }

// PrinterSettings implements screens.Admin.
func (a *adapter) PrinterSettings() screens.PrinterSettings {
	q := a.PrintQueue()
	if q == nil {
		return screens.PrinterSettings{}
	}
	s := q.Settings()
	return screens.PrinterSettings{Kind: string(s.Kind), Target: s.Target, Size: string(s.Size)}
}

// SetPrinterSettings implements screens.Admin.
func (a *adapter) SetPrinterSettings(ctx context.Context, s screens.PrinterSettings) error {
	q := a.PrintQueue()
	if q == nil {
		return errNoPrinter
	}
	return q.SetSettings(ctx, printq.Settings{Kind: printq.Kind(s.Kind), Target: s.Target, Size: badge.Size(s.Size)})
}

// TestPrint implements screens.Admin.
func (a *adapter) TestPrint(ctx context.Context) error {
	q := a.PrintQueue()
	if q == nil {
		return errNoPrinter
	}
	_, err := q.TestPrint(ctx)
	return err
}

// Unpair implements screens.Admin: it refuses while the cloud has not
// received every check-in, since unpairing erases them.
func (a *adapter) Unpair(ctx context.Context) error {
	st, err := a.Status(ctx)
	if err != nil {
		return err
	}
	if st.PendingOps > 0 {
		return visitor.Errorf(visitor.ECONFLICT, "%d changes have not reached the cloud yet; connect the kiosk to the network and try again", st.PendingOps)
	}
	if _, err := a.Store().Unpair(ctx); err != nil {
		return fmt.Errorf("unpair: %w", err)
	}
	return nil
}

// pairer returns the engine's pairing flow as a screens.Pairer, or nil
// when this build of the engine has none.
func (a *adapter) pairer() screens.Pairer {
	if p, ok := any(a.Engine).(edgeapi.Pairer); ok {
		return enginePairer{e: a.Engine, p: p}
	}
	return nil
}

type enginePairer struct {
	e *edge.Engine
	p edgeapi.Pairer
}

func (ep enginePairer) Start(ctx context.Context) (screens.PairingCode, error) {
	c, err := ep.p.StartPairing(ctx)
	if err != nil {
		return screens.PairingCode{}, err
	}
	return screens.PairingCode{UserCode: c.UserCode, URI: c.VerificationURIComplete, QRPNG: c.QRPNG, ExpiresAt: c.ExpiresAt}, nil
}

func (ep enginePairer) Paired(ctx context.Context) (bool, error) {
	st, err := ep.e.Status(ctx)
	return st.Paired, err
}
