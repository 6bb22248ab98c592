package devhub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/theonestack/visitor"
)

// Content types of the Bus: batches in, single structured events out.
const (
	ContentTypeBatch  = "application/cloudevents-batch+json"
	ContentTypeSingle = "application/cloudevents+json"
)

// ReceivedEvent is one CloudEvent the Bus accepted, stored once per id.
type ReceivedEvent struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	Type     string `json:"type"`
	Subject  string `json:"subject,omitempty"`
	Time     string `json:"time,omitempty"`
	TenantID string `json:"tenantid,omitempty"`
	// Deliveries counts accepted posts that carried this id (1 = once).
	Deliveries      int       `json:"deliveries"`
	FirstReceivedAt time.Time `json:"first_received_at"`
	LastReceivedAt  time.Time `json:"last_received_at"`
	// Event is the CloudEvent exactly as first received.
	Event json.RawMessage `json:"event"`
}

// BusStats counts Bus posts by outcome.
type BusStats struct {
	Posts          int `json:"posts"`           // every POST /api/bus/events
	Accepted       int `json:"accepted"`        // batches answered 202
	Faulted        int `json:"faulted"`         // answered with an injected status
	Rejected       int `json:"rejected"`        // refused: auth, content type, validation, poison id
	ForwardDropped int `json:"forward_dropped"` // forwards dropped on a full queue
}

// Faults are injected failures. The zero value injects nothing.
type Faults struct {
	// BusStatus (400–599), when set, answers Bus posts with that status.
	BusStatus int `json:"bus_status,omitempty"`
	// BusCount is how many more posts get BusStatus; 0 means until cleared.
	BusCount int `json:"bus_count,omitempty"`
	// RejectEventIDs makes any batch containing one of these ids answer 400
	// (nothing of that batch is stored), so a publisher must isolate the
	// poison event to deliver the rest.
	RejectEventIDs []string `json:"reject_event_ids,omitempty"`
	// HubDown answers every Hub API call (/api/hub/*) with 503.
	HubDown bool `json:"hub_down,omitempty"`
}

func (f Faults) validate() error {
	if f.BusStatus != 0 && (f.BusStatus < 400 || f.BusStatus > 599) {
		return visitor.Errorf(visitor.EINVALID, "bus_status must be 400–599 (or 0 for none)")
	}
	if f.BusCount < 0 {
		return visitor.Errorf(visitor.EINVALID, "bus_count must not be negative")
	}
	return nil
}

// SetFaults replaces the injected faults; Faults{} clears them.
func (h *Hub) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	f.RejectEventIDs = slices.Clone(f.RejectEventIDs)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = f
	return nil
}

// CurrentFaults returns the faults in force (BusCount is what remains).
func (h *Hub) CurrentFaults() Faults {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.faults
	f.RejectEventIDs = slices.Clone(f.RejectEventIDs)
	return f
}

// Events returns a snapshot of the received events in first-arrival order.
func (h *Hub) Events() []ReceivedEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]ReceivedEvent, len(h.events))
	for i, e := range h.events {
		out[i] = *e
	}
	return out
}

// BusStats returns the Bus post counters.
func (h *Hub) BusStats() BusStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.busStats
}

// eventIn is the typed view of a CloudEvent's context attributes.
type eventIn struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	TenantID        string          `json:"tenantid"`
	Data            json.RawMessage `json:"data"`
}

var attributeName = regexp.MustCompile(`^[a-z0-9]+$`)

// contractTypes are the Visitor event types whose shape DESIGN.md pins.
// For them the Bus also checks the contract: source visitor, time, subject,
// datacontenttype application/json, a JSON object as data, the tenant, and
// the subject matching the data's visit or user id.
var contractTypes = map[string]bool{
	visitor.EventCheckedIn: true, visitor.EventCheckedOut: true,
	visitor.EventSSOLogin: true, visitor.EventLoginFailed: true,
}

