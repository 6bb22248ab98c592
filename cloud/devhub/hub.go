package devhub

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"sync"
)

//go:embed templates/*.html
var templateFS embed.FS

// Hub is the development Hub and Bus. All its state is in memory and guarded
// by one mutex: every method and every handler is safe for concurrent use.
// The fixture (users and orgs) is fixed at New. A Hub owns one background
// goroutine that forwards events to subscribers; Close stops it.
type Hub struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	fixture *Fixture
	tmpl    *template.Template

	mu            sync.Mutex
	keys          []*signingKey // current key last
	perms         PermissionRegistry
	reports       []*UsageReport
	reportByKey   map[string]*UsageReport
	events        []*ReceivedEvent
	eventByID     map[string]*ReceivedEvent
	busStats      BusStats
	faults        Faults
	subscribers   []*Subscriber
	forwardQueue  chan forwardJob
	forwardCtx    context.Context
	forwardCancel context.CancelFunc
	forwardDone   chan struct{}
	closeOnce     sync.Once
}

// New validates cfg (after defaults), loads the fixture (Options.Fixture,
// else Config.FixturesPath, else DefaultFixture), makes the first signing
// key and starts the forwarding goroutine. The caller must Close the Hub.
func New(cfg Config, opts Options) (*Hub, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("devhub config: %w", err)
	}
	opts = opts.withDefaults()
	fx := opts.Fixture
	switch {
	case fx != nil:
		if err := fx.Validate(); err != nil {
			return nil, fmt.Errorf("devhub fixture: %w", err)
		}
		fx = fx.clone()
	case cfg.FixturesPath != "":
		f, err := LoadFixture(cfg.FixturesPath)
		if err != nil {
			return nil, fmt.Errorf("devhub: %w", err)
		}
		fx = f
	default:
		fx = DefaultFixture()
	}
	tmpl, err := template.New("devhub").ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("devhub templates: %w", err)
	}
	for _, name := range []string{"home.html", "login.html", "hubbar.html"} {
		if tmpl.Lookup(name) == nil {
			return nil, fmt.Errorf("devhub templates: %s missing", name)
		}
	}
	h := &Hub{
		cfg:          cfg,
		opts:         opts,
		log:          opts.Logger.With("component", "devhub"),
		fixture:      fx,
		tmpl:         tmpl,
		reportByKey:  make(map[string]*UsageReport),
		eventByID:    make(map[string]*ReceivedEvent),
		forwardQueue: make(chan forwardJob, opts.ForwardQueue),
		forwardDone:  make(chan struct{}),
	}
	for _, s := range cfg.Subscribers {
		h.subscribers = append(h.subscribers, &Subscriber{URL: s})
	}
	k, err := h.newSigningKey(cfg.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("devhub: %w", err)
	}
	h.keys = []*signingKey{k}
	h.forwardCtx, h.forwardCancel = context.WithCancel(context.Background())
	go h.forwardLoop()
	return h, nil
}

// Close stops forwarding (events still queued are dropped) and waits for
// the forwarding goroutine. It is safe to call more than once.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() {
		h.forwardCancel()
		<-h.forwardDone
	})
	return nil
}

// Config returns the effective configuration (defaults applied).
func (h *Hub) Config() Config { return h.cfg }

// Fixture returns a copy of the Hub's directory.
func (h *Hub) Fixture() *Fixture { return h.fixture.clone() }

