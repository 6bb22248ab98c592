package integration

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// search is the Hub search provider.
func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	q := r.URL.Query()
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, visitor.EINVALID, "limit must be a positive integer")
			return
		}
		limit = min(n, 100)
	}
	if c.platform && q.Get("tenant_id") == "" {
		writeError(w, http.StatusBadRequest, visitor.EINVALID, "tenant_id is required with the platform key")
		return
	}
	if len(q.Get("q")) > 200 {
		writeError(w, http.StatusBadRequest, visitor.EINVALID, "q is too long")
		return
	}
	res := store.SearchResult{Visitors: []store.SearchVisitor{}, Locations: []store.SearchLocation{}}
	if tenant, ok := c.scope(q.Get("tenant_id")); ok {
		var err error
		if res, err = h.db.Search(r.Context(), tenant, q.Get("q"), limit); err != nil {
			h.log.Error("search", "err", err)
			writeError(w, http.StatusInternalServerError, visitor.EINTERNAL, "Internal error.")
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// streamList writes {"<name>": [ …items… ]} as items arrive, flushing as
// it goes, so memory stays bounded however long the list.
type streamList struct {
	w     *bufio.Writer
	flush func()
	enc   *json.Encoder
	n     int
}

func startList(w http.ResponseWriter, name string) *streamList {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	flush := func() {}
	if f, ok := w.(http.Flusher); ok {
		flush = f.Flush
	}
	bw.WriteString(`{"` + name + `":[`)
	return &streamList{w: bw, flush: flush, enc: json.NewEncoder(bw)}
}

func (s *streamList) add(v any) error {
	if s.n > 0 {
		s.w.WriteByte(',')
	}
	s.n++
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	if s.n%1000 == 0 {
		if err := s.w.Flush(); err != nil {
			return err
		}
		s.flush()
	}
	return nil
}

func (s *streamList) end() {
	s.w.WriteString("]}\n")
	s.w.Flush()
	s.flush()
}

func (h *Handler) visitorsToday(w http.ResponseWriter, r *http.Request) {
	tenant, ok := callerOf(r.Context()).scope(r.URL.Query().Get("tenant_id"))
	list := startList(w, "visits")
	defer list.end()
	if !ok {
		return
	}
	if err := h.db.EachVisitToday(r.Context(), tenant, func(v store.ExportVisit) error { return list.add(v) }); err != nil {
		// The status is sent; the truncated body will not parse, which a
		// client detects.
		h.log.Error("visitors-today stream", "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (h *Handler) locations(w http.ResponseWriter, r *http.Request) {
	tenant, ok := callerOf(r.Context()).scope(r.URL.Query().Get("tenant_id"))
	list := startList(w, "locations")
	defer list.end()
	if !ok {
		return
	}
	type row struct {
		ID       string `json:"id"`
		TenantID string `json:"tenant_id"`
		Name     string `json:"name"`
		Address  string `json:"address"`
		Type     string `json:"type"`
		Timezone string `json:"timezone"`
	}
	if err := h.db.EachLocation(r.Context(), tenant, func(l visitor.Location) error {
		return list.add(row{l.ID, l.TenantID, l.Name, l.Address, l.Type, l.Timezone})
	}); err != nil {
		h.log.Error("locations stream", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// MaxWebhookBody is the largest webhook body accepted.
const MaxWebhookBody = 1 << 20

// webhook writes an inbound event to the tenant's audit trail, once per
// event id. When the tenant has a signing secret the request must carry a
// valid Standard Webhooks signature (see signature.go).
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send JSON (application/json or application/cloudevents+json)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is over 1 MiB")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, visitor.EINVALID, "could not read the body")
		return
	}
	var event struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Source   string `json:"source"`
		TenantID string `json:"tenantid"`
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil || json.Unmarshal(body, &event) != nil {
		writeError(w, http.StatusBadRequest, visitor.EINVALID, "the body must be a JSON object")
		return
	}
	tenant := event.TenantID
	switch {
	case c.platform && tenant == "":
		writeError(w, http.StatusBadRequest, visitor.EINVALID, "tenantid is required with the platform key")
		return
	case !c.platform && tenant != "" && tenant != c.tenantID:
		writeError(w, http.StatusForbidden, visitor.EFORBIDDEN, "Access Denied")
		return
	case !c.platform:
		tenant = c.tenantID
	}
	if _, err := h.db.Tenant(r.Context(), tenant); err != nil {
		writeError(w, http.StatusBadRequest, visitor.EINVALID, "unknown tenant")
		return
	}
	secrets, err := h.db.WebhookSecrets(r.Context(), tenant)
	if err != nil {
		h.log.Error("webhook secrets", "err", err)
		writeError(w, http.StatusInternalServerError, visitor.EINTERNAL, "Internal error.")
		return
	}
	if len(secrets) > 0 {
		keys := make([][]byte, len(secrets))
		for i, s := range secrets {
			keys[i] = s.Key
		}
		if err := VerifySignature(keys, r.Header, body, h.now()); err != nil {
			h.log.Warn("webhook refused", "tenant", tenant, "key", c.keyID, "reason", err)
			writeError(w, http.StatusUnauthorized, visitor.EUNAUTHORIZED, err.Error())
			return
		}
	}
	dedupe := event.ID
	if dedupe == "" {
		dedupe = r.Header.Get("webhook-id")
	}
	if dedupe == "" {
		sum := sha256.Sum256(body)
		dedupe = "sha256:" + hex.EncodeToString(sum[:])
	}
	subject := event.Type
	if subject == "" {
		subject = "webhook"
	}
	id, created, err := h.db.AppendAudit(r.Context(), tenant, visitor.AuditRecord{
		ActorType: store.ActorIntegration, ActorID: c.keyID, Action: "webhook.received",
		Subject: subject, Details: json.RawMessage(body), DedupeKey: dedupe,
	})
	if err != nil {
		h.log.Error("webhook audit", "err", err)
		writeError(w, http.StatusInternalServerError, visitor.EINTERNAL, "Internal error.")
		return
	}
	h.log.Info("webhook received", "tenant", tenant, "type", event.Type, "new", created)
	writeJSON(w, http.StatusAccepted, map[string]string{"audit_id": id})
}
