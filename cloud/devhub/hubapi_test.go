package devhub

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/theonestack/visitor"
)

const hubKey = "hub-integration-key"

func TestPermissionRegistry(t *testing.T) {
	hub, srv := newTestHub(t, Config{HubIntegrationKey: hubKey}, Options{})
	url := srv.URL + "/api/hub/products/visitor/permissions"
	auth := map[string]string{"X-Integration-Key": hubKey}
	all := map[string]any{"permissions": visitor.Permissions()}

	for _, tc := range []struct {
		name    string
		url     string
		headers map[string]string
		body    any
		want    int
		wantMsg string
	}{
		{"no key", url, nil, all, http.StatusUnauthorized, "integration key"},
		{"wrong key", url, map[string]string{"X-Integration-Key": "nope"}, all, http.StatusUnauthorized, "integration key"},
		{"not JSON", url, auth, `{"permissions":`, http.StatusBadRequest, "invalid JSON"},
		{"unknown field", url, auth, `{"perms":[]}`, http.StatusBadRequest, "unknown field"},
		{"empty", url, auth, `{"permissions":[]}`, http.StatusBadRequest, "must not be empty"},
		{"bad key", url, auth, `{"permissions":[{"key":"Visitor View","description":"x"}]}`, http.StatusBadRequest, "not a visitor permission key"},
		{"other product's key", url, auth, `{"permissions":[{"key":"crm.contacts.view","description":"x"}]}`, http.StatusBadRequest, "not a visitor permission key"},
		{"duplicate key", url, auth, `{"permissions":[{"key":"visitor.a.b","description":"x"},{"key":"visitor.a.b","description":"y"}]}`, http.StatusBadRequest, "duplicate"},
		{"no description", url, auth, `{"permissions":[{"key":"visitor.a.b","description":" "}]}`, http.StatusBadRequest, "description"},
		{"unknown product", srv.URL + "/api/hub/products/crm/permissions", auth, all, http.StatusNotFound, "Unknown product"},
		{"all twelve", url, auth, all, http.StatusOK, `"count": 12`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postJSON(t, http.MethodPut, tc.url, tc.headers, tc.body)
			if status != tc.want || !strings.Contains(body, tc.wantMsg) {
				t.Fatalf("%d %s, want %d containing %q", status, body, tc.want, tc.wantMsg)
			}
		})
	}

	var got struct {
		PermissionRegistry
		Missing []string `json:"missing"`
	}
	getJSON(t, srv.URL+"/api/devhub/permissions", &got)
	if len(got.Permissions) != 12 || len(got.Missing) != 0 || got.Registrations != 1 || got.Product != "visitor" {
		t.Fatalf("registry %+v", got)
	}
	if snap := hub.Permissions(); len(snap.Permissions) != 12 || snap.Permissions[11].Key != visitor.PermAdminKiosk {
		t.Fatalf("snapshot %+v", snap)
	}

	// A registration replaces the list; missing keys are reported.
	if status, body := postJSON(t, http.MethodPut, url, auth, map[string]any{"permissions": visitor.Permissions()[:11]}); status != http.StatusOK {
		t.Fatalf("re-register: %d %s", status, body)
	}
	getJSON(t, srv.URL+"/api/devhub/permissions", &got)
	if len(got.Missing) != 1 || got.Missing[0] != string(visitor.PermAdminKiosk) || got.Registrations != 2 {
		t.Fatalf("after partial registration: %+v", got)
	}

	if err := hub.SetFaults(Faults{HubDown: true}); err != nil {
		t.Fatal(err)
	}
	if status, _ := postJSON(t, http.MethodPut, url, auth, all); status != http.StatusServiceUnavailable {
		t.Fatalf("hub down: %d, want 503", status)
	}
}

func usageBody(key string, quantity any) map[string]any {
	return map[string]any{
		"product": "visitor", "tenant_id": OrgAcme, "metric": "active_locations", "quantity": quantity,
		"period": "2026-03", "as_of": "2026-03-14T00:58:00Z", "idempotency_key": key,
	}
}

