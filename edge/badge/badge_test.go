package badge

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	visitor "github.com/theonestack/visitor"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sampleData is a typical badge: a UUIDv7 visit id, a reusable badge number.
func sampleData(t testing.TB) Data {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	code, err := CheckoutQRPayload("01920c8e-7b3a-7cc2-9a41-5f0e8d2b6c1a", "A-017")
	if err != nil {
		t.Fatal(err)
	}
	return Data{
		VisitorName:  "Maria Gonzalez",
		Company:      "Northwind Traders",
		HostName:     "Jonas Becker",
		LocationName: "Berlin HQ — Lobby",
		Date:         time.Date(2026, 3, 3, 8, 41, 0, 0, time.UTC),
		Location:     loc,
		BadgeNumber:  "A-017",
		VisitorType:  "contractor",
		CheckoutCode: code,
		TenantName:   "Acme GmbH",
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (%d bytes, want %d); inspect and run go test -update if intended", name, len(got), len(want))
	}
}

func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

func TestRenderPNGGoldenAndQR(t *testing.T) {
	for _, size := range Sizes() {
		t.Run(string(size), func(t *testing.T) {
			d := sampleData(t)
			got, err := RenderPNG(d, DefaultTemplate(), size)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "badge_"+string(size)+".png", got)

			img, err := png.Decode(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			w, h := size.Dots()
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Fatalf("image is %v, want %dx%d", b, w, h)
			}
			if text := decodeQR(t, img); text != d.CheckoutCode {
				t.Fatalf("QR reads %q, want %q", text, d.CheckoutCode)
			}
			// The printer sees the 1-bit version: its QR must read too.
			if text := decodeQR(t, Monochrome(img, Threshold)); text != d.CheckoutCode {
				t.Fatalf("1-bit QR reads %q, want %q", text, d.CheckoutCode)
			}
			again, err := RenderPNG(d, DefaultTemplate(), size)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatal("rendering the same badge twice gave different bytes")
			}
		})
	}
}

func TestRenderZPLGolden(t *testing.T) {
	got, err := RenderZPL(sampleData(t), DefaultTemplate(), Label4x3in)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "badge_label_4x3in.zpl", got)
	s := string(got)
	for _, want := range []string{"^XA\n", "^PW812\n", "^LL609\n", "^GFA,62118,62118,102,", "^XZ\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("ZPL lacks %q", want)
		}
	}
	if !strings.HasPrefix(s, "^XA") || !strings.HasSuffix(s, "^XZ\n") {
		t.Error("ZPL is not framed by ^XA … ^XZ")
	}
}

