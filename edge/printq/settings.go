package printq

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/printer"
	"github.com/theonestack/visitor/edge/store"
)

// Kind names a printer driver. Values are stable strings kept in the
// kiosk's meta table and shown in the admin screen.
type Kind string

// Printer kinds.
const (
	KindDir     Kind = "dir"     // files in a directory (development; default DataDir/badges)
	KindCUPS    Kind = "cups"    // a CUPS queue through lp
	KindBrother Kind = "brother" // Brother QL raster over TCP 9100
	KindZebra   Kind = "zebra"   // Zebra ZPL over TCP 9100
)

// Kinds lists every printer kind in the order the admin screen offers them.
func Kinds() []Kind { return []Kind{KindDir, KindCUPS, KindBrother, KindZebra} }

// MetaPrinter is the meta key holding the kiosk's printer Settings (JSON).
const MetaPrinter = "printer_settings"

// Settings is the kiosk's printer choice. Target is the directory (dir),
// the queue name (cups) or host:port (brother, zebra). Size is the label
// stock; empty means the kind's usual stock.
type Settings struct {
	Kind   Kind       `json:"kind"`
	Target string     `json:"target"`
	Size   badge.Size `json:"size"`
}

// DefaultSettings is a directory sink in dataDir/badges on 62×100 mm labels.
func DefaultSettings(dataDir string) Settings {
	return Settings{Kind: KindDir, Target: filepath.Join(dataDir, "badges"), Size: badge.Brother62x100}
}

// Normalize fills the default label size of the kind (and port 9100 for
// network printers given without one).
func (s Settings) Normalize() Settings {
	if s.Size == "" || s.Kind == KindBrother {
		s.Size = badge.Brother62x100
		if s.Kind == KindZebra {
			s.Size = badge.Label4x3in
		}
	}
	if (s.Kind == KindBrother || s.Kind == KindZebra) && s.Target != "" {
		if _, _, err := net.SplitHostPort(s.Target); err != nil {
			s.Target = net.JoinHostPort(s.Target, "9100")
		}
	}
	return s
}

// Validate checks the settings; an EINVALID *visitor.Error names the
// problem in words an admin understands.
func (s Settings) Validate() error {
	if !s.Size.Valid() {
		return visitor.Errorf(visitor.EINVALID, "unknown label size %q", s.Size)
	}
	switch s.Kind {
	case KindDir:
		if s.Target == "" {
			return visitor.Errorf(visitor.EINVALID, "the badge folder is required")
		}
	case KindCUPS:
		if _, err := printer.NewCUPS(s.Target, printer.CUPSOptions{}); err != nil {
			return visitor.Errorf(visitor.EINVALID, "%q is not a CUPS queue name", s.Target)
		}
	case KindBrother, KindZebra:
		if s.Kind == KindBrother && s.Size != badge.Brother62x100 {
			return visitor.Errorf(visitor.EINVALID, "a Brother QL prints %s labels only", badge.Brother62x100)
		}
		host, port, err := net.SplitHostPort(s.Target)
		if err != nil || host == "" {
			return visitor.Errorf(visitor.EINVALID, "the printer address must be host:port, for example 192.168.1.50:9100")
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return visitor.Errorf(visitor.EINVALID, "the printer port must be 1–65535")
		}
	default:
		return visitor.Errorf(visitor.EINVALID, "unknown printer kind %q (dir, cups, brother or zebra)", s.Kind)
	}
	return nil
}

// String describes the printer for staff and for the cloud's console,
// e.g. "brother 192.168.1.50:9100".
func (s Settings) String() string { return string(s.Kind) + " " + s.Target }

// NewPrinter builds the driver for s. Dir creates its directory.
func NewPrinter(s Settings) (printer.Printer, error) {
	switch s.Kind {
	case KindDir:
		if err := os.MkdirAll(s.Target, 0o750); err != nil {
			return nil, fmt.Errorf("badge folder: %w", err)
		}
		return printer.NewDir(s.Target), nil
	case KindCUPS:
		return printer.NewCUPS(s.Target, printer.CUPSOptions{})
	case KindBrother:
		media := printer.BrotherDieCut62x100
		return printer.NewBrotherQL(s.Target, printer.BrotherOptions{Media: media}), nil
	case KindZebra:
		return printer.NewZebra(s.Target, printer.ZebraOptions{}), nil
	}
	return nil, visitor.Errorf(visitor.EINVALID, "unknown printer kind %q", s.Kind)
}

// loadSettings reads the settings from meta, or def when none are stored.
func loadSettings(ctx context.Context, db *store.DB, def Settings) (Settings, error) {
	raw, err := db.Meta(ctx, MetaPrinter)
	if err != nil {
		return Settings{}, fmt.Errorf("read printer settings: %w", err)
	}
	if raw == "" {
		return def, nil
	}
	var s Settings
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return Settings{}, fmt.Errorf("decode printer settings: %w", err)
	}
	return s.Normalize(), nil
}

func saveSettings(ctx context.Context, db *store.DB, s Settings) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode printer settings: %w", err)
	}
	return db.Write(ctx, func(tx *sql.Tx) error { return store.SetMeta(ctx, tx, MetaPrinter, string(b)) })
}
