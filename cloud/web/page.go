package web

import (
	"fmt"
	"html"
	"net/http"
)

// errorPage is the minimal HTML page for errors on console routes. Its
// text names the reason (DESIGN.md pins "Access Denied", "Token already
// used" and "No account found").
func errorPage(status int, msg string) string {
	title := http.StatusText(status)
	if status == http.StatusForbidden {
		title = "Access Denied"
	}
	return fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s · The One Visitor</title></head>
<body><main><h1>%s</h1><p>%s</p><p><a href="/">Back to The One Visitor</a></p></main></body></html>`,
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
}