func TestRenderPDF(t *testing.T) {
	mediaBox := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]`)
	for _, size := range Sizes() {
		t.Run(string(size), func(t *testing.T) {
			got, err := RenderPDF(sampleData(t), DefaultTemplate(), size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, []byte("%PDF-")) {
				t.Fatalf("PDF starts %q", got[:min(8, len(got))])
			}
			m := mediaBox.FindSubmatch(got)
			if m == nil {
				t.Fatal("no /MediaBox in the PDF")
			}
			wmm, hmm := size.MM()
			for i, want := range []float64{wmm * 72 / 25.4, hmm * 72 / 25.4} {
				v, _ := strconv.ParseFloat(string(m[i+1]), 64)
				if math.Abs(v-want) > 0.5 {
					t.Errorf("page dimension %d is %.2f pt, want %.2f", i, v, want)
				}
			}
			if n := bytes.Count(got, []byte("/Type /Page\n")) + bytes.Count(got, []byte("/Type /Page ")) + bytes.Count(got, []byte("/Type /Page/")); n > 1 {
				t.Errorf("PDF has %d pages, want 1", n)
			}
			again, _ := RenderPDF(sampleData(t), DefaultTemplate(), size)
			if !bytes.Equal(again, got) {
				t.Error("PDF is not deterministic")
			}
		})
	}
}

// TestLongTextStaysInside renders hostile inputs and checks every line of
// text lies inside its box and the label, and the QR still reads.
func TestLongTextStaysInside(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Data)
	}{
		{"long name", func(d *Data) { d.VisitorName = "Maximiliane Alexandra Konstantinopoulou-Wolfeschlegelsteinhausen" }},
		{"one huge word", func(d *Data) { d.VisitorName = strings.Repeat("W", 120) }},
		{"long everything", func(d *Data) {
			d.VisitorName = strings.Repeat("Bartholomew ", 12)
			d.Company = strings.Repeat("International Consolidated Holdings ", 6)
			d.HostName = strings.Repeat("Jean-Christophe ", 8)
			d.LocationName = strings.Repeat("Building 7, North Wing ", 6)
			d.BadgeNumber = "CONTRACTOR-000123456789"
		}},
		{"control characters", func(d *Data) { d.VisitorName = "Eve\x00\n\t\u200bMallory\x1b[31m" }},
		{"short", func(d *Data) { d.VisitorName = "Al"; d.Company = "" }},
	}
	for _, size := range Sizes() {
		for _, tc := range cases {
			t.Run(string(size)+"/"+tc.name, func(t *testing.T) {
				d := sampleData(t)
				tc.edit(&d)
				tmpl := DefaultTemplate()
				tmpl.Fields = append(tmpl.Fields, FieldTenantName)
				l, err := layoutBadge(d, tmpl, size)
				if err != nil {
					t.Fatal(err)
				}
				label := image.Rect(0, 0, l.w, l.h)
				var sawName bool
				for _, p := range l.texts {
					sawName = sawName || p.role == "name"
					for i, ink := range p.ink {
						if !ink.In(p.box) || !ink.In(label) {
							t.Errorf("%s line %d %q at %v leaves its box %v", p.role, i, p.lines[i], ink, p.box)
						}
						if !l.qrBox.Empty() && ink.Overlaps(l.qrBox) {
							t.Errorf("%s line %d overlaps the QR code", p.role, i)
						}
						if strings.ContainsAny(p.lines[i], "\x00\n\t\x1b\u200b") {
							t.Errorf("%s line %q keeps a control character", p.role, p.lines[i])
						}
					}
					if p.role == "name" && len(p.lines) > nameMaxLines {
						t.Errorf("name has %d lines", len(p.lines))
					}
				}
				if !sawName {
					t.Fatal("the visitor's name was left off")
				}
				img := l.draw()
				if got := decodeQR(t, img); got != d.CheckoutCode {
					t.Errorf("QR reads %q", got)
				}
			})
		}
	}
}

func TestRenderErrors(t *testing.T) {
	bad := DefaultTemplate()
	bad.Accent = "red"
	cases := []struct {
		name string
		edit func(*Data, *Template, *Size)
	}{
		{"no name", func(d *Data, _ *Template, _ *Size) { d.VisitorName = " \t" }},
		{"no checkout code", func(d *Data, _ *Template, _ *Size) { d.CheckoutCode = "" }},
		{"unknown size", func(_ *Data, _ *Template, s *Size) { *s = "a4" }},
		{"invalid template", func(_ *Data, t *Template, _ *Size) { *t = bad }},
		{"huge checkout code", func(d *Data, _ *Template, _ *Size) { d.CheckoutCode = strings.Repeat("x", 1500) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, tmpl, size := sampleData(t), DefaultTemplate(), Brother62x100
			tc.edit(&d, &tmpl, &size)
			_, err := RenderImage(d, tmpl, size)
			if visitor.ErrorCode(err) != visitor.EINVALID {
				t.Fatalf("err = %v, want an EINVALID error", err)
			}
		})
	}
	// Without the QR, no check-out code is needed.
	d := sampleData(t)
	d.CheckoutCode = ""
	tmpl := DefaultTemplate()
	tmpl.ShowQR = false
	if _, err := RenderImage(d, tmpl, Label4x3in); err != nil {
		t.Fatalf("badge without QR: %v", err)
	}
}

func TestTemplateChoosesFields(t *testing.T) {
	d := sampleData(t)
	d.Logo = checkerLogo()
	tmpl := Template{Version: 1, Title: "GUEST", Accent: "#F5D90A", Fields: []Field{FieldHost, FieldDate}, ShowLogo: true, DateStyle: DateOnly}
	l, err := layoutBadge(d, tmpl, Label4x3in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range l.texts {
		got = append(got, p.role+"="+strings.Join(p.lines, "/"))
	}
	want := []string{"title=GUEST", "name=Maria Gonzalez", "host=Visiting: Jonas Becker", "date=Tue 3 Mar 2026"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("texts = %q, want %q", got, want)
	}
	if l.qrBits != nil {
		t.Error("QR drawn although show_qr is false")
	}
	if l.logoBox.Empty() || !l.logoBox.In(l.header) {
		t.Errorf("logo box %v not inside header %v", l.logoBox, l.header)
	}
	// A light accent gets dark title text.
	for _, p := range l.texts {
		if p.role == "title" && p.color != color.Black {
			t.Errorf("title colour on a light accent = %v, want black", p.color)
		}
	}
}

func checkerLogo() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for y := 0; y < 20; y++ {
		for x := 0; x < 40; x++ {
			if (x/5+y/5)%2 == 0 {
				img.Set(x, y, color.RGBA{200, 0, 0, 255})
			}
		}
	}
	return img
}

func TestCheckoutQRPayload(t *testing.T) {
	cases := []struct {
		visit, badge string
		want         string
		ok           bool
	}{
		{"01920c8e-7b3a-7cc2-9a41-5f0e8d2b6c1a", "A-017", "VB1:01920c8e-7b3a-7cc2-9a41-5f0e8d2b6c1a:A-017", true},
		{"v1", "", "VB1:v1:", true},
		{"", "42", "VB1::42", true},
		{"", "", "", false},
		{"a:b", "1", "", false},
		{"v", "with space", "", false},
		{"v", "é", "", false},
		{strings.Repeat("x", 65), "", "", false},
	}
	for _, tc := range cases {
		got, err := CheckoutQRPayload(tc.visit, tc.badge)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CheckoutQRPayload(%q, %q) = %q, %v; want %q ok=%v", tc.visit, tc.badge, got, err, tc.want, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		ref, err := ParseCheckoutQRPayload(got)
		if err != nil || ref.VisitID != tc.visit || ref.BadgeNumber != tc.badge {
			t.Errorf("round trip of %q = %+v, %v", got, ref, err)
		}
	}
	parse := []struct {
		in string
		ok bool
		id string
	}{
		{"  vb1:abc:7\r\n", true, "abc"},
		{"VB1:abc", false, ""},
		{"VB1::", false, ""},
		{"VB2:abc:1", false, ""},
		{"https://example.com", false, ""},
		{"", false, ""},
		{"VB1:a:b:c", false, ""},
	}
	for _, tc := range parse {
		ref, err := ParseCheckoutQRPayload(tc.in)
		if (err == nil) != tc.ok || ref.VisitID != tc.id {
			t.Errorf("ParseCheckoutQRPayload(%q) = %+v, %v; want ok=%v", tc.in, ref, err, tc.ok)
		}
		var verr *visitor.Error
		if err != nil && !errors.As(err, &verr) {
			t.Errorf("error %v is not a *visitor.Error", err)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	cases := []struct {
		name, in string
		wantErr  string // substring; "" = valid
		check    func(Template) bool
	}{
		{"empty gives default", "", "", func(t Template) bool { return t.Title == "VISITOR" && t.ShowQR }},
		{"partial keeps defaults", `{"title":"Gast"}`, "", func(t Template) bool { return t.Title == "Gast" && t.ShowQR && len(t.Fields) == 6 }},
		{"full", `{"version":1,"title":"","accent":"#aBcDeF","fields":["host","date"],"show_qr":false,"show_logo":false,"date_style":"date"}`, "", func(t Template) bool {
			return t.Title == "" && t.Accent == "#aBcDeF" && len(t.Fields) == 2 && !t.ShowQR && t.DateStyle == DateOnly
		}},
		{"null fields", `{"fields":null}`, "", func(t Template) bool { return len(t.Fields) == 0 }},
		{"unknown key", `{"titel":"x"}`, `unknown key "titel"`, nil},
		{"unknown field", `{"fields":["host","phone"]}`, `"fields"[1] is "phone"`, nil},
		{"duplicate field", `{"fields":["host","host"]}`, `lists "host" twice`, nil},
		{"bad accent", `{"accent":"blue"}`, `"accent" must be written #RRGGBB`, nil},
		{"bad accent digits", `{"accent":"#12345G"}`, `hexadecimal`, nil},
		{"version", `{"version":2}`, `"version" must be 1`, nil},
		{"long title", `{"title":"` + strings.Repeat("é", 41) + `"}`, `41 characters`, nil},
		{"control in title", `{"title":"a\u0007b"}`, `control`, nil},
		{"date style", `{"date_style":"iso"}`, `"date_style" must be`, nil},
		{"wrong type", `{"show_qr":"yes"}`, `"show_qr" must be a true or false`, nil},
		{"not an object", `[1]`, `must be a JSON object`, nil},
		{"syntax", `{"title":`, `ends too early`, nil},
		{"trailing", `{} {}`, `after the JSON object`, nil},
		{"too big", `{"title":"` + strings.Repeat(" ", 9000) + `"}`, `larger than`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTemplate([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tc.check(got) {
					t.Fatalf("parsed %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if visitor.ErrorCode(err) != visitor.EINVALID {
				t.Fatalf("code = %q, want invalid", visitor.ErrorCode(err))
			}
		})
	}
}

