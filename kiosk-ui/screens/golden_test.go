package screens_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/theonestack/visitor/kiosk-ui/screens"
)

// update rewrites the golden markup in testdata/ (go test -run Golden -update).
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenSize is the lobby screen the goldens are laid out on (landscape 1280×800).
var goldenSize = fyne.NewSize(1280, 800)

// goldenApp is the kiosk on a fixed window size, the kiosk theme and a
// fixed clock, so the markup depends only on the screens' layout.
func goldenApp(t *testing.T, b *fakeBackend) (*screens.App, fyne.Window) {
	t.Helper()
	app := test.NewTempApp(t)
	app.Settings().SetTheme(screens.Theme())
	win := test.NewTempWindow(t, nil)
	win.SetPadded(false)
	win.Resize(goldenSize)
	clock := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	never := func(time.Duration, func()) func() bool { return func() bool { return true } }
	a := screens.New(win, b, screens.Options{Now: clock, AfterFunc: never})
	a.Start(context.Background())
	return a, win
}

// assertGolden compares the window's markup with testdata/name, or writes
// it with -update.
func assertGolden(t *testing.T, win fyne.Window, name string) {
	t.Helper()
	win.Canvas().Unfocus() // no caret in the goldens
	if *update {
		path := filepath.Join("testdata", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(test.RenderToMarkup(win.Canvas())), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	test.AssertRendersToMarkup(t, name, win.Canvas())
}

func TestGoldenScreens(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		setup  func(t *testing.T, b *fakeBackend)
		walk   func(a *screens.App, win fyne.Window)
	}{
		{"welcome", "welcome.xml", nil, nil},
		{"welcome with logo, offline, printer out of labels", "welcome_logo_offline.xml", func(t *testing.T, b *fakeBackend) {
			b.info.Logo = logoPNG(t, 300, 100)
			b.status.Online = false
			b.printer = screens.PrinterStatus{State: "out_of_media"}
		}, nil},
		{"check-in form", "checkin.xml", func(_ *testing.T, b *fakeBackend) {
			b.info.RequiredFields = []string{"email"}
		}, func(a *screens.App, win fyne.Window) {
			test.Tap(a.Welcome.CheckIn)
			a.CheckIn.Name.SetText("Grace Hopper")
			a.CheckIn.HostSearch.SetText("Ad")
		}},
		{"NDA", "nda.xml", func(_ *testing.T, b *fakeBackend) {
			b.info.NDA = screens.NDA{Enabled: true, Version: "v7",
				Text: "Everything you see or hear during your visit is confidential. You will not share it with anyone outside the company."}
		}, func(a *screens.App, win fyne.Window) {
			test.Tap(a.Welcome.CheckIn)
			a.CheckIn.Name.SetText("Grace Hopper")
			test.Tap(a.CheckIn.Confirm)
		}},
		{"confirmation", "confirm.xml", nil, func(a *screens.App, win fyne.Window) {
			test.Tap(a.Welcome.CheckIn)
			a.CheckIn.Name.SetText("Grace Hopper")
			a.CheckIn.HostSearch.SetText("Ada")
			test.Tap(a.CheckIn.HostButtons()[0])
			test.Tap(a.CheckIn.Confirm)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			if tt.setup != nil {
				tt.setup(t, b)
			}
			a, win := goldenApp(t, b)
			if tt.walk != nil {
				tt.walk(a, win)
			}
			assertGolden(t, win, tt.golden)
		})
	}
}
