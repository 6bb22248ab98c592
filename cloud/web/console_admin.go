package web

import (
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/integration"
	"github.com/theonestack/visitor/cloud/store"
)

// settingsView is the Settings page's data.
type settingsView struct {
	Keys      []visitor.IntegrationKey
	Health    []store.IntegrationHealth
	Parked    []visitor.OutboxEvent
	NewSecret string
	NewKey    string
	KeyForm   *form
	// Webhook signing secrets still verifying (current first), and a new
	// one to show this once.
	WebhookSecrets   []visitor.WebhookSecret
	NewWebhookSecret string
	HasLogo          bool
	LogoError        string
}

var settingsFields = []string{"badge_template", "auto_checkout_time", "nda_enabled", "nda_text", "nda_version", "retention_days"}

func settingsForm(st visitor.TenantSettings) *form {
	f := newForm()
	f.Values["badge_template"] = st.BadgeTemplate
	f.Values["auto_checkout_time"] = st.AutoCheckoutTime
	if st.NDAEnabled {
		f.Values["nda_enabled"] = "on"
	}
	f.Values["nda_text"] = st.NDAText
	f.Values["nda_version"] = st.NDAVersion
	f.Values["retention_days"] = strconv.Itoa(st.RetentionDays)
	return f
}

// settings is GET /settings.
func (c *console) settings(e *echo.Context) error {
	sess, _ := session(e)
	st, err := c.s.store.Settings(e.Request().Context(), sess.TenantID)
	if err != nil {
		return err
	}
	return c.settingsPage(e, http.StatusOK, settingsForm(st), settingsView{KeyForm: newForm()})
}

func (c *console) settingsPage(e *echo.Context, status int, f *form, view settingsView) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	var err error
	if view.Keys, err = c.s.store.IntegrationKeys(ctx, sess.TenantID); err != nil {
		return err
	}
	if view.Health, err = c.s.store.Health(ctx); err != nil {
		return err
	}
	if view.Parked, err = c.s.store.ParkedEvents(ctx, sess.TenantID, 50); err != nil {
		return err
	}
	if view.WebhookSecrets, err = c.s.store.WebhookSecrets(ctx, sess.TenantID); err != nil {
		return err
	}
	st, err := c.s.store.Settings(ctx, sess.TenantID)
	if err != nil {
		return err
	}
	view.HasLogo = len(st.Logo) > 0
	if view.KeyForm == nil {
		view.KeyForm = newForm()
	}
	e.Response().Header().Set("Cache-Control", "no-store")
	return c.render(e, status, "settings", "Settings", f, view)
}

// saveSettings is POST /settings. Fields the page does not show (the
// kiosk PIN, required fields) keep their values.
func (c *console) saveSettings(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	f, err := readForm(e, settingsFields...)
	if err != nil {
		return err
	}
	st, err := c.s.store.Settings(ctx, sess.TenantID)
	if err != nil {
		return err
	}
	if t := f.V("auto_checkout_time"); t != "" {
		if _, err := time.Parse("15:04", t); err != nil {
			f.fail("auto_checkout_time", "Enter a time as HH:MM (24-hour), or leave it empty for never.")
		}
	}
	days, err := strconv.Atoi(f.V("retention_days"))
	if err != nil || days < 0 || days > 3650 {
		f.fail("retention_days", "Enter a number of days from 0 (keep forever) to 3650.")
	}
	if len(f.V("badge_template")) > 10000 {
		f.fail("badge_template", "The badge template is too long (10,000 characters at most).")
	}
	if len(f.V("nda_text")) > 50000 {
		f.fail("nda_text", "The NDA text is too long (50,000 characters at most).")
	}
	enabled := f.V("nda_enabled") != ""
	if enabled && f.V("nda_text") == "" {
		f.fail("nda_text", "Enter the NDA text, or turn the NDA off.")
	}
	if !f.OK() {
		return c.settingsPage(e, http.StatusUnprocessableEntity, f, settingsView{})
	}
	st.BadgeTemplate, st.AutoCheckoutTime = f.V("badge_template"), f.V("auto_checkout_time")
	st.NDAEnabled, st.NDAText, st.NDAVersion, st.RetentionDays = enabled, f.V("nda_text"), f.V("nda_version"), days
	if err := c.s.store.UpdateSettings(ctx, sess.TenantID, st, actor(sess)); err != nil {
		if !formError(f, err, map[string]string{"retention": "retention_days"}) {
			return err
		}
		return c.settingsPage(e, http.StatusUnprocessableEntity, f, settingsView{})
	}
	return seeOther(e, "/settings", "settings")
}

