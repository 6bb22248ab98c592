package screens

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Badge messages on the confirmation screen.
const (
	MsgBadgePrinting = "Your badge is printing…"
	MsgBadgePrinted  = "Your badge is printed. Please take it from the printer."
	MsgBadgeAskStaff = "Please ask reception for a badge."
)

// Confirmation tells the visitor they are checked in, whom we told, and
// how their badge is doing.
type Confirmation struct {
	a *App

	Title *widget.Label
	Host  *widget.Label
	Badge *widget.Label
	Done  *widget.Button

	content fyne.CanvasObject
}

func newConfirmation(a *App) *Confirmation {
	c := &Confirmation{a: a}
	c.Title = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	c.Title.SizeName = theme.SizeNameHeadingText
	c.Title.Wrapping = fyne.TextWrapWord
	c.Host = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	c.Badge = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	c.Done = widget.NewButtonWithIcon("Done", theme.ConfirmIcon(), func() { a.Home(context.Background()) })
	c.Done.Importance = widget.HighImportance
	c.content = container.NewVBox(layout.NewSpacer(), c.Title, c.Host, c.Badge, layout.NewSpacer(), c.Done)
	return c
}

func (c *Confirmation) show(name, host string) {
	c.Title.SetText("Welcome, " + firstName(name) + "!")
	if host != "" {
		c.Host.SetText("We have let " + host + " know you are here.")
	} else {
		c.Host.SetText("You are checked in. Please take a seat.")
	}
	c.Badge.SetText(MsgBadgePrinting)
}

func (c *Confirmation) setBadge(s BadgeState) {
	switch s {
	case BadgePrinting, BadgeUnknown:
		c.Badge.SetText(MsgBadgePrinting)
	case BadgePrinted:
		c.Badge.SetText(MsgBadgePrinted)
	case BadgeNoPrinter:
		c.Badge.SetText("")
	default:
		c.Badge.SetText(MsgBadgeAskStaff)
	}
}

func (c *Confirmation) reset() {
	c.Title.SetText("")
	c.Host.SetText("")
	c.Badge.SetText("")
}

func firstName(name string) string {
	for i, r := range name {
		if r == ' ' {
			return name[:i]
		}
	}
	return name
}
