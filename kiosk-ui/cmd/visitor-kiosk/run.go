package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/software"

	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/kiosk-ui/screens"
)

// config is the kiosk's configuration.
type config struct {
	Engine     edge.Config
	Fullscreen bool
	Idle       time.Duration
	PIN        string
	Screenshot string // write the first frame here as PNG, then exit
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	envOr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("visitor-kiosk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Engine.DataDir, "data", envOr("VISITOR_EDGE_DATA", edge.DefaultDataDir), "data directory (VISITOR_EDGE_DATA)")
	fs.StringVar(&c.Engine.CloudURL, "cloud", envOr("VISITOR_CLOUD_URL", edge.DefaultCloudURL), "cloud base URL (VISITOR_CLOUD_URL)")
	fs.BoolVar(&c.Fullscreen, "fullscreen", false, "full screen with no window chrome")
	idle := fs.String("idle", envOr("VISITOR_KIOSK_IDLE", screens.DefaultIdle.String()), "idle time before returning to the welcome screen (VISITOR_KIOSK_IDLE)")
	fs.StringVar(&c.Screenshot, "screenshot", "", "write a PNG of the first screen to this file and exit (diagnostics)")
	if err := fs.Parse(args); err != nil {
		return config{}, fmt.Errorf("%w: %w", edge.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("%w: unexpected argument %q", edge.ErrUsage, fs.Arg(0))
	}
	d, err := time.ParseDuration(*idle)
	if err != nil || d < 5*time.Second || d > time.Hour {
		return config{}, fmt.Errorf("%w: VISITOR_KIOSK_IDLE (--idle) %q must be a duration from 5s to 1h", edge.ErrUsage, *idle)
	}
	c.Idle = d
	c.PIN = getenv("VISITOR_KIOSK_PIN")
	if c.PIN != "" && (len(c.PIN) < 4 || len(c.PIN) > 12 || !digits(c.PIN)) {
		return config{}, fmt.Errorf("%w: VISITOR_KIOSK_PIN must be 4 to 12 digits", edge.ErrUsage)
	}
	c.Engine.LocalAPIAddr = edge.DefaultLocalAPIAddr // not served by the kiosk app; keeps Validate happy
	if err := c.Engine.Validate(); err != nil {
		return config{}, err
	}
	return c, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// run opens the engine in the configured data directory, runs sync and the
// badge printer, and shows the kiosk on fa until the window closes or ctx
// ends. Logs go to stderr without visitor data.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, fa fyne.App) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	eng, err := edge.Open(ctx, cfg.Engine, edge.Options{Logger: log, PrintBadges: true, AppVersion: "kiosk"})
	if err != nil {
		return err
	}
	defer eng.Close()
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }()
	wg.Go(func() { _ = eng.RunSync(bg) })
	wg.Go(func() { _ = eng.RunPrinter(bg) })

	fa.Settings().SetTheme(screens.Theme())
	win := fa.NewWindow("Visitor check-in")
	if cfg.Fullscreen {
		win.SetFullScreen(true)
		win.SetPadded(false)
	} else {
		win.Resize(fyne.NewSize(1080, 1400))
	}
	ad := newAdapter(eng, hashPIN(cfg.PIN))
	kiosk := screens.New(win, ad, screens.Options{Idle: cfg.Idle, Admin: ad, Pairer: ad.pairer(), Logger: log})
	kiosk.Start(ctx)
	ad.connect(bg, kiosk, &wg)

	var shotErr error
	if cfg.Screenshot != "" {
		wg.Go(func() {
			select {
			case <-bg.Done():
				return
			case <-time.After(1500 * time.Millisecond): // a few frames
			}
			fyne.DoAndWait(func() { shotErr = writePNG(cfg.Screenshot, win) })
			fyne.Do(fa.Quit)
		})
	}
	wg.Go(func() {
		select {
		case <-ctx.Done():
			fyne.Do(fa.Quit)
		case <-bg.Done():
		}
	})
	log.Info("visitor-kiosk started", "data", cfg.Engine.DataDir, "cloud", cfg.Engine.CloudURL, "fullscreen", cfg.Fullscreen)
	win.ShowAndRun()
	return shotErr
}

// writePNG writes the window's picture. Some OpenGL drivers (Mesa under
// Xvfb) return an empty buffer from Capture once the frame was swapped;
// then the canvas is painted again in software from the same widgets.
func writePNG(path string, win fyne.Window) error {
	img := win.Canvas().Capture()
	if img == nil || uniform(img) {
		size := win.Canvas().Size()
		c := software.NewCanvas()
		c.SetContent(win.Content()) // the app quits right after
		c.Resize(size)
		img = c.Capture()
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("screenshot: %w", err)
	}
	return f.Close()
}

func hashPIN(pin string) []byte {
	if pin == "" {
		return nil
	}
	h := sha256.Sum256([]byte(pin))
	return h[:]
}

func checkPIN(want []byte, pin string) bool {
	if want == nil {
		return false
	}
	h := sha256.Sum256([]byte(pin))
	return subtle.ConstantTimeCompare(want, h[:]) == 1
}

var errNoPrinter = errors.New("badge printing is off")

// uniform reports whether every sampled pixel of img has the same colour.
func uniform(img image.Image) bool {
	b := img.Bounds()
	if b.Empty() {
		return true
	}
	first := img.At(b.Min.X, b.Min.Y)
	r0, g0, b0, a0 := first.RGBA()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			if r, g, bb, a := img.At(x, y).RGBA(); r != r0 || g != g0 || bb != b0 || a != a0 {
				return false
			}
		}
	}
	return true
}
