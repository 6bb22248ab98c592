package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/kiosk-ui/screens"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

// ndaKiosk is the kiosk app over a real, paired engine whose tenant asks
// for NDA version v4.
func ndaKiosk(t *testing.T) (*edge.Engine, *screens.App) {
	t.Helper()
	ctx := context.Background()
	e, err := edge.Open(ctx, edge.Config{DataDir: t.TempDir(), CloudURL: "http://127.0.0.1:1", LocalAPIAddr: "127.0.0.1:0"}, edge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	_, priv, err := pairing.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{4}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Provision(ctx, "dev_nda", "org_nda", "loc_nda", priv); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(visitor.TenantSettings{NDAEnabled: true, NDAText: "What you see here stays here.", NDAVersion: "v4"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store().ApplyChanges(ctx, []syncproto.Change{{Entity: syncproto.EntitySettings, ID: "org_nda", Op: syncproto.ChangeUpsert, Data: raw}}, "c1"); err != nil {
		t.Fatal(err)
	}
	test.NewTempApp(t)
	win := test.NewTempWindow(t, nil)
	win.Resize(fyne.NewSize(1024, 1400))
	k := screens.New(win, newAdapter(e, nil), screens.Options{AfterFunc: func(time.Duration, func()) func() bool { return func() bool { return true } }})
	k.Start(ctx)
	test.Tap(k.Welcome.CheckIn)
	k.CheckIn.Name.SetText("Grace Hopper")
	test.Tap(k.CheckIn.Confirm)
	if k.Current() != screens.ScreenNDA {
		t.Fatalf("screen %q after the form, want the NDA (error %q)", k.Current(), k.CheckIn.Error.Text)
	}
	return e, k
}

func signPad(k *screens.App) {
	for i := range 8 {
		k.NDA.Pad.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(float32(30+i*40), float32(50+i*10))}})
	}
	k.NDA.Pad.DragEnd()
}

func TestKioskNDAIsPartOfTheCheckIn(t *testing.T) {
	ctx := context.Background()
	e, k := ndaKiosk(t)
	if st, _ := e.Status(ctx); st.PendingOps != 0 {
		t.Fatalf("%d ops before the visitor agreed; nothing may be committed yet", st.PendingOps)
	}
	signPad(k)
	test.Tap(k.NDA.Agree)
	if k.Current() != screens.ScreenConfirm {
		t.Fatalf("screen %q after agreeing (error %q)", k.Current(), k.NDA.ErrorMsg.Text)
	}
	visits, err := e.OnSite(ctx)
	if err != nil || len(visits) != 1 {
		t.Fatalf("on site %v, %v; want the one visit", visits, err)
	}
	v := visits[0]
	ver, at, signed, err := e.Store().NDA(ctx, v.ID)
	if err != nil || ver != "v4" || !signed || !at.Equal(v.CheckedInAt) {
		t.Fatalf("committed visit NDA %q at %v signed=%v (%v); want v4 signed at check-in", ver, at, signed, err)
	}
	ops, err := e.Store().OpsFrom(ctx, 1, 10)
	if err != nil || len(ops) == 0 || ops[0].Kind != syncproto.KindVisitCheckIn {
		t.Fatalf("outbox %+v, %v; want the check-in first", ops, err)
	}
	var p syncproto.CheckInPayload
	if err := json.Unmarshal(ops[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.VisitID != v.ID || p.NDAVersion != "v4" || !p.NDASigned {
		t.Errorf("check-in op payload %+v; want NDA v4 signed", p)
	}
}

func TestKioskNDACancelCommitsNothing(t *testing.T) {
	ctx := context.Background()
	e, k := ndaKiosk(t)
	signPad(k)
	test.Tap(k.NDA.Cancel)
	if k.Current() != screens.ScreenWelcome {
		t.Fatalf("screen %q after cancel", k.Current())
	}
	st, err := e.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	visits, err := e.OnSite(ctx)
	if err != nil || len(visits) != 0 || st.PendingOps != 0 {
		t.Errorf("after cancelling at the NDA: %d visits, %d ops (%v); want none", len(visits), st.PendingOps, err)
	}
}