// createKey is POST /settings/keys: it makes a tenant integration key
// and shows its secret on this one answer only (never stored, never
// logged, not cacheable).
func (c *console) createKey(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	kf, err := readForm(e, "key_name")
	if err != nil {
		return err
	}
	st, err := c.s.store.Settings(ctx, sess.TenantID)
	if err != nil {
		return err
	}
	if kf.V("key_name") == "" {
		kf.fail("key_name", "Name the key after the system that will use it.")
	} else if len(kf.V("key_name")) > 100 {
		kf.fail("key_name", "The name is too long (100 characters at most).")
	}
	if !kf.OK() {
		return c.settingsPage(e, http.StatusUnprocessableEntity, settingsForm(st), settingsView{KeyForm: kf})
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(c.s.rand, raw); err != nil {
		return fmt.Errorf("integration key: %w", err)
	}
	secret := "vik_" + base64.RawURLEncoding.EncodeToString(raw)
	k, err := c.s.store.CreateIntegrationKey(ctx, sess.TenantID, kf.V("key_name"), secret, actor(sess))
	if err != nil {
		return err
	}
	return c.settingsPage(e, http.StatusOK, settingsForm(st), settingsView{NewSecret: secret, NewKey: k.Name, KeyForm: newForm()})
}

// revokeKey is POST /settings/keys/:id/revoke.
func (c *console) revokeKey(e *echo.Context) error {
	sess, _ := session(e)
	if err := c.s.store.RevokeIntegrationKey(e.Request().Context(), sess.TenantID, e.Param("id"), actor(sess)); err != nil {
		return err
	}
	return seeOther(e, "/settings", "key-revoked")
}

// rotateWebhookSecret is POST /settings/webhook-secret: it makes a new
// Standard Webhooks signing secret and shows it on this answer only. From
// now on the tenant's inbound webhooks must be signed; a secret it
// replaces keeps verifying for a day.
func (c *console) rotateWebhookSecret(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	key := make([]byte, 32)
	if _, err := io.ReadFull(c.s.rand, key); err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	secret := integration.EncodeSecret(key)
	if _, err := c.s.store.RotateWebhookSecret(ctx, sess.TenantID, key, secret[:len(integration.SecretPrefix)+4], actor(sess)); err != nil {
		return err
	}
	st, err := c.s.store.Settings(ctx, sess.TenantID)
	if err != nil {
		return err
	}
	return c.settingsPage(e, http.StatusOK, settingsForm(st), settingsView{NewWebhookSecret: secret})
}

// removeWebhookSecrets is POST /settings/webhook-secret/remove: inbound
// webhooks are accepted unsigned again.
func (c *console) removeWebhookSecrets(e *echo.Context) error {
	sess, _ := session(e)
	if err := c.s.store.RemoveWebhookSecrets(e.Request().Context(), sess.TenantID, actor(sess)); err != nil {
		return err
	}
	return seeOther(e, "/settings", "webhook-unsigned")
}

// uploadLogo is POST /settings/logo (multipart, field "logo"): the
// tenant's logo for the kiosks' welcome screen.
func (c *console) uploadLogo(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	r := e.Request()
	r.Body = http.MaxBytesReader(e.Response(), r.Body, visitor.MaxLogoBytes+64<<10)
	fail := func(msg string) error {
		st, err := c.s.store.Settings(ctx, sess.TenantID)
		if err != nil {
			return err
		}
		return c.settingsPage(e, http.StatusUnprocessableEntity, settingsForm(st), settingsView{LogoError: msg})
	}
	file, _, err := r.FormFile("logo")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(fmt.Sprintf("The logo is too large: %d KiB at most.", visitor.MaxLogoBytes>>10))
		}
		return fail("Choose a PNG or JPEG file.")
	}
	defer file.Close()
	logo, err := io.ReadAll(io.LimitReader(file, visitor.MaxLogoBytes+1))
	if err != nil {
		return fail("The file could not be read; try again.")
	}
	if err := visitor.ValidateLogo(logo); err != nil {
		return fail(strings.ToUpper(visitor.ErrorMessage(err)[:1]) + visitor.ErrorMessage(err)[1:] + ".")
	}
	if err := c.setLogo(e, logo); err != nil {
		return err
	}
	return seeOther(e, "/settings", "logo")
}

// removeLogo is POST /settings/logo/remove.
func (c *console) removeLogo(e *echo.Context) error {
	if err := c.setLogo(e, nil); err != nil {
		return err
	}
	return seeOther(e, "/settings", "logo-removed")
}

// setLogo replaces the logo, keeping every other setting; kiosks receive
// it with the settings change.
func (c *console) setLogo(e *echo.Context, logo []byte) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	st, err := c.s.store.Settings(ctx, sess.TenantID)
	if err != nil {
		return err
	}
	st.Logo = logo
	return c.s.store.UpdateSettings(ctx, sess.TenantID, st, actor(sess))
}

// logo is GET /settings/logo: the current logo, for the Settings page.
func (c *console) logo(e *echo.Context) error {
	sess, _ := session(e)
	st, err := c.s.store.Settings(e.Request().Context(), sess.TenantID)
	if err != nil {
		return err
	}
	if len(st.Logo) == 0 {
		return echo.ErrNotFound
	}
	e.Response().Header().Set("Cache-Control", "private, no-cache")
	e.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return e.Blob(http.StatusOK, http.DetectContentType(st.Logo), st.Logo)
}

// auditView is the audit trail page's data.
type auditView struct {
	Records []auditRow
	Next    string
}

