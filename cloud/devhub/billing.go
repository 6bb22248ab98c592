package devhub

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/theonestack/visitor"
)

// Billing values the Hub accepts for the Visitor product.
const (
	BillingProduct = "visitor"
	BillingMetric  = "active_locations"
)

// UsageReport is one received usage report: the body as sent plus what the
// Hub recorded about it.
type UsageReport struct {
	Product        string `json:"product"`
	TenantID       string `json:"tenant_id"`
	Metric         string `json:"metric"`
	Quantity       int64  `json:"quantity"`
	Period         string `json:"period"`
	AsOf           string `json:"as_of"`
	IdempotencyKey string `json:"idempotency_key"`
	// ReceivedAt is when the first report with this key arrived.
	ReceivedAt time.Time `json:"received_at"`
	// Duplicates counts later reports with the same key (answered 409).
	Duplicates int `json:"duplicates"`
	// Mismatches counts duplicates whose body differed from the first.
	Mismatches int `json:"mismatches"`
}

var periodFormat = regexp.MustCompile(`^\d{4}-\d{2}$`)

// sameBody reports whether two reports carry the same billed facts.
func (u *UsageReport) sameBody(o *UsageReport) bool {
	return u.Product == o.Product && u.TenantID == o.TenantID && u.Metric == o.Metric &&
		u.Quantity == o.Quantity && u.Period == o.Period && u.AsOf == o.AsOf
}

// parseUsageReport validates a report body against the contract: known
// product and metric, a tenant, an integer quantity ≥ 0, period YYYY-MM,
// as_of RFC 3339 and a key equal to the Idempotency-Key header.
func parseUsageReport(body []byte, headerKey string) (*UsageReport, error) {
	var in struct {
		Product        string          `json:"product"`
		TenantID       string          `json:"tenant_id"`
		Metric         string          `json:"metric"`
		Quantity       json.RawMessage `json:"quantity"`
		Period         string          `json:"period"`
		AsOf           string          `json:"as_of"`
		IdempotencyKey string          `json:"idempotency_key"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, visitor.Errorf(visitor.EINVALID, "invalid JSON body: %v", err)
	}
	if headerKey == "" {
		return nil, visitor.Errorf(visitor.EINVALID, "missing Idempotency-Key header")
	}
	if in.IdempotencyKey == "" {
		return nil, visitor.Errorf(visitor.EINVALID, "missing idempotency_key")
	}
	if in.IdempotencyKey != headerKey {
		return nil, visitor.Errorf(visitor.EINVALID, "Idempotency-Key header does not equal idempotency_key")
	}
	if len(in.IdempotencyKey) > 255 {
		return nil, visitor.Errorf(visitor.EINVALID, "idempotency_key longer than 255 characters")
	}
	if in.Product != BillingProduct {
		return nil, visitor.Errorf(visitor.EINVALID, "unknown product %q", in.Product)
	}
	if in.Metric != BillingMetric {
		return nil, visitor.Errorf(visitor.EINVALID, "unknown metric %q for product visitor", in.Metric)
	}
	if strings.TrimSpace(in.TenantID) == "" {
		return nil, visitor.Errorf(visitor.EINVALID, "missing tenant_id")
	}
	// A JSON string, float or exponent is refused: quantity is a count.
	q, err := strconv.ParseInt(string(in.Quantity), 10, 64)
	if err != nil || q < 0 {
		return nil, visitor.Errorf(visitor.EINVALID, "quantity must be an integer ≥ 0, got %s", orNothing(in.Quantity))
	}
	if !periodFormat.MatchString(in.Period) {
		return nil, visitor.Errorf(visitor.EINVALID, "period %q is not YYYY-MM", in.Period)
	}
	if _, err := time.Parse("2006-01", in.Period); err != nil {
		return nil, visitor.Errorf(visitor.EINVALID, "period %q is not a month", in.Period)
	}
	if _, err := time.Parse(time.RFC3339, in.AsOf); err != nil {
		return nil, visitor.Errorf(visitor.EINVALID, "as_of %q is not RFC 3339", in.AsOf)
	}
	return &UsageReport{
		Product: in.Product, TenantID: in.TenantID, Metric: in.Metric, Quantity: q,
		Period: in.Period, AsOf: in.AsOf, IdempotencyKey: in.IdempotencyKey,
	}, nil
}

func orNothing(b json.RawMessage) string {
	if len(b) == 0 {
		return "nothing"
	}
	return string(b)
}

// RecordUsage keeps rep unless a report with its key was already received.
// It returns the stored report (the original for a repeat) and whether rep
// was new.
func (h *Hub) RecordUsage(rep UsageReport) (UsageReport, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if orig, ok := h.reportByKey[rep.IdempotencyKey]; ok {
		orig.Duplicates++
		if !orig.sameBody(&rep) {
			orig.Mismatches++
		}
		return *orig, false
	}
	rep.ReceivedAt = h.opts.Now().UTC()
	rep.Duplicates, rep.Mismatches = 0, 0
	stored := rep
	h.reports = append(h.reports, &stored)
	h.reportByKey[rep.IdempotencyKey] = &stored
	return stored, true
}

// Billing returns a snapshot of the usage reports received, in arrival
// order, each with its duplicate counts.
func (h *Hub) Billing() []UsageReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]UsageReport, len(h.reports))
	for i, r := range h.reports {
		out[i] = *r
	}
	return out
}

// handleUsageReport is POST /api/hub/billing/usage/report: 201 with the
// report when its key is new, 409 with the original when it is not.
func (h *Hub) handleUsageReport(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := decodeJSON(w, r, &raw, false); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	rep, err := parseUsageReport(raw, r.Header.Get("Idempotency-Key"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", visitor.ErrorMessage(err))
		return
	}
	stored, isNew := h.RecordUsage(*rep)
	if !isNew {
		h.log.Info("duplicate usage report", "tenant_id", rep.TenantID, "idempotency_key", rep.IdempotencyKey)
		writeJSON(w, http.StatusConflict, map[string]any{
			"error": "duplicate", "message": "A report with this idempotency key was already received.", "report": stored,
		})
		return
	}
	h.log.Info("usage report", "tenant_id", rep.TenantID, "period", rep.Period, "quantity", rep.Quantity)
	writeJSON(w, http.StatusCreated, map[string]any{"status": "recorded", "report": stored})
}

// handleListBilling is GET /api/devhub/billing.
func (h *Hub) handleListBilling(w http.ResponseWriter, r *http.Request) {
	reports := h.Billing()
	dups := make(map[string]int, len(reports))
	for _, rep := range reports {
		dups[rep.IdempotencyKey] = rep.Duplicates
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": reports, "duplicates": dups})
}
