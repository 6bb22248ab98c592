// Package billing reports usage to Hub Billing: once a day at 00:58 UTC,
// for each tenant, the number of active locations (at least one check-in
// in the current calendar month, UTC), posted to
// {HUB_URL}/api/hub/billing/usage/report.
//
// Exactly one figure per tenant per day: the report is first claimed in
// the database under its idempotency key (the first claim's quantity and
// as_of are kept), then sent, and resent with the same key until Hub
// answers 2xx or 409. A lease makes one instance at a time the reporter.
// On start the reporter catches up on the days of the look-back window it
// missed. On the 1st of a month it also sends the closing figure of the
// month that just ended, under its own key, so the last day's check-ins
// are billed.
package billing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// ReportTime is when the daily report runs, UTC.
const (
	ReportHour   = 0
	ReportMinute = 58
)

// LookBack is how many days back a starting reporter catches up.
const LookBack = 7

// LeaseName is the lease that makes one instance the reporter.
const LeaseName = "billing"

// Options are optional settings; the zero value works.
type Options struct {
	HTTP   *http.Client     // nil: 10 s timeout
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard
	Holder string           // lease holder name (default random)
	// Sleep waits for d or until ctx ends (tests inject it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Reporter sends the daily usage reports.
type Reporter struct {
	db   *store.DB
	url  string
	key  string
	opts Options
	log  *slog.Logger
}

// New makes a reporter for the Hub at hubURL, authenticated with the
// integration key.
func New(db *store.DB, hubURL, integrationKey string, opts Options) *Reporter {
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Holder == "" {
		opts.Holder = fmt.Sprintf("billing-%016x", rand.Uint64())
	}
	if opts.Sleep == nil {
		opts.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	return &Reporter{db: db, url: strings.TrimRight(hubURL, "/") + "/api/hub/billing/usage/report", key: integrationKey,
		opts: opts, log: opts.Logger.With("component", "billing")}
}

// DailyKey is the idempotency key of a tenant's report for a day.
func DailyKey(tenantID string, day time.Time) string {
	return "visitor:active_locations:" + tenantID + ":" + day.UTC().Format("2006-01-02")
}

// FinalKey is the idempotency key of a tenant's closing report of a month.
func FinalKey(tenantID string, month time.Time) string {
	return "visitor:active_locations:" + tenantID + ":" + month.UTC().Format("2006-01") + ":final"
}

// ParseDay parses an operator's --date (YYYY-MM-DD).
func ParseDay(s string) (time.Time, error) {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, visitor.Errorf(visitor.EINVALID, "date %q is not YYYY-MM-DD", s)
	}
	return d, nil
}

// monthStart returns the first instant of t's month, UTC.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// RunDay sends the reports of one day (UTC date of day) for every tenant:
// the daily figure of the day's month and, on the 1st, the closing figure
// of the previous month. It is idempotent: a report already claimed is
// resent with its first figure, never recounted.
func (r *Reporter) RunDay(ctx context.Context, day time.Time) error {
	day = time.Date(day.UTC().Year(), day.UTC().Month(), day.UTC().Day(), 0, 0, 0, 0, time.UTC)
	tenants, err := r.db.TenantIDs(ctx)
	if err != nil {
		return err
	}
	var firstErr error
	for _, tenant := range tenants {
		reports := []struct {
			key   string
			month time.Time
		}{{DailyKey(tenant, day), monthStart(day)}}
		if day.Day() == 1 {
			prev := monthStart(day).AddDate(0, -1, 0)
			reports = append(reports, struct {
				key   string
				month time.Time
			}{FinalKey(tenant, prev), prev})
		}
		for _, rep := range reports {
			if err := r.report(ctx, tenant, rep.key, rep.month); err != nil {
				r.log.Warn("billing report not sent; will retry", "tenant", tenant, "key", rep.key, "err", err)
				if firstErr == nil {
					firstErr = err
				}
			}
		}
	}
	r.db.RecordHealth(ctx, "billing", firstErr)
	return firstErr
}

func (r *Reporter) report(ctx context.Context, tenant, key string, month time.Time) error {
	if existing, err := r.db.BillingReport(ctx, key); err == nil && !existing.SentAt.IsZero() {
		return nil // sent already
	}
	now := r.opts.Now().UTC()
	n, err := r.db.ActiveLocations(ctx, tenant, month, month.AddDate(0, 1, 0))
	if err != nil {
		return err
	}
	rep, _, err := r.db.ClaimBillingReport(ctx, visitor.BillingReport{
		IdempotencyKey: key, TenantID: tenant, Period: month.Format("2006-01"), Quantity: n, AsOf: now,
	})
	if err != nil {
		return err
	}
	if !rep.SentAt.IsZero() {
		return nil
	}
	sendErr := r.send(ctx, rep)
	if err := r.db.MarkBillingReport(ctx, key, sendErr); err != nil {
		return err
	}
	if sendErr == nil {
		r.log.Info("billing report sent", "tenant", tenant, "period", rep.Period, "quantity", rep.Quantity, "key", key)
	}
	return sendErr
}

// usageReport is the body DESIGN.md §3 pins.
type usageReport struct {
	Product        string `json:"product"`
	TenantID       string `json:"tenant_id"`
	Metric         string `json:"metric"`
	Quantity       int    `json:"quantity"`
	Period         string `json:"period"`
	AsOf           string `json:"as_of"`
	IdempotencyKey string `json:"idempotency_key"`
}

func (r *Reporter) send(ctx context.Context, rep visitor.BillingReport) error {
	body, err := json.Marshal(usageReport{
		Product: "visitor", TenantID: rep.TenantID, Metric: "active_locations", Quantity: rep.Quantity,
		Period: rep.Period, AsOf: rep.AsOf.UTC().Format(time.RFC3339), IdempotencyKey: rep.IdempotencyKey,
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Integration-Key", r.key)
	req.Header.Set("Idempotency-Key", rep.IdempotencyKey)
	resp, err := r.opts.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("post usage report: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict {
		return nil
	}
	return fmt.Errorf("hub billing answered %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
}

// due reports the days of the look-back window whose report time has
// passed at now, oldest first.
func due(now time.Time) []time.Time {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var days []time.Time
	for i := LookBack - 1; i >= 0; i-- {
		d := today.AddDate(0, 0, -i)
		if !now.Before(d.Add(ReportHour*time.Hour + ReportMinute*time.Minute)) {
			days = append(days, d)
		}
	}
	return days
}

// CatchUp runs every due day of the look-back window (sent days cost a
// lookup each) if this instance holds the billing lease.
func (r *Reporter) CatchUp(ctx context.Context) error {
	held, err := r.db.AcquireLease(ctx, LeaseName, r.opts.Holder, 10*time.Minute)
	if err != nil || !held {
		return err
	}
	var firstErr error
	for _, d := range due(r.opts.Now()) {
		if err := r.RunDay(ctx, d); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Run catches up at start, then wakes at each day's report time (and
// every 5 minutes while reports are unsent) until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	if r.key == "" {
		r.log.Warn("BUS_INTEGRATION_KEY is not set: Hub Billing will refuse usage reports")
	}
	for {
		wait := 5 * time.Minute
		if err := r.CatchUp(ctx); err == nil {
			wait = untilNext(r.opts.Now())
		}
		if r.opts.Sleep(ctx, wait) != nil {
			r.db.ReleaseLease(context.Background(), LeaseName, r.opts.Holder)
			return
		}
	}
}

// untilNext is the time from now to the next 00:58 UTC.
func untilNext(now time.Time) time.Duration {
	now = now.UTC()
	next := time.Date(now.Year(), now.Month(), now.Day(), ReportHour, ReportMinute, 0, 0, time.UTC)
	if !next.After(now) {
		next = next.AddDate(0, 0, 1)
	}
	return next.Sub(now)
}