type auditRow struct {
	visitor.AuditRecord
	When    string
	Details string
}

// audit is GET /audit?cursor=: the tenant's audit trail, newest first.
func (c *console) audit(e *echo.Context) error {
	sess, _ := session(e)
	cursor := e.QueryParam("cursor")
	if len(cursor) > 200 {
		return visitor.Errorf(visitor.EINVALID, "bad cursor")
	}
	recs, next, err := c.s.store.Audit(e.Request().Context(), sess.TenantID, store.DefaultLimit, cursor)
	if err != nil {
		return err
	}
	view := auditView{Next: next}
	for _, r := range recs {
		d := string(r.Details)
		if d == "{}" || d == "null" {
			d = ""
		}
		view.Records = append(view.Records, auditRow{AuditRecord: r, When: r.At.UTC().Format("2006-01-02 15:04:05 UTC"), Details: d})
	}
	return c.render(e, http.StatusOK, "audit", "Audit trail", nil, view)
}

// maxExportDays bounds one export's range.
const maxExportDays = 366

// exportVisits is GET /api/v1/export/visits.csv?from=&to=: the tenant's
// visits between two local dates (inclusive; default today, UTC), streamed
// row by row. A cell that a spreadsheet would read as a formula (starting
// with = + - @, a tab or a carriage return) is neutralised with a leading
// apostrophe.
func (c *console) exportVisits(e *echo.Context) error {
	sess, _ := session(e)
	today := c.s.now().UTC().Format(time.DateOnly)
	fromS, toS := e.QueryParam("from"), e.QueryParam("to")
	if fromS == "" {
		fromS = today
	}
	if toS == "" {
		toS = fromS
	}
	from, err1 := time.Parse(time.DateOnly, fromS)
	to, err2 := time.Parse(time.DateOnly, toS)
	switch {
	case err1 != nil || err2 != nil:
		return visitor.Errorf(visitor.EINVALID, "from and to must be dates, YYYY-MM-DD")
	case to.Before(from):
		return visitor.Errorf(visitor.EINVALID, "to is before from")
	case to.Sub(from) > maxExportDays*24*time.Hour:
		return visitor.Errorf(visitor.EINVALID, "export at most %d days at a time", maxExportDays)
	}
	w := e.Response()
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="visits-%s-to-%s.csv"`, fromS, toS))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	cw := csv.NewWriter(w)
	header := []string{"visit_id", "location_id", "location", "visitor_name", "company", "email", "host", "status", "checked_in_at", "checked_out_at", "badge_number"}
	started := false
	n := 0
	err := c.s.store.EachVisitBetween(e.Request().Context(), sess.TenantID, from, to, func(v store.ExportVisit) error {
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
			if err := cw.Write(header); err != nil {
				return err
			}
		}
		out := ""
		if v.CheckedOutAt != nil {
			out = v.CheckedOutAt.UTC().Format(time.RFC3339)
		}
		rec := []string{v.ID, v.LocationID, v.LocationName, v.VisitorName, v.Company, v.Email, v.HostName, v.Status,
			v.CheckedInAt.UTC().Format(time.RFC3339), out, v.BadgeNumber}
		for i := range rec {
			rec[i] = csvSafe(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
		if n++; n%200 == 0 {
			cw.Flush()
			return cw.Error()
		}
		return nil
	})
	if err != nil && !started {
		return err
	}
	if err != nil {
		// Headers are gone: the truncated file ends without its last rows;
		// the error is logged, and the client sees a short download.
		c.s.log.Error("visit export interrupted", "err", err)
		return nil
	}
	if !started {
		w.WriteHeader(http.StatusOK)
		if err := cw.Write(header); err != nil {
			return nil
		}
	}
	cw.Flush()
	return nil
}

// csvSafe neutralises a cell a spreadsheet would evaluate as a formula.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// displayRow is one kiosk as the Displays page shows it.
type displayRow struct {
	visitor.Device
	Location string
	Online   bool
	LastSeen string
}

// displaysView is the Displays page's data.
type displaysView struct {
	Rows      []displayRow
	Locations []visitor.Location
}

// displays is GET /displays: the tenant's kiosks from the displays
// service (online means a live sync connection), and the forms to pair by
// code, rename, unpair and revoke, which post to the Displays JSON API.
func (c *console) displays(e *echo.Context) error {
	sess, _ := session(e)
	ctx := e.Request().Context()
	d, err := c.directory(ctx, sess.TenantID, false)
	if err != nil {
		return err
	}
	devs, _, err := c.s.displays.List(ctx, sess.TenantID, store.MaxLimit, "")
	if err != nil {
		return err
	}
	view := displaysView{Locations: d.locations}
	for _, dv := range devs {
		l := d.locByID[dv.LocationID]
		view.Rows = append(view.Rows, displayRow{Device: dv.Device, Location: l.Name, Online: dv.Online,
			LastSeen: fmtTime(dv.LastSeenAt, loadTZ(l.Timezone))})
	}
	return c.render(e, http.StatusOK, "displays", "Displays", nil, view)
}
