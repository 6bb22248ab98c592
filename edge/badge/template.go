package badge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	visitor "github.com/theonestack/visitor"
)

// Field names a line a template can put on the badge. The visitor's name is
// always shown and is not a Field.
type Field string

// The fields a template may list. FieldCompany is set in larger type under
// the name; the others are labelled detail lines. With the QR code shown,
// FieldBadgeNumber is printed large beside the code instead of as a line.
const (
	FieldCompany     Field = "company"
	FieldHost        Field = "host"
	FieldLocation    Field = "location"
	FieldDate        Field = "date"
	FieldVisitorType Field = "visitor_type"
	FieldBadgeNumber Field = "badge_number"
	FieldTenantName  Field = "tenant_name"
)

// fieldOrder lists every Field once, in the order the default template uses.
var fieldOrder = [...]Field{FieldCompany, FieldHost, FieldLocation, FieldDate, FieldVisitorType, FieldBadgeNumber, FieldTenantName}

// DateStyle chooses how FieldDate is written.
type DateStyle string

// Date styles: "Tue 3 Mar 2026" or "Tue 3 Mar 2026 09:41".
const (
	DateOnly     DateStyle = "date"
	DateAndTime  DateStyle = "datetime"
	maxTitleLen            = 40
	maxTemplate            = 8 << 10
	templateVers           = 1
)

// Template is a tenant's badge design, edited in the console (Settings) and
// synced to kiosks as JSON, for example:
//
//	{
//	  "version": 1,
//	  "title": "VISITOR",
//	  "accent": "#111827",
//	  "fields": ["company", "host", "location", "date", "visitor_type", "badge_number"],
//	  "show_qr": true,
//	  "show_logo": true,
//	  "date_style": "datetime"
//	}
//
// version is 1. title is the header text (up to 40 characters; empty for a
// header without text). accent is the header colour as #RRGGBB; on a
// monochrome printer a dark accent prints black with white text and a light
// one prints white with black text. fields lists what appears under the
// visitor's name, in that order, each at most once (company, host, location,
// date, visitor_type, badge_number, tenant_name). show_qr adds the check-out
// QR code; show_logo draws the tenant's logo in the header when one is set.
// date_style is "date" or "datetime".
type Template struct {
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	Accent    string    `json:"accent"`
	Fields    []Field   `json:"fields"`
	ShowQR    bool      `json:"show_qr"`
	ShowLogo  bool      `json:"show_logo"`
	DateStyle DateStyle `json:"date_style"`
}

// DefaultTemplate returns the design used until a tenant saves its own: a
// dark "VISITOR" header, company, host, location, date and time, visitor type
// and badge number, the logo when there is one, and the check-out QR code.
// Each call returns a fresh value the caller may change.
func DefaultTemplate() Template {
	return Template{
		Version:   templateVers,
		Title:     "VISITOR",
		Accent:    "#111827",
		Fields:    []Field{FieldCompany, FieldHost, FieldLocation, FieldDate, FieldVisitorType, FieldBadgeNumber},
		ShowQR:    true,
		ShowLogo:  true,
		DateStyle: DateAndTime,
	}
}

// ParseTemplate reads and validates a template's JSON. Empty input (or only
// white space) gives DefaultTemplate, because a tenant that never edited its
// design stores "". Missing keys keep the default's value, so a template
// saved by an older console still parses. Unknown keys, trailing data, input
// over 8 KiB and every rule of Validate are refused with an EINVALID
// *visitor.Error whose message names the offending key, safe to show to the
// admin who typed it.
func ParseTemplate(b []byte) (Template, error) {
	if len(b) > maxTemplate {
		return Template{}, visitor.Errorf(visitor.EINVALID, "badge template is larger than %d bytes", maxTemplate)
	}
	t := DefaultTemplate()
	if len(bytes.TrimSpace(b)) == 0 {
		return t, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Template{}, visitor.Errorf(visitor.EINVALID, "badge template: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Template{}, visitor.Errorf(visitor.EINVALID, "badge template: unexpected data after the JSON object")
	}
	if err := t.Validate(); err != nil {
		return Template{}, err
	}
	return t, nil
}

// jsonProblem turns a decoding error into a sentence for an admin.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%q must be a %s, not a JSON %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return fmt.Sprintf("the template must be a JSON object, not a JSON %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends too early"
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		return fmt.Sprintf("unknown key %s (allowed: version, title, accent, fields, show_qr, show_logo, date_style)", strings.TrimPrefix(msg, "json: unknown field "))
	}
	return strings.TrimPrefix(msg, "json: ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int":
		return "number"
	case "bool":
		return "true or false"
	case "slice":
		return "list"
	}
	return goKind
}

// Validate reports the first rule t breaks, as an EINVALID *visitor.Error:
// version 1; a title of at most 40 printable characters; an accent colour
// written #RRGGBB; known fields, each at most once; a known date style.
func (t Template) Validate() error {
	bad := func(format string, args ...any) error {
		return visitor.Errorf(visitor.EINVALID, "badge template: "+format, args...)
	}
	if t.Version != templateVers {
		return bad("\"version\" must be %d, not %d", templateVers, t.Version)
	}
	if !utf8.ValidString(t.Title) {
		return bad("\"title\" is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(t.Title); n > maxTitleLen {
		return bad("\"title\" has %d characters; the most is %d", n, maxTitleLen)
	}
	for _, r := range t.Title {
		if !unicode.IsPrint(r) {
			return bad("\"title\" has a control or invisible character (U+%04X)", r)
		}
	}
	if _, err := parseAccent(t.Accent); err != nil {
		return bad("\"accent\" %v", err)
	}
	seen := make(map[Field]bool, len(t.Fields))
	for i, f := range t.Fields {
		if !knownField(f) {
			return bad("\"fields\"[%d] is %q, which is not a badge field (allowed: %s)", i, string(f), allowedFields())
		}
		if seen[f] {
			return bad("\"fields\" lists %q twice", string(f))
		}
		seen[f] = true
	}
	if t.DateStyle != DateOnly && t.DateStyle != DateAndTime {
		return bad("\"date_style\" must be %q or %q, not %q", DateOnly, DateAndTime, string(t.DateStyle))
	}
	return nil
}

// has reports whether the template lists f.
func (t Template) has(f Field) bool {
	for _, g := range t.Fields {
		if g == f {
			return true
		}
	}
	return false
}

func knownField(f Field) bool {
	for _, g := range fieldOrder {
		if f == g {
			return true
		}
	}
	return false
}

func allowedFields() string {
	names := make([]string, len(fieldOrder))
	for i, f := range fieldOrder {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// parseAccent reads "#RRGGBB" (either case).
func parseAccent(s string) (color.RGBA, error) {
	if len(s) != 7 || s[0] != '#' {
		return color.RGBA{}, fmt.Errorf("must be written #RRGGBB, not %q", s)
	}
	var v [3]uint8
	for i := range v {
		hi, ok1 := hexVal(s[1+2*i])
		lo, ok2 := hexVal(s[2+2*i])
		if !ok1 || !ok2 {
			return color.RGBA{}, fmt.Errorf("must be written #RRGGBB with hexadecimal digits, not %q", s)
		}
		v[i] = hi<<4 | lo
	}
	return color.RGBA{v[0], v[1], v[2], 0xff}, nil
}

func hexVal(c byte) (uint8, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
