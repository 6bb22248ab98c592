// Package localapi serves the kiosk engine's loopback JSON API
// (DESIGN.md §3 "Edge local API") with net/http only. Every answer comes
// from the local database, so the API behaves the same online and offline.
//
// Errors are JSON {"error": CODE, "message": TEXT}: 400 invalid, 404
// not_found, 409 conflict or not_paired, 413 for a body above 64 KiB, 500
// internal (details logged, never shown).
package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/edgeapi"
)

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 64 << 10

// Handler returns the API's handler over svc. logger receives internal
// errors (never request bodies, which hold visitor PII).
func Handler(svc edgeapi.Service, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &api{svc: svc, log: logger.With("component", "localapi")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", a.status)
	mux.HandleFunc("POST /v1/checkins", a.checkIn)
	mux.HandleFunc("POST /v1/checkouts", a.checkOut)
	mux.HandleFunc("GET /v1/visits", a.visits)
	mux.HandleFunc("GET /v1/hosts", a.hosts)
	mux.HandleFunc("POST /v1/pairing", a.pairing)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: visitor.ENOTFOUND, Message: "no such endpoint"})
	})
	return mux
}

type api struct {
	svc edgeapi.Service
	log *slog.Logger
}

type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// visitBody is a visit as the API returns it: the visit with its id also
// under "visit_id".
type visitBody struct {
	VisitID string `json:"visit_id"`
	visitor.Visit
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// statusOf maps the error vocabulary to HTTP, in this one place.
func statusOf(code string) int {
	switch code {
	case visitor.EINVALID:
		return http.StatusBadRequest
	case visitor.ENOTFOUND:
		return http.StatusNotFound
	case visitor.ECONFLICT, visitor.ENOTPAIRED:
		return http.StatusConflict
	case visitor.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case visitor.EFORBIDDEN:
		return http.StatusForbidden
	case visitor.ERATELIMIT:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := visitor.ErrorCode(err)
	if code == visitor.EINTERNAL {
		a.log.Error("local API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, statusOf(code), errorBody{Error: code, Message: visitor.ErrorMessage(err)})
}

// decode reads a JSON object of at most MaxBody bytes into v, refusing
// unknown fields and trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return http.StatusUnsupportedMediaType, visitor.Errorf(visitor.EINVALID, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, visitor.Errorf(visitor.EINVALID, "request body above %d bytes", MaxBody)
		}
		return http.StatusBadRequest, visitor.Errorf(visitor.EINVALID, "request body is not valid JSON: %s", jsonProblem(err))
	}
	if dec.More() {
		return http.StatusBadRequest, visitor.Errorf(visitor.EINVALID, "request body has data after the JSON object")
	}
	return 0, nil
}

// jsonProblem describes a decode error without echoing request values.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	case err.Error() == "EOF":
		return "empty body"
	}
	return "malformed"
}

func (a *api) failDecode(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorBody{Error: visitor.EINVALID, Message: visitor.ErrorMessage(err)})
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.svc.Status(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *api) checkIn(w http.ResponseWriter, r *http.Request) {
	var req edgeapi.CheckInRequest
	if status, err := decode(w, r, &req); err != nil {
		a.failDecode(w, status, err)
		return
	}
	v, err := a.svc.CheckIn(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, visitBody{VisitID: v.ID, Visit: v})
}

func (a *api) checkOut(w http.ResponseWriter, r *http.Request) {
	var req edgeapi.CheckOutRequest
	if status, err := decode(w, r, &req); err != nil {
		a.failDecode(w, status, err)
		return
	}
	v, err := a.svc.CheckOut(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, visitBody{VisitID: v.ID, Visit: v})
}

func (a *api) visits(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s := q.Get("status"); s != "" && s != visitor.StatusOnSite && s != string(visitor.VisitCheckedIn) {
		a.fail(w, r, visitor.Errorf(visitor.EINVALID, "status must be on_site (the kiosk keeps only its on-site list)"))
		return
	}
	var visits []visitor.Visit
	var err error
	if name := q.Get("q"); name != "" {
		visits, err = a.svc.FindOnSite(r.Context(), name)
	} else {
		visits, err = a.svc.OnSite(r.Context())
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]visitBody, len(visits))
	for i, v := range visits {
		out[i] = visitBody{VisitID: v.ID, Visit: v}
	}
	writeJSON(w, http.StatusOK, map[string]any{"visits": out, "next_cursor": ""})
}

func (a *api) hosts(w http.ResponseWriter, r *http.Request) {
	hosts, err := a.svc.Hosts(r.Context(), r.URL.Query().Get("q"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"hosts": hosts, "next_cursor": ""})
}

// pairing is POST /v1/pairing: start pairing (or return the live code).
// 409 already_paired on a paired kiosk; 503 cloud_unreachable when no code
// could be had.
func (a *api) pairing(w http.ResponseWriter, r *http.Request) {
	p, ok := a.svc.(edgeapi.Pairer)
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Error: visitor.ENOTFOUND, Message: "this kiosk cannot pair"})
		return
	}
	code, err := p.StartPairing(r.Context())
	switch visitor.ErrorCode(err) {
	case "":
		writeJSON(w, http.StatusOK, code)
	case edgeapi.CodeAlreadyPaired:
		writeJSON(w, http.StatusConflict, errorBody{Error: edgeapi.CodeAlreadyPaired, Message: visitor.ErrorMessage(err)})
	case edgeapi.CodeCloudUnreachable:
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: edgeapi.CodeCloudUnreachable, Message: visitor.ErrorMessage(err)})
	default:
		a.fail(w, r, err)
	}
}
