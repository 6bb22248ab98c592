package screens

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// Field is a text entry that tells the on-screen keyboard it has focus,
// so the keyboard types into it.
type Field struct {
	widget.Entry
	onFocus func(*Field)
}

// NewField returns an entry with a placeholder; onFocus (may be nil) runs
// when it gains focus.
func NewField(placeholder string, onFocus func(*Field)) *Field {
	f := &Field{onFocus: onFocus}
	f.ExtendBaseWidget(f)
	f.PlaceHolder = placeholder
	f.Wrapping = fyne.TextWrapOff
	return f
}

// FocusGained makes this field the keyboard's target.
func (f *Field) FocusGained() {
	f.Entry.FocusGained()
	if f.onFocus != nil {
		f.onFocus(f)
	}
}

// Keyboard is the kiosk's on-screen keyboard: letters, digits, @ . - _,
// space, backspace and shift. It types into the Field that last had
// focus (tapping a key takes focus away from it, so the keyboard keeps
// its own target and gives focus back).
type Keyboard struct {
	// Keys maps each key's label ("A", "1", "@", "Space", "⌫", "Shift")
	// to its button, for tests.
	Keys    map[string]*widget.Button
	target  *Field
	shift   bool
	onTouch func()
	content fyne.CanvasObject
	letters []*widget.Button
}

// NewKeyboard builds the keyboard. onTouch (may be nil) runs on every key,
// to keep the idle timer from firing while someone types.
func NewKeyboard(onTouch func()) *Keyboard {
	k := &Keyboard{Keys: map[string]*widget.Button{}, onTouch: onTouch}
	rows := []string{"1234567890", "QWERTYUIOP", "ASDFGHJKL@", "ZXCVBNM.-_"}
	var grid []fyne.CanvasObject
	for _, row := range rows {
		var keys []fyne.CanvasObject
		for _, r := range row {
			label := string(r)
			b := widget.NewButton(label, func() { k.typeRune(r) })
			k.Keys[label] = b
			if r >= 'A' && r <= 'Z' {
				k.letters = append(k.letters, b)
			}
			keys = append(keys, b)
		}
		grid = append(grid, container.NewGridWithColumns(len(keys), keys...))
	}
	shift := widget.NewButton("Shift", k.toggleShift)
	space := widget.NewButton("Space", func() { k.typeRune(' ') })
	back := widget.NewButton("⌫", k.backspace)
	k.Keys["Shift"], k.Keys["Space"], k.Keys["⌫"] = shift, space, back
	bottom := container.NewBorder(nil, nil, shift, back, space)
	grid = append(grid, bottom)
	k.content = container.NewVBox(grid...)
	k.setShift(true)
	return k
}

// Content is the keyboard's root object.
func (k *Keyboard) Content() fyne.CanvasObject { return k.content }

// SetTarget makes f the field keys type into (nil for none).
func (k *Keyboard) SetTarget(f *Field) {
	k.target = f
	// Start a new word in capitals: names and companies mostly are.
	k.setShift(f != nil && f.Text == "")
}

// Target returns the field keys type into.
func (k *Keyboard) Target() *Field { return k.target }

// Type taps the keys for s (tests and scanners): letters in either case,
// digits and the symbols on the keyboard.
func (k *Keyboard) Type(s string) {
	for _, r := range s {
		up := strings.ToUpper(string(r))
		if r == ' ' {
			up = "Space"
		}
		b, ok := k.Keys[up]
		if !ok {
			continue
		}
		isLetter := up != strings.ToLower(up)
		if isLetter && (r >= 'A' && r <= 'Z') != k.shift {
			k.toggleShift()
		}
		b.OnTapped()
	}
}

func (k *Keyboard) touch() {
	if k.onTouch != nil {
		k.onTouch()
	}
}

func (k *Keyboard) typeRune(r rune) {
	k.touch()
	if k.target == nil {
		return
	}
	if r >= 'A' && r <= 'Z' && !k.shift {
		r += 'a' - 'A'
	}
	k.target.TypedRune(r)
	k.refocus()
	// Shift lasts one letter, and comes back after a space.
	if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
		k.setShift(false)
	} else if r == ' ' {
		k.setShift(true)
	}
}

func (k *Keyboard) backspace() {
	k.touch()
	if k.target == nil {
		return
	}
	k.target.TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
	k.refocus()
}

func (k *Keyboard) toggleShift() {
	k.touch()
	k.setShift(!k.shift)
}

func (k *Keyboard) setShift(on bool) {
	k.shift = on
	for _, b := range k.letters {
		t := b.Text
		if on {
			b.SetText(strings.ToUpper(t))
		} else {
			b.SetText(strings.ToLower(t))
		}
	}
	if b := k.Keys["Shift"]; b != nil {
		if on {
			b.Importance = widget.HighImportance
		} else {
			b.Importance = widget.MediumImportance
		}
		b.Refresh()
	}
}

func (k *Keyboard) refocus() {
	if c := fyne.CurrentApp().Driver().CanvasForObject(k.target); c != nil && c.Focused() != k.target {
		c.Focus(k.target)
	}
}
