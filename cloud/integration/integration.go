// Package integration serves the endpoints external systems call with an
// X-Integration-Key: the search provider (GET /api/search) and the
// integration API (GET /api/integration/visitors-today,
// GET /api/integration/locations, POST /api/integration/webhook).
//
// Two kinds of key are accepted. The platform key (INTEGRATION_KEY) sees
// every tenant; a request names the tenant it wants. A tenant key, created
// in the console and stored only as a hash, sees its own tenant whatever
// the request says: a tenant_id naming another tenant filters down to
// nothing. Missing, wrong and revoked keys all get the same 401 body. Each
// key has its own rate limit (429 with Retry-After).
package integration

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// Options are optional settings; the zero value works.
type Options struct {
	// PlatformKey is INTEGRATION_KEY; "" refuses platform access.
	PlatformKey string
	Logger      *slog.Logger     // nil discards
	Now         func() time.Time // nil: time.Now
	// Rate and Burst bound each key's requests (default 20/s, burst 40).
	Rate  rate.Limit
	Burst int
}

// Handler serves the integration endpoints. It is safe for concurrent use.
type Handler struct {
	db       *store.DB
	platform [32]byte
	hasPlat  bool
	log      *slog.Logger
	now      func() time.Time
	rate     rate.Limit
	burst    int
	mux      *http.ServeMux

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// maxLimiters bounds the per-key limiter table; past it the table starts over.
const maxLimiters = 10000

// New builds the handler.
func New(db *store.DB, opts Options) *Handler {
	h := &Handler{db: db, log: opts.Logger, now: opts.Now, rate: opts.Rate, burst: opts.Burst, limiters: map[string]*rate.Limiter{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "integration")
	if h.now == nil {
		h.now = time.Now
	}
	if h.rate == 0 {
		h.rate = 20
	}
	if h.burst == 0 {
		h.burst = 40
	}
	if opts.PlatformKey != "" {
		h.platform, h.hasPlat = sha256.Sum256([]byte(opts.PlatformKey)), true
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /api/search", h.search)
	h.mux.HandleFunc("GET /api/integration/visitors-today", h.visitorsToday)
	h.mux.HandleFunc("GET /api/integration/locations", h.locations)
	h.mux.HandleFunc("POST /api/integration/webhook", h.webhook)
	return h
}

// Routes lists the method and path of every endpoint, for the route table.
func Routes() [][2]string {
	return [][2]string{
		{http.MethodGet, "/api/search"},
		{http.MethodGet, "/api/integration/visitors-today"},
		{http.MethodGet, "/api/integration/locations"},
		{http.MethodPost, "/api/integration/webhook"},
	}
}

// caller is who is calling: the platform, or one tenant's key.
type caller struct {
	platform bool
	tenantID string
	keyID    string
}

// scope returns the tenant a request may see given its tenant_id
// parameter: ok is false when the answer is necessarily empty (a tenant
// key naming another tenant).
func (c caller) scope(requested string) (tenant string, ok bool) {
	if c.platform {
		return requested, true
	}
	if requested != "" && requested != c.tenantID {
		return "", false
	}
	return c.tenantID, true
}

// ServeHTTP authenticates, rate-limits and dispatches.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := h.authenticate(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, visitor.EUNAUTHORIZED, "A valid X-Integration-Key is required.")
		return
	}
	if wait, ok := h.allow(c.keyID); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, visitor.ERATELIMIT, "Too many requests for this key; retry later.")
		return
	}
	h.mux.ServeHTTP(w, r.WithContext(withCaller(r.Context(), c)))
}

// authenticate checks the key. The platform key is compared as a SHA-256
// digest in constant time; a tenant key is found by the digest of what
// was sent, so no stored secret is ever compared byte by byte.
func (h *Handler) authenticate(r *http.Request) (caller, bool) {
	key := r.Header.Get("X-Integration-Key")
	if key == "" || len(key) > 256 {
		return caller{}, false
	}
	sum := sha256.Sum256([]byte(key))
	if h.hasPlat && subtle.ConstantTimeCompare(sum[:], h.platform[:]) == 1 {
		return caller{platform: true, keyID: "platform"}, true
	}
	k, err := h.db.IntegrationKeyByHash(r.Context(), sum[:])
	if err != nil {
		if visitor.ErrorCode(err) != visitor.ENOTFOUND {
			h.log.Error("integration key lookup", "err", err)
		}
		return caller{}, false
	}
	return caller{tenantID: k.TenantID, keyID: k.ID}, true
}

func (h *Handler) allow(keyID string) (time.Duration, bool) {
	h.mu.Lock()
	l, ok := h.limiters[keyID]
	if !ok {
		if len(h.limiters) >= maxLimiters {
			h.limiters = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(h.rate, h.burst)
		h.limiters[keyID] = l
	}
	h.mu.Unlock()
	now := h.now()
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}
