package badge

import (
	visitor "github.com/theonestack/visitor"
)

// Size is a label stock the kiosk prints on. Its value is a stable name, safe
// to store in the print queue and in kiosk settings.
type Size string

// Supported label sizes.
const (
	// Brother62x100 is Brother DK-11202 die-cut labels, 62 × 100 mm, on a
	// QL-820NWB at 300 dpi: a portrait badge of 696 × 1109 dots, the printable
	// area Brother gives for this stock (1.5 mm unprinted at each edge).
	Brother62x100 Size = "brother_62x100"
	// Label4x3in is a 4 × 3 inch landscape label on a 203 dpi Zebra:
	// 812 × 609 dots.
	Label4x3in Size = "label_4x3in"
)

// sizeSpec is the geometry of one Size.
type sizeSpec struct {
	widthDots, heightDots int
	dpi                   int
	widthMM, heightMM     float64 // the whole label, for PDF pages
	media                 string  // CUPS media option
}

func (s Size) spec() (sizeSpec, bool) {
	switch s {
	case Brother62x100:
		return sizeSpec{696, 1109, 300, 62, 100, "Custom.62x100mm"}, true
	case Label4x3in:
		return sizeSpec{812, 609, 203, 101.6, 76.2, "Custom.4x3in"}, true
	}
	return sizeSpec{}, false
}

// Sizes returns every supported size, in a fixed order.
func Sizes() []Size { return []Size{Brother62x100, Label4x3in} }

// ParseSize returns the Size named s, or an EINVALID *visitor.Error.
func ParseSize(s string) (Size, error) {
	if _, ok := Size(s).spec(); !ok {
		return "", visitor.Errorf(visitor.EINVALID, "unknown label size %q (supported: %s, %s)", s, Brother62x100, Label4x3in)
	}
	return Size(s), nil
}

// Valid reports whether s is a supported size.
func (s Size) Valid() bool { _, ok := s.spec(); return ok }

// Dots returns the rendered image's width and height in printer dots (0, 0
// for an unknown size).
func (s Size) Dots() (width, height int) { sp, _ := s.spec(); return sp.widthDots, sp.heightDots }

// DPI returns the printer resolution the size is rendered for.
func (s Size) DPI() int { sp, _ := s.spec(); return sp.dpi }

// MM returns the label's physical width and height in millimetres (the PDF
// page size).
func (s Size) MM() (width, height float64) { sp, _ := s.spec(); return sp.widthMM, sp.heightMM }

// Media returns the CUPS media option value for the size ("Custom.62x100mm").
func (s Size) Media() string { sp, _ := s.spec(); return sp.media }