func TestBillingUsageReport(t *testing.T) {
	hub, srv := newTestHub(t, Config{HubIntegrationKey: hubKey}, Options{})
	url := srv.URL + "/api/hub/billing/usage/report"
	const key = "visitor:active_locations:org_acme:2026-03-14"
	hdr := func(k string) map[string]string {
		return map[string]string{"X-Integration-Key": hubKey, "Idempotency-Key": k}
	}
	with := func(field string, v any) map[string]any {
		b := usageBody("k-"+field, 3)
		if v == nil {
			delete(b, field)
		} else {
			b[field] = v
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    any
		want    int
		wantMsg string
	}{
		{"no integration key", map[string]string{"Idempotency-Key": key}, usageBody(key, 3), http.StatusUnauthorized, ""},
		{"first report kept", hdr(key), usageBody(key, 3), http.StatusCreated, `"quantity": 3`},
		{"repeat answers 409 with the original", hdr(key), usageBody(key, 5), http.StatusConflict, `"quantity": 3`},
		{"header differs from body", hdr("other"), usageBody(key, 3), http.StatusBadRequest, "does not equal"},
		{"no header", map[string]string{"X-Integration-Key": hubKey}, usageBody("k2", 3), http.StatusBadRequest, "Idempotency-Key"},
		{"fractional quantity", hdr("k-quantity"), with("quantity", 1.5), http.StatusBadRequest, "integer"},
		{"string quantity", hdr("k-quantity"), with("quantity", "3"), http.StatusBadRequest, "integer"},
		{"negative quantity", hdr("k-quantity"), with("quantity", -1), http.StatusBadRequest, "integer"},
		{"missing quantity", hdr("k-quantity"), with("quantity", nil), http.StatusBadRequest, "integer"},
		{"month 13", hdr("k-period"), with("period", "2026-13"), http.StatusBadRequest, "not a month"},
		{"period with day", hdr("k-period"), with("period", "2026-03-14"), http.StatusBadRequest, "YYYY-MM"},
		{"as_of not RFC 3339", hdr("k-as_of"), with("as_of", "2026-03-14 00:58"), http.StatusBadRequest, "RFC 3339"},
		{"other product", hdr("k-product"), with("product", "crm"), http.StatusBadRequest, "unknown product"},
		{"other metric", hdr("k-metric"), with("metric", "checkins"), http.StatusBadRequest, "unknown metric"},
		{"no tenant", hdr("k-tenant_id"), with("tenant_id", ""), http.StatusBadRequest, "tenant_id"},
		{"unknown field", hdr("k-extra"), with("extra", 1), http.StatusBadRequest, "unknown field"},
		{"zero is a valid count", hdr("k-zero"), usageBody("k-zero", 0), http.StatusCreated, `"quantity": 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postJSON(t, http.MethodPost, url, tc.headers, tc.body)
			if status != tc.want || !strings.Contains(body, tc.wantMsg) {
				t.Fatalf("%d %s, want %d containing %q", status, body, tc.want, tc.wantMsg)
			}
		})
	}

	var list struct {
		Reports    []UsageReport  `json:"reports"`
		Duplicates map[string]int `json:"duplicates"`
	}
	getJSON(t, srv.URL+"/api/devhub/billing", &list)
	if len(list.Reports) != 2 || list.Reports[0].IdempotencyKey != key || list.Reports[0].Quantity != 3 {
		t.Fatalf("reports %+v", list.Reports)
	}
	if list.Duplicates[key] != 1 || list.Reports[0].Mismatches != 1 {
		t.Fatalf("duplicates %v, mismatches %d", list.Duplicates, list.Reports[0].Mismatches)
	}
	if snap := hub.Billing(); len(snap) != 2 || snap[0].Duplicates != 1 || snap[0].ReceivedAt.IsZero() {
		t.Fatalf("snapshot %+v", snap)
	}

	if err := hub.SetFaults(Faults{HubDown: true}); err != nil {
		t.Fatal(err)
	}
	if status, _ := postJSON(t, http.MethodPost, url, hdr("k3"), usageBody("k3", 1)); status != http.StatusServiceUnavailable {
		t.Fatalf("hub down: %d", status)
	}
}

func TestHubAPIWithoutConfiguredKey(t *testing.T) {
	_, srv := newTestHub(t, Config{}, Options{})
	status, body := postJSON(t, http.MethodPost, srv.URL+"/api/hub/billing/usage/report",
		map[string]string{"Idempotency-Key": "k"}, usageBody("k", 1))
	if status != http.StatusCreated {
		t.Fatalf("%d %s, want 201 when no key is configured", status, body)
	}
	var resp struct {
		Report UsageReport `json:"report"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Report.TenantID != OrgAcme {
		t.Fatalf("response %s: %v", body, err)
	}
}
