package devhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SearchResult is the Visitor search provider's response (DESIGN.md §3,
// Search provider).
type SearchResult struct {
	Visitors  []SearchVisitor  `json:"visitors"`
	Locations []SearchLocation `json:"locations"`
}

// SearchVisitor is one visitor hit.
type SearchVisitor struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Company  string `json:"company"`
	Status   string `json:"status"`
	Location struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"location"`
	CheckedInAt string `json:"checked_in_at"`
}

// SearchLocation is one location hit.
type SearchLocation struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address"`
	Type    string `json:"type"`
}

type hubBarPage struct {
	Orgs     []Org
	TenantID string
	Query    string
	Searched bool
	Result   SearchResult
	Error    string
}

// handleHome lists the ways in.
func (h *Hub) handleHome(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "home.html", struct {
		VisitorURL string
		Users      []pickerUser
	}{h.cfg.VisitorURL, h.loginPageData(RedirectVisitor, "-", "").Users})
}

// handleHubBar renders the search box and, with q set, the results of
// Visitor's search for tenant_id (default: the first fixture org). A failed
// search answers 502 with the reason on the page.
func (h *Hub) handleHubBar(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := hubBarPage{Orgs: h.fixture.Orgs, Query: q.Get("q"), TenantID: q.Get("tenant_id")}
	if p.TenantID == "" && len(h.fixture.Orgs) > 0 {
		p.TenantID = h.fixture.Orgs[0].ID
	}
	if strings.TrimSpace(p.Query) == "" {
		h.render(w, http.StatusOK, "hubbar.html", p)
		return
	}
	p.Searched = true
	res, err := h.Search(r.Context(), p.TenantID, p.Query)
	if err != nil {
		h.log.Warn("hub bar search failed", "tenant_id", p.TenantID, "err", err)
		p.Error = err.Error()
		h.render(w, http.StatusBadGateway, "hubbar.html", p)
		return
	}
	p.Result = res
	h.render(w, http.StatusOK, "hubbar.html", p)
}

// Search calls Visitor's GET /api/search with the configured integration
// key, as Hub's search bar does. A non-200 answer is an error carrying the
// status and Visitor's error message.
func (h *Hub) Search(ctx context.Context, tenantID, query string) (SearchResult, error) {
	u := h.cfg.VisitorURL + "/api/search?" + url.Values{"q": {query}, "tenant_id": {tenantID}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return SearchResult{}, fmt.Errorf("search request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if h.cfg.VisitorIntegrationKey != "" {
		req.Header.Set("X-Integration-Key", h.cfg.VisitorIntegrationKey)
	}
	resp, err := h.opts.HTTPClient.Do(req)
	if err != nil {
		// Drop the URL from the message: its q may be a visitor's name,
		// which must not reach the logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return SearchResult{}, fmt.Errorf("search %s: %w", h.cfg.VisitorURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return SearchResult{}, fmt.Errorf("search: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiError
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && (e.Error != "" || e.Message != "") {
			msg = strings.TrimSpace(e.Error + ": " + e.Message)
		}
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return SearchResult{}, fmt.Errorf("Visitor answered %s: %s", resp.Status, msg)
	}
	var res SearchResult
	if err := json.Unmarshal(body, &res); err != nil {
		return SearchResult{}, fmt.Errorf("search: malformed response: %w", err)
	}
	return res, nil
}