// Handler returns the HTTP handler with every route of the Hub, the Bus and
// the development endpoints. Routes:
//
//	GET  /                                      home page
//	GET  /healthz                               liveness
//	GET  /login?redirect=visitor&state=S[&user=ID]
//	POST /login                                 user picker form
//	GET  /.well-known/jwks.json                 public keys
//	PUT  /api/hub/products/visitor/permissions  permission registry (X-Integration-Key)
//	POST /api/hub/billing/usage/report          usage receiver (X-Integration-Key)
//	POST /api/bus/events                        Bus sink (Bearer BUS_SDK_KEY)
//	GET  /hub-bar?q=&tenant_id=                 Hub Bar search page
//	GET  /api/devhub/{events,billing,permissions,faults,subscribers,users}
//	POST /api/devhub/{rotate-keys,faults,subscribers,reset}
//	DELETE /api/devhub/faults
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.handleHome)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /login", h.handleLoginGet)
	mux.HandleFunc("POST /login", h.handleLoginPost)
	mux.HandleFunc("GET /.well-known/jwks.json", h.handleJWKS)

	// Hub API: integration key, and the hub_down fault.
	mux.Handle("PUT /api/hub/products/{product}/permissions", h.hubAPI(h.handlePutPermissions))
	mux.Handle("POST /api/hub/billing/usage/report", h.hubAPI(h.handleUsageReport))

	// Bus.
	mux.HandleFunc("POST /api/bus/events", h.handleBusEvents)

	// Hub Bar.
	mux.HandleFunc("GET /hub-bar", h.handleHubBar)

	// Development endpoints: no authentication (loopback tool).
	mux.HandleFunc("GET /api/devhub/events", h.handleListEvents)
	mux.HandleFunc("GET /api/devhub/billing", h.handleListBilling)
	mux.HandleFunc("GET /api/devhub/permissions", h.handleListPermissions)
	mux.HandleFunc("GET /api/devhub/users", h.handleListUsers)
	mux.HandleFunc("POST /api/devhub/rotate-keys", h.handleRotateKeys)
	mux.HandleFunc("GET /api/devhub/faults", h.handleGetFaults)
	mux.HandleFunc("POST /api/devhub/faults", h.handlePostFaults)
	mux.HandleFunc("DELETE /api/devhub/faults", h.handleDeleteFaults)
	mux.HandleFunc("GET /api/devhub/subscribers", h.handleListSubscribers)
	mux.HandleFunc("POST /api/devhub/subscribers", h.handleAddSubscriber)
	mux.HandleFunc("POST /api/devhub/reset", h.handleReset)
	return mux
}

// Reset forgets received events, usage reports, registered permissions and
// faults (keys, subscribers and the fixture stay).
func (h *Hub) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.perms = PermissionRegistry{}
	h.reports = nil
	h.reportByKey = make(map[string]*UsageReport)
	h.events = nil
	h.eventByID = make(map[string]*ReceivedEvent)
	h.busStats = BusStats{}
	h.faults = Faults{}
}

// hubAPI wraps a Hub API handler: the hub_down fault answers 503 first, then
// the integration key is checked when one is configured.
func (h *Hub) hubAPI(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		down := h.faults.HubDown
		h.mu.Unlock()
		if down {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "Hub is down (fault injected).")
			return
		}
		if h.cfg.HubIntegrationKey != "" && !keyEqual(r.Header.Get("X-Integration-Key"), h.cfg.HubIntegrationKey) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "Missing or invalid integration key.")
			return
		}
		next(w, r)
	})
}

// keyEqual compares secrets in constant time; hashing first hides the
// length of the expected key as well.
func keyEqual(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// maxBody bounds request bodies the Hub reads.
const maxBody = 5 << 20

// decodeJSON reads one JSON value from r's body into v, refusing unknown
// fields when strict is set.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiError is the JSON error body, the same shape as the cloud's.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	EventID string `json:"event_id,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}

// clone deep-copies a fixture so the Hub never shares it with the caller.
func (f *Fixture) clone() *Fixture {
	c := &Fixture{Orgs: slices.Clone(f.Orgs), Users: slices.Clone(f.Users)}
	for i := range c.Users {
		c.Users[i].Permissions = slices.Clone(c.Users[i].Permissions)
	}
	return c
}

// render executes a page template; a failure after headers is only logged.
func (h *Hub) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := h.tmpl.ExecuteTemplate(w, name, data); err != nil {
		h.log.Error("render page", "template", name, "err", err)
	}
}
