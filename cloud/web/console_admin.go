package web

import (
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
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
	if view.KeyForm == nil {
		view.KeyForm = newForm()
	}
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
