package screens

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// MinTouch is the smallest height, in Fyne units (pixels at scale 1), of
// anything a visitor taps.
const MinTouch = 48

// kioskTheme is a light, large theme readable at arm's length: 22-unit
// body text, 44-unit headings and padding that makes every button at
// least MinTouch high.
type kioskTheme struct{ base fyne.Theme }

// Theme returns the kiosk's theme.
func Theme() fyne.Theme { return kioskTheme{base: theme.DefaultTheme()} }

func (k kioskTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return k.base.Color(n, theme.VariantLight)
}

func (k kioskTheme) Font(s fyne.TextStyle) fyne.Resource { return k.base.Font(s) }

func (k kioskTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return k.base.Icon(n) }

func (k kioskTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText:
		return 22
	case theme.SizeNameHeadingText:
		return 44
	case theme.SizeNameSubHeadingText:
		return 30
	case theme.SizeNameCaptionText:
		return 16
	case theme.SizeNameInnerPadding:
		return 14
	case theme.SizeNamePadding:
		return 6
	case theme.SizeNameInlineIcon:
		return 28
	case theme.SizeNameInputBorder:
		return 2
	}
	return k.base.Size(n)
}