// validateEvent checks one CloudEvent 1.0 (structured JSON) and, for the
// Visitor types, the contract.
func validateEvent(raw json.RawMessage) (eventIn, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil || attrs == nil {
		return eventIn{}, fmt.Errorf("not a JSON object")
	}
	for name := range attrs {
		if name != "data_base64" && !attributeName.MatchString(name) {
			return eventIn{}, fmt.Errorf("attribute name %q is not lower-case alphanumeric", name)
		}
	}
	var e eventIn
	if err := json.Unmarshal(raw, &e); err != nil {
		return eventIn{}, fmt.Errorf("attribute of the wrong type: %w", err)
	}
	switch {
	case e.SpecVersion != "1.0":
		return e, fmt.Errorf("specversion must be \"1.0\", got %q", e.SpecVersion)
	case e.ID == "":
		return e, fmt.Errorf("missing id")
	case e.Source == "":
		return e, fmt.Errorf("missing source")
	case e.Type == "":
		return e, fmt.Errorf("missing type")
	}
	if _, both := attrs["data_base64"]; both && attrs["data"] != nil {
		return e, fmt.Errorf("both data and data_base64")
	}
	if e.Time != "" {
		if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
			return e, fmt.Errorf("time %q is not RFC 3339", e.Time)
		}
	}
	if !contractTypes[e.Type] {
		return e, nil
	}
	switch {
	case e.Source != "visitor":
		return e, fmt.Errorf("source must be \"visitor\", got %q", e.Source)
	case e.Time == "":
		return e, fmt.Errorf("missing time")
	case e.Subject == "":
		return e, fmt.Errorf("missing subject")
	case e.DataContentType != "application/json":
		return e, fmt.Errorf("datacontenttype must be application/json, got %q", e.DataContentType)
	}
	var data map[string]any
	if err := json.Unmarshal(e.Data, &data); err != nil || data == nil {
		return e, fmt.Errorf("data must be a JSON object")
	}
	idField := ""
	switch e.Type {
	case visitor.EventCheckedIn, visitor.EventCheckedOut:
		idField = "visit_id"
	case visitor.EventSSOLogin:
		idField = "user_id"
	}
	if e.Type != visitor.EventLoginFailed && e.TenantID == "" {
		return e, fmt.Errorf("missing tenantid")
	}
	if idField != "" {
		if v, _ := data[idField].(string); v != e.Subject {
			return e, fmt.Errorf("subject %q does not equal data.%s %q", e.Subject, idField, v)
		}
	}
	return e, nil
}

// busError answers a refused Bus post and counts it.
func (h *Hub) busError(w http.ResponseWriter, status int, code, msg, eventID string) {
	h.mu.Lock()
	h.busStats.Rejected++
	h.mu.Unlock()
	writeJSON(w, status, apiError{Error: code, Message: msg, EventID: eventID})
}

// handleBusEvents is POST /api/bus/events. Order: injected status, Bearer
// key, content type, batch validation (all or nothing), poison ids, then
// store with dedupe by id and forward new events. Answers 202.
func (h *Hub) handleBusEvents(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.busStats.Posts++
	status := 0
	if h.faults.BusStatus != 0 {
		status = h.faults.BusStatus
		h.busStats.Faulted++
		if h.faults.BusCount > 0 {
			h.faults.BusCount--
			if h.faults.BusCount == 0 {
				h.faults.BusStatus = 0
			}
		}
	}
	h.mu.Unlock()
	if status != 0 {
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, "fault_injected", fmt.Sprintf("Injected Bus failure %d.", status))
		return
	}
	if h.cfg.BusSDKKey != "" {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !keyEqual(tok, h.cfg.BusSDKKey) {
			h.busError(w, http.StatusUnauthorized, "unauthorized", "Missing or invalid Bus SDK key.", "")
			return
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentTypeBatch {
		h.busError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be "+ContentTypeBatch+".", "")
		return
	}
	var batch []json.RawMessage
	if err := decodeJSON(w, r, &batch, false); err != nil {
		h.busError(w, http.StatusBadRequest, "invalid", "Body must be a JSON array of CloudEvents: "+err.Error(), "")
		return
	}
	if len(batch) == 0 {
		h.busError(w, http.StatusBadRequest, "invalid", "Empty batch.", "")
		return
	}
	parsed := make([]eventIn, len(batch))
	for i, raw := range batch {
		e, err := validateEvent(raw)
		if err != nil {
			h.busError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("events[%d]: %v", i, err), e.ID)
			return
		}
		parsed[i] = e
	}
	now := h.opts.Now().UTC()
	var fresh []forwardJob
	h.mu.Lock()
	for _, e := range parsed {
		if slices.Contains(h.faults.RejectEventIDs, e.ID) {
			h.busStats.Rejected++
			h.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, apiError{Error: "rejected", Message: fmt.Sprintf("Event %q rejected (fault injected).", e.ID), EventID: e.ID})
			return
		}
	}
	newCount := 0
	for i, e := range parsed {
		if prev, ok := h.eventByID[e.ID]; ok {
			prev.Deliveries++
			prev.LastReceivedAt = now
			continue
		}
		rec := &ReceivedEvent{
			ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time, TenantID: e.TenantID,
			Deliveries: 1, FirstReceivedAt: now, LastReceivedAt: now, Event: compactJSON(batch[i]),
		}
		h.events = append(h.events, rec)
		h.eventByID[e.ID] = rec
		newCount++
		for _, s := range h.subscribers {
			fresh = append(fresh, forwardJob{url: s.URL, id: e.ID, body: rec.Event})
		}
	}
	h.busStats.Accepted++
	h.mu.Unlock()
	h.enqueueForwards(fresh)
	h.log.Info("bus batch", "events", len(parsed), "new", newCount)
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(parsed), "new": newCount, "duplicates": len(parsed) - newCount})
}

// compactJSON returns raw without insignificant whitespace (raw is valid).
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return slices.Clone(raw)
	}
	return b.Bytes()
}