func FuzzParseTemplate(f *testing.F) {
	f.Add([]byte(`{"version":1,"title":"VISITOR","accent":"#111827","fields":["company","host"],"show_qr":true}`))
	f.Add([]byte(`{"fields":["date","date"]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		tmpl, err := ParseTemplate(b)
		if err != nil {
			if visitor.ErrorCode(err) != visitor.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if err := tmpl.Validate(); err != nil {
			t.Fatalf("ParseTemplate accepted a template Validate refuses: %v", err)
		}
		// Whatever parses must render.
		d := Data{VisitorName: "Fuzz", CheckoutCode: "VB1:x:1", Company: "C", HostName: "H"}
		if _, err := layoutBadge(d, tmpl, Label4x3in); err != nil {
			t.Fatalf("valid template does not render: %v", err)
		}
	})
}

func TestMonochrome(t *testing.T) {
	img := image.NewNRGBA(image.Rect(10, 10, 14, 12)) // bounds not at the origin
	img.Set(10, 10, color.Black)
	img.Set(11, 10, color.NRGBA{0, 0, 0, 0}) // transparent = paper
	img.Set(12, 10, color.Gray{127})
	img.Set(13, 10, color.Gray{128})
	img.Set(10, 11, color.NRGBA{255, 0, 0, 255}) // red: luma 76, black
	img.Set(11, 11, color.NRGBA{255, 255, 0, 255})
	bm := Monochrome(img, Threshold)
	want := []string{"X.X.", "X..."}
	for y, row := range want {
		for x, c := range row {
			if got := bm.Black(x, y); got != (c == 'X') {
				t.Errorf("(%d,%d) black=%v, want %c", x, y, got, c)
			}
		}
	}
	if bm.Stride != 1 || len(bm.Pix) != 2 || bm.Pix[0] != 0xA0 {
		t.Errorf("packing: stride %d pix %x", bm.Stride, bm.Pix)
	}
	// Dithering a flat 50 % gray gives about half the dots black.
	gray := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range gray.Pix {
		gray.Pix[i] = 128
	}
	d := Monochrome(gray, FloydSteinberg)
	black := 0
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if d.Black(x, y) {
				black++
			}
		}
	}
	if black < 64*64*45/100 || black > 64*64*55/100 {
		t.Errorf("dithered 50%% gray has %d of %d dots black", black, 64*64)
	}
	if Monochrome(gray, Threshold).Equal(d) {
		t.Error("dithering gave the same result as a threshold")
	}
}

// opaqueImage hides an image's concrete type, so Monochrome takes its
// generic path.
type opaqueImage struct{ image.Image }

func TestMonochromeRGBAFastPathMatches(t *testing.T) {
	img := image.NewRGBA(image.Rect(3, 5, 3+61, 5+37)) // odd size, bounds not at the origin
	for i := range img.Pix {
		img.Pix[i] = uint8(i*131 + i/7) // every value, transparent and half-transparent dots too
	}
	for i := 3; i < len(img.Pix); i += 4 { // keep the colours valid premultiplied
		a := img.Pix[i]
		for c := 1; c <= 3; c++ {
			img.Pix[i-c] = min(img.Pix[i-c], a)
		}
	}
	for _, mode := range []DitherMode{Threshold, FloydSteinberg} {
		fast, slow := Monochrome(img, mode), Monochrome(opaqueImage{img}, mode)
		if !fast.Equal(slow) || !bytes.Equal(fast.Pix, slow.Pix) {
			t.Errorf("mode %d: the RGBA fast path differs from the generic path", mode)
		}
	}
	// A rendered badge, too.
	badgeImg, err := RenderImage(Data{VisitorName: "Grace Hopper", Company: "Navy", BadgeNumber: "12", CheckoutCode: "VB1:v:12", Date: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		DefaultTemplate(), Brother62x100)
	if err != nil {
		t.Fatal(err)
	}
	if !Monochrome(badgeImg, Threshold).Equal(Monochrome(opaqueImage{badgeImg}, Threshold)) {
		t.Error("a rendered badge reduces differently on the fast path")
	}
}

// BenchmarkRenderPNG measures the badge work on the check-in path.
func BenchmarkRenderPNG(b *testing.B) {
	d := sampleData(b)
	for _, size := range Sizes() {
		b.Run(string(size), func(b *testing.B) {
			for b.Loop() {
				if _, err := RenderPNG(d, DefaultTemplate(), size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
