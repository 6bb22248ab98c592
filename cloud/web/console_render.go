package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
)

// consoleTemplates holds the console's page templates; consoleStatic its
// vendored CSS and JS (htmx, Pico CSS, with their licences) and our own.
// Both are read-only tables built into the binary.
//
//go:embed templates/*.html
var consoleTemplates embed.FS

//go:embed static/*
var consoleStatic embed.FS

// consolePages are the page templates; each is parsed with layout.html at
// start-up, so a missing or broken one stops the server from starting
// rather than failing a request.
var consolePages = []string{
	"home", "visits", "checkin", "onsite", "preregistrations", "hosts", "badges",
	"locations", "displays", "settings", "audit",
}

// console serves the staff web console: server-rendered pages over the
// same store methods as the JSON API, with small progressive enhancement
// (htmx, a Server-Sent Events script for the live visitor log).
type console struct {
	s     *Server
	pages map[string]*template.Template
	live  *liveFeed
}

// newConsole parses every page template once.
func newConsole(s *Server) (*console, error) {
	c := &console{s: s, pages: map[string]*template.Template{}, live: newLiveFeed(s.store, s.log, 500*time.Millisecond)}
	funcs := template.FuncMap{
		"can": func(sess *visitor.Session, p string) bool {
			return sess != nil && sess.Has(visitor.Permission("visitor."+p))
		},
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(consoleTemplates, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	for _, name := range consolePages {
		t, err := template.Must(layout.Clone()).ParseFS(consoleTemplates, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("console template %s defines no content", name)
		}
		c.pages[name] = t
	}
	return c, nil
}

// navItem is one link of the console's navigation.
type navItem struct {
	Page, Label, Href string
	Perm              visitor.Permission // anySession for everyone
}

// consoleNav lists every page a user may be shown, in order; the layout
// shows only those the session's permissions allow.
var consoleNav = []navItem{
	{"home", "Home", "/", anySession},
	{"visits", "Visitor log", "/visits", visitor.PermVisitorsView},
	{"checkin", "Check in", "/visits/new", visitor.PermVisitorsCheckin},
	{"onsite", "On site", "/onsite", visitor.PermVisitorsView},
	{"preregistrations", "Pre-registrations", "/preregistrations", visitor.PermPreregisterManage},
	{"hosts", "Hosts", "/hosts", visitor.PermHostsView},
	{"badges", "Badges", "/badges", visitor.PermBadgesManage},
	{"locations", "Locations", "/locations", anySession},
	{"displays", "Displays", "/displays", visitor.PermAdminKiosk},
	{"settings", "Settings", "/settings", visitor.PermAdminSettings},
	{"audit", "Audit trail", "/audit", visitor.PermAdminSettings},
}

// navFor returns the navigation a session may use.
func navFor(sess *visitor.Session) []navItem {
	var out []navItem
	for _, n := range consoleNav {
		if n.Perm == anySession || (sess != nil && sess.Has(n.Perm)) {
			out = append(out, n)
		}
	}
	return out
}

// form carries a form's submitted values and its validation messages, so
// a refused submission re-renders with everything the user typed and each
// message next to its field.
type form struct {
	Values map[string]string
	Errors map[string]string
	// Error is a message about the whole form.
	Error string
}

func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string]string{}} }

// V is a submitted (or default) value.
func (f *form) V(name string) string { return f.Values[name] }

// E is the validation message of a field, "" if none.
func (f *form) E(name string) string { return f.Errors[name] }

// Invalid reports whether the field has a message (for aria-invalid).
func (f *form) Invalid(name string) bool { return f.Errors[name] != "" }

// OK reports whether the form has no message at all.
func (f *form) OK() bool { return len(f.Errors) == 0 && f.Error == "" }

// fail records a message for a field.
func (f *form) fail(field, msg string) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = msg
	}
}

// readForm reads the named fields of a posted form, trimmed.
func readForm(c *echo.Context, names ...string) (*form, error) {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxJSONBody)
	if err := r.ParseForm(); err != nil {
		return nil, visitor.Errorf(visitor.EINVALID, "unreadable form")
	}
	f := newForm()
	for _, n := range names {
		f.Values[n] = strings.TrimSpace(r.PostForm.Get(n))
	}
	return f, nil
}

// pageData is what every page template receives.
type pageData struct {
	Page    string
	Title   string
	Session *visitor.Session
	Nav     []navItem
	// Flash is a short confirmation shown at the top of the page.
	Flash string
	Form  *form
	Data  any
}

// render writes a full page with the layout.
func (c *console) render(e *echo.Context, status int, page, title string, f *form, data any) error {
	sess, _ := session(e)
	if f == nil {
		f = newForm()
	}
	d := pageData{Page: page, Title: title, Session: sess, Nav: navFor(sess), Form: f, Data: data,
		Flash: flashes[e.QueryParam("done")]}
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	h := e.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	return e.HTMLBlob(status, buf.Bytes())
}

// renderFragment writes one named template of a page (an htmx swap or
// an SSE payload) into buf.
func (c *console) renderFragment(buf *bytes.Buffer, page, name string, data any) error {
	if err := c.pages[page].ExecuteTemplate(buf, name, data); err != nil {
		return fmt.Errorf("render %s/%s: %w", page, name, err)
	}
	return nil
}

// flashes are the fixed confirmations a redirect may ask for with
// ?done=KEY: nothing a user typed travels in the URL.
var flashes = map[string]string{
	"checkin":          "Visitor checked in.",
	"checkout":         "Visitor checked out.",
	"already":          "That visitor was already checked out.",
	"prereg":           "Pre-registration created.",
	"prereg-cancel":    "Pre-registration cancelled.",
	"host":             "Host added.",
	"badge":            "Badge added.",
	"badge-status":     "Badge updated.",
	"location":         "Location added.",
	"settings":         "Settings saved.",
	"key-revoked":      "Integration key revoked.",
	"webhook-unsigned": "Webhook signing turned off: unsigned webhooks are accepted again.",
	"logo":             "Logo saved. Kiosks show it once they sync.",
	"logo-removed":     "Logo removed.",
}

// seeOther redirects after a successful POST (post/redirect/get).
func seeOther(e *echo.Context, to, done string) error {
	if done != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "done=" + url.QueryEscape(done)
	}
	return e.Redirect(http.StatusSeeOther, to)
}

// localReturn accepts a return path only if it is one of the console's
// own pages, so a form cannot redirect a user elsewhere.
func localReturn(raw, fallback string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return fallback
	}
	u.RawQuery = stripDone(u.Query()).Encode()
	return u.String()
}

func stripDone(q url.Values) url.Values {
	q.Del("done")
	return q
}

// static serves the embedded CSS and JS files.
func (c *console) static(e *echo.Context) error {
	name := path.Clean(e.Param("*"))
	sub, _ := fs.Sub(consoleStatic, "static") // a constant, valid directory name
	st, err := fs.Stat(sub, name)
	if err != nil || st.IsDir() || strings.HasPrefix(name, ".") {
		return echo.ErrNotFound
	}
	e.Response().Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeFileFS(e.Response(), e.Request(), sub, name)
	return nil
}

// fmtTime formats an instant in a location's timezone for tables.
func fmtTime(t time.Time, tz *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(tz).Format("2006-01-02 15:04")
}

func loadTZ(name string) *time.Location {
	tz, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return tz
}
