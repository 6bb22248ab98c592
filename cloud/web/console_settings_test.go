package web_test

import (
	"bytes"
	"context"
	"html"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/theonestack/visitor/cloud/integration"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// TestConsoleWebhookSecret: creating a signing secret shows it once, and
// the key it shows is the one inbound webhooks must be signed with;
// rotating keeps the old one for the overlap; removing turns checks off.
func TestConsoleWebhookSecret(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	ctx := context.Background()
	admin := sessionWith(t, db, allPerms())
	h := s.Handler()

	if body := do(t, h, http.MethodGet, "/settings", nil, admin).Body.String(); !strings.Contains(body, "Create signing secret") {
		t.Fatal("Settings does not offer a signing secret")
	}
	secretRE := regexp.MustCompile(`id="webhook-secret">(whsec_[^<]+)<`)
	rec := do(t, h, http.MethodPost, "/settings/webhook-secret", url.Values{}, admin)
	m := secretRE.FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || m == nil || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("create secret = %d, shown: %v, cache %q", rec.Code, m != nil, rec.Header().Get("Cache-Control"))
	}
	secret := html.UnescapeString(m[1])
	key, err := integration.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.WebhookSecrets(ctx, "org_acme")
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Key, key) {
		t.Fatalf("stored secrets = %+v, %v", got, err)
	}
	// The hint is base64 and may hold "+" or "/", which the template escapes.
	page := html.UnescapeString(do(t, h, http.MethodGet, "/settings", nil, admin).Body.String())
	if strings.Contains(page, secret) || !strings.Contains(page, "Rotate signing secret") || !strings.Contains(page, got[0].Hint) {
		t.Error("the secret is shown again, or the page does not show the current one by its hint")
	}
	if rec := do(t, h, http.MethodPost, "/settings/webhook-secret", url.Values{}, admin); rec.Code != 200 {
		t.Fatalf("rotate = %d", rec.Code)
	}
	if got, _ = db.WebhookSecrets(ctx, "org_acme"); len(got) != 2 || got[1].ExpiresAt.IsZero() {
		t.Errorf("after rotation: %+v", got)
	}
	if rec := do(t, h, http.MethodPost, "/settings/webhook-secret/remove", url.Values{}, admin); rec.Code != 303 {
		t.Errorf("remove = %d", rec.Code)
	}
	if got, _ = db.WebhookSecrets(ctx, "org_acme"); len(got) != 0 {
		t.Errorf("after removal: %+v", got)
	}
	// Neither the secret nor its key reaches the audit trail.
	if body := do(t, h, http.MethodGet, "/audit", nil, admin).Body.String(); !strings.Contains(body, "webhook_secret.rotate") || strings.Contains(html.UnescapeString(body), secret) {
		t.Error("audit trail lacks the rotation or shows the secret")
	}
	// Without the settings permission: 403.
	if rec := do(t, h, http.MethodPost, "/settings/webhook-secret", url.Values{}, sessionWith(t, db, nil)); rec.Code != 403 {
		t.Errorf("without permission = %d", rec.Code)
	}
}

func logoPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		img.Set(x, x%h, color.NRGBA{B: 180, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func upload(t *testing.T, h http.Handler, c *http.Cookie, filename string, data []byte) *httptest.ResponseRecorder {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("logo", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return doBody(t, h, http.MethodPost, "/settings/logo", mw.FormDataContentType(), &body, c)
}

// TestConsoleLogo: a logo uploaded on Settings is stored in the tenant's
// settings (so it goes down to kiosks with the settings change), served
// back for the preview, refused with a message when it is not a small
// PNG or JPEG, and removable; other settings are kept.
func TestConsoleLogo(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	ctx := context.Background()
	admin := sessionWith(t, db, allPerms())
	h := s.Handler()
	before, _ := db.Settings(ctx, "org_acme")
	changesBefore, _ := db.Changes(ctx, "org_acme", "", 0, 1000)

	for name, tc := range map[string]struct {
		data []byte
		msg  string
	}{
		"svg":      {[]byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "PNG or JPEG"},
		"too wide": {logoPNG(t, 2100, 10), "2048"},
		"too big":  {append(logoPNG(t, 4, 4), make([]byte, 300<<10)...), "too large"},
	} {
		rec := upload(t, h, admin, "logo.png", tc.data)
		if rec.Code != 422 || !strings.Contains(rec.Body.String(), tc.msg) || !strings.Contains(rec.Body.String(), `id="s-logo-error"`) {
			t.Errorf("%s: %d, message %q shown: %v", name, rec.Code, tc.msg, strings.Contains(rec.Body.String(), tc.msg))
		}
	}
	if st, _ := db.Settings(ctx, "org_acme"); len(st.Logo) != 0 {
		t.Fatal("a refused logo was stored")
	}

	logo := logoPNG(t, 300, 100)
	if rec := upload(t, h, admin, "acme.png", logo); rec.Code != 303 || !strings.Contains(rec.Header().Get("Location"), "done=logo") {
		t.Fatalf("upload = %d %s", rec.Code, rec.Body)
	}
	st, _ := db.Settings(ctx, "org_acme")
	if !bytes.Equal(st.Logo, logo) || st.BadgeTemplate != before.BadgeTemplate || st.RetentionDays != before.RetentionDays {
		t.Errorf("settings after upload: logo %d bytes, template %q", len(st.Logo), st.BadgeTemplate)
	}
	// The logo travels in a settings change, which kiosks receive.
	changes, _ := db.Changes(ctx, "org_acme", "", 0, 1000)
	if len(changes) <= len(changesBefore) || changes[len(changes)-1].Entity != "settings" ||
		!bytes.Contains(changes[len(changes)-1].Data, []byte(`"logo":"`)) {
		t.Errorf("no settings change carrying the logo (changes %d → %d)", len(changesBefore), len(changes))
	}
	rec := do(t, h, http.MethodGet, "/settings/logo", nil, admin)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" || !bytes.Equal(rec.Body.Bytes(), logo) {
		t.Errorf("GET logo = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if page := do(t, h, http.MethodGet, "/settings", nil, admin).Body.String(); !strings.Contains(page, `id="logo-preview"`) {
		t.Error("Settings shows no preview")
	}
	if rec := do(t, h, http.MethodPost, "/settings/logo/remove", url.Values{}, admin); rec.Code != 303 {
		t.Errorf("remove = %d", rec.Code)
	}
	if rec := do(t, h, http.MethodGet, "/settings/logo", nil, admin); rec.Code != 404 {
		t.Errorf("GET removed logo = %d", rec.Code)
	}
	if rec := upload(t, h, sessionWith(t, db, nil), "acme.png", logo); rec.Code != 403 {
		t.Errorf("upload without permission = %d", rec.Code)
	}
}
