package devhub

import (
	"net/http"
	"slices"

	"github.com/theonestack/visitor"
)

// handleJWKS is GET /.well-known/jwks.json.
func (h *Hub) handleJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := h.JWKS()
	if err != nil {
		h.log.Error("jwks", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "Internal error.")
		return
	}
	writeJSON(w, http.StatusOK, set)
}

// handleListEvents is GET /api/devhub/events[?type=][&tenantid=][&subject=].
func (h *Hub) handleListEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	events := slices.DeleteFunc(h.Events(), func(e ReceivedEvent) bool {
		return (q.Has("type") && e.Type != q.Get("type")) ||
			(q.Has("tenantid") && e.TenantID != q.Get("tenantid")) ||
			(q.Has("subject") && e.Subject != q.Get("subject"))
	})
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "stats": h.BusStats()})
}

// handleListUsers is GET /api/devhub/users: the fixture.
func (h *Hub) handleListUsers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.Fixture())
}

// handleRotateKeys is POST /api/devhub/rotate-keys[?alg=EdDSA|RS256].
func (h *Hub) handleRotateKeys(w http.ResponseWriter, r *http.Request) {
	alg := r.URL.Query().Get("alg")
	if alg != "" && alg != AlgEdDSA && alg != AlgRS256 {
		writeError(w, http.StatusBadRequest, "invalid", "alg must be EdDSA or RS256.")
		return
	}
	kid, err := h.RotateKeys(alg)
	if err != nil {
		h.log.Error("rotate keys", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "Internal error.")
		return
	}
	set, _ := h.JWKS()
	writeJSON(w, http.StatusOK, map[string]any{"kid": kid, "keys": len(set.Keys)})
}

// handleGetFaults is GET /api/devhub/faults.
func (h *Hub) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.CurrentFaults())
}

// handlePostFaults is POST /api/devhub/faults: the fields present in the
// body replace the current ones; absent fields stay as they are.
func (h *Hub) handlePostFaults(w http.ResponseWriter, r *http.Request) {
	var patch struct {
		BusStatus      *int      `json:"bus_status"`
		BusCount       *int      `json:"bus_count"`
		RejectEventIDs *[]string `json:"reject_event_ids"`
		HubDown        *bool     `json:"hub_down"`
	}
	if err := decodeJSON(w, r, &patch, true); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	// Merge and store under one lock so concurrent posts do not lose fields.
	h.mu.Lock()
	f := h.faults
	f.RejectEventIDs = slices.Clone(f.RejectEventIDs)
	if patch.BusStatus != nil {
		f.BusStatus = *patch.BusStatus
		f.BusCount = 0
	}
	if patch.BusCount != nil {
		f.BusCount = *patch.BusCount
	}
	if patch.RejectEventIDs != nil {
		f.RejectEventIDs = slices.Clone(*patch.RejectEventIDs)
	}
	if patch.HubDown != nil {
		f.HubDown = *patch.HubDown
	}
	err := f.validate()
	if err == nil {
		h.faults = f
	}
	h.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", visitor.ErrorMessage(err))
		return
	}
	h.log.Info("faults set", "bus_status", f.BusStatus, "bus_count", f.BusCount,
		"reject_ids", len(f.RejectEventIDs), "hub_down", f.HubDown)
	writeJSON(w, http.StatusOK, h.CurrentFaults())
}

// handleDeleteFaults is DELETE /api/devhub/faults.
func (h *Hub) handleDeleteFaults(w http.ResponseWriter, r *http.Request) {
	_ = h.SetFaults(Faults{})
	writeJSON(w, http.StatusOK, h.CurrentFaults())
}

// handleListSubscribers is GET /api/devhub/subscribers.
func (h *Hub) handleListSubscribers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"subscribers": h.Subscribers()})
}

// handleAddSubscriber is POST /api/devhub/subscribers {"url": …}.
func (h *Hub) handleAddSubscriber(w http.ResponseWriter, r *http.Request) {
	var body struct {
		URL string `json:"url"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if err := h.AddSubscriber(body.URL); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", visitor.ErrorMessage(err))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"subscribers": h.Subscribers()})
}

// handleReset is POST /api/devhub/reset.
func (h *Hub) handleReset(w http.ResponseWriter, r *http.Request) {
	h.Reset()
	w.WriteHeader(http.StatusNoContent)
}
