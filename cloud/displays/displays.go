// Package displays is the cloud's pairing and displays service: it issues
// device codes to new kiosks, answers their signed polls in the shape of
// RFC 8628, lets admins approve or deny a code for a location of their
// tenant, and lists, renames, unpairs and revokes paired kiosks
// (DESIGN.md §4). It knows nothing of HTTP; package web maps its errors.
//
// State lives in the store, so several cloud instances agree: codes are
// stored hashed, the replay cache of poll proofs is a unique insert in the
// database, and a code's binding is handed out once, in the transaction
// that consumes it. Only the attempt limiters are per process.
package displays

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/pairing"
)

// VerificationPath is the console page an admin opens to approve a code.
const VerificationPath = "/pair"

// pollTolerance is how much sooner than its interval a poll may arrive
// without a slow_down: network jitter can bunch two well-behaved polls.
const pollTolerance = time.Second

// Default limits of device-code requests per source IP: a lobby full of
// new kiosks behind one address pairs in one go, a script flooding the
// table does not.
const (
	DefaultCodeRequests      = 30
	DefaultCodeRequestWindow = 10 * time.Minute
)

// DeviceLinks acts on kiosks' live sync connections. The sync server
// implements it; nil links mean a status change reaches a kiosk only
// through the sync server's own status poll.
type DeviceLinks interface {
	// Revoke ends the device's live connection with bye "revoked".
	Revoke(deviceID string)
	// Unpair lets the device drain its outbox, then ends it with bye "unpaired".
	Unpair(deviceID string)
	// Online reports whether the device has a live connection.
	Online(deviceID string) bool
}

// Options are the optional dependencies of New; the zero value works.
type Options struct {
	// Now is the clock; nil means the store's clock.
	Now func() time.Time
	// Rand makes codes; nil means crypto/rand.Reader.
	Rand io.Reader
	// Logger receives pairing events (never codes, proofs or keys); nil discards.
	Logger *slog.Logger
	// Links reaches live kiosk connections; nil means none.
	Links DeviceLinks
	// Attempts limits user-code attempts per user and per IP; nil means
	// pairing.NewAttempts with its defaults.
	Attempts *pairing.Attempts
	// CodeRequests limits device-code requests per IP; nil means
	// DefaultCodeRequests per DefaultCodeRequestWindow.
	CodeRequests *pairing.Attempts
	// Interval is the minimum seconds between polls; 0 means pairing.DefaultInterval.
	Interval int
	// ExpiresIn is the codes' life in seconds; 0 means pairing.DefaultExpiresIn.
	ExpiresIn int
}

// Service runs pairing and the displays of every tenant. It is safe for
// concurrent use.
type Service struct {
	db        *store.DB
	publicURL string
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	links     DeviceLinks
	attempts  *pairing.Attempts
	codeReqs  *pairing.Attempts
	interval  int
	expiresIn int
}

// New returns the service over db; publicURL is the cloud's PUBLIC_URL,
// from which the verification URIs are made.
func New(db *store.DB, publicURL string, opts Options) *Service {
	s := &Service{
		db: db, publicURL: strings.TrimSuffix(publicURL, "/"), now: opts.Now, rand: opts.Rand, log: opts.Logger,
		links: opts.Links, attempts: opts.Attempts, codeReqs: opts.CodeRequests,
		interval: opts.Interval, expiresIn: opts.ExpiresIn,
	}
	if s.now == nil {
		s.now = db.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "displays")
	if s.attempts == nil {
		s.attempts = pairing.NewAttempts(0, 0, s.now)
	}
	if s.codeReqs == nil {
		s.codeReqs = pairing.NewAttempts(DefaultCodeRequests, DefaultCodeRequestWindow, s.now)
	}
	if s.interval <= 0 {
		s.interval = pairing.DefaultInterval
	}
	if s.expiresIn <= 0 {
		s.expiresIn = pairing.DefaultExpiresIn
	}
	return s
}

// SetLinks sets the live-connection hooks after construction (the sync
// server may be built after the service). It must not be called
// concurrently with other methods.
func (s *Service) SetLinks(l DeviceLinks) { s.links = l }

// TokenError is an RFC 8628 error answer of the pairing endpoints: Code is
// one of the pairing.Error… constants; Status is the HTTP status (400, or
// 429 for a rate-limited device-code request, with RetryAfter).
type TokenError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
}

func (e *TokenError) Error() string { return fmt.Sprintf("pairing: %s: %s", e.Code, e.Description) }

func tokenErr(code, desc string) *TokenError {
	return &TokenError{Status: 400, Code: code, Description: desc}
}

// RateLimitError refuses a user-code attempt; the web layer answers 429
// with Retry-After.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many pairing code attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// StartPairing registers a kiosk's public key and issues its codes
// (POST /api/pairing/device-code). ip is the caller's address, for the
// rate limit. Errors are *TokenError.
func (s *Service) StartPairing(ctx context.Context, req pairing.DeviceCodeRequest, ip string) (pairing.DeviceCodeResponse, error) {
	if ok, retry := s.codeReqs.Allow("ip:" + ip); !ok {
		return pairing.DeviceCodeResponse{}, &TokenError{Status: 429, Code: pairing.ErrorSlowDown,
			Description: "too many device codes requested from this address", RetryAfter: retry}
	}
	pub, err := req.Validate()
	if err != nil {
		return pairing.DeviceCodeResponse{}, tokenErr(pairing.ErrorInvalidRequest, err.Error())
	}
	now := s.now()
	device, err := pairing.NewDeviceCode(s.rand)
	if err != nil {
		return pairing.DeviceCodeResponse{}, fmt.Errorf("device code: %w", err)
	}
	var user string
	for try := 0; ; try++ {
		if user, err = pairing.NewUserCode(s.rand); err != nil {
			return pairing.DeviceCodeResponse{}, fmt.Errorf("user code: %w", err)
		}
		err = s.db.CreatePairing(ctx, store.Pairing{
			DeviceCodeHash: pairing.HashCode(device), UserCodeHash: pairing.HashCode(user), PublicKey: pub,
			Name: strings.TrimSpace(req.Name), AppVersion: req.AppVersion, Interval: s.interval,
			CreatedAt: now, ExpiresAt: now.Add(time.Duration(s.expiresIn) * time.Second),
		})
		if visitor.ErrorCode(err) == visitor.ECONFLICT && try < 3 {
			continue // the user code clashed with a live one: draw again
		}
		if err != nil {
			return pairing.DeviceCodeResponse{}, fmt.Errorf("store pairing: %w", err)
		}
		break
	}
	s.log.Info("pairing started", "ip", ip)
	return pairing.DeviceCodeResponse{
		DeviceCode: device, UserCode: pairing.FormatUserCode(user),
		VerificationURI:         s.publicURL + VerificationPath,
		VerificationURIComplete: s.publicURL + VerificationPath + "?code=" + pairing.FormatUserCode(user),
		ExpiresIn:               s.expiresIn, Interval: s.interval, ServerTime: now.Unix(),
	}, nil
}

// replayCache backs pairing.ReplayCache with the store's unique insert of
// used ids, so a proof accepted by one instance is refused by all.
func (s *Service) replayCache(ctx context.Context) pairing.ReplayCache {
	return pairing.ReplayCacheFunc(func(key string, expires time.Time) (bool, error) {
		return s.db.ConsumeToken(ctx, "pairing-proof:"+key, expires)
	})
}

// PollToken answers one signed poll (POST /api/pairing/token): the
// binding once an admin approved, else a *TokenError with
// authorization_pending, slow_down, expired_token (unknown, expired or
// already used code), access_denied, or invalid_request (malformed
// request, bad or replayed proof).
func (s *Service) PollToken(ctx context.Context, req pairing.TokenRequest) (pairing.TokenResponse, error) {
	if err := req.Validate(); err != nil {
		return pairing.TokenResponse{}, tokenErr(pairing.ErrorInvalidRequest, err.Error())
	}
	hash := pairing.HashCode(req.DeviceCode)
	p, err := s.db.PairingByDeviceCode(ctx, hash)
	switch {
	case visitor.ErrorCode(err) == visitor.ENOTFOUND:
		return pairing.TokenResponse{}, tokenErr(pairing.ErrorExpiredToken, "unknown, expired or used device code; request a new one")
	case err != nil:
		return pairing.TokenResponse{}, err
	case p.Status == store.PairingConsumed || !s.now().Before(p.ExpiresAt):
		return pairing.TokenResponse{}, tokenErr(pairing.ErrorExpiredToken, "unknown, expired or used device code; request a new one")
	}
	if err := pairing.VerifyRequest(p.PublicKey, req.DeviceCode, req.Proof, s.now(), s.replayCache(ctx)); err != nil {
		if !errors.Is(err, pairing.ErrBadProof) {
			return pairing.TokenResponse{}, fmt.Errorf("verify proof: %w", err)
		}
		s.log.Warn("pairing poll refused", "reason", err.Error())
		return pairing.TokenResponse{}, tokenErr(pairing.ErrorInvalidRequest, "the device proof was refused")
	}
	out, b, interval, err := s.db.PollPairing(ctx, hash, pairing.SlowDownStep, pollTolerance)
	if err != nil {
		return pairing.TokenResponse{}, err
	}
	switch out {
	case store.PollApproved:
		s.log.Info("pairing completed", "device_id", b.DeviceID, "tenant_id", b.TenantID, "location_id", b.LocationID)
		return pairing.TokenResponse{DeviceID: b.DeviceID, TenantID: b.TenantID, TenantName: b.TenantName,
			LocationID: b.LocationID, LocationName: b.LocationName, DisplayName: b.DisplayName}, nil
	case store.PollPending:
		return pairing.TokenResponse{}, tokenErr(pairing.ErrorAuthorizationPending, "waiting for an admin to approve the code")
	case store.PollSlowDown:
		return pairing.TokenResponse{}, tokenErr(pairing.ErrorSlowDown, fmt.Sprintf("poll at most every %d s", interval))
	case store.PollDenied:
		return pairing.TokenResponse{}, tokenErr(pairing.ErrorAccessDenied, "an admin refused this pairing")
	}
	return pairing.TokenResponse{}, tokenErr(pairing.ErrorExpiredToken, "unknown, expired or used device code; request a new one")
}

// Pending is a live pairing as the approval page shows it.
type Pending struct {
	UserCode   string // formatted ABCD-EFGH
	Name       string // the name the kiosk suggested
	AppVersion string
	ExpiresAt  time.Time
}

// attempt counts one user-code attempt of the session's user from ip and
// returns the normalised code. A malformed code counts too.
func (s *Service) attempt(sess *visitor.Session, ip, userCode string) (keys []string, code string, err error) {
	keys = []string{"user:" + sess.UserID, "ip:" + ip}
	if ok, retry := s.attempts.Allow(keys...); !ok {
		s.log.Warn("pairing code attempts limited", "user_id", sess.UserID, "ip", ip)
		return nil, "", &RateLimitError{RetryAfter: retry}
	}
	code, err = pairing.NormalizeUserCode(userCode)
	if err != nil {
		return nil, "", visitor.Errorf(visitor.EINVALID, "%s", strings.TrimPrefix(err.Error(), "pairing: "))
	}
	return keys, code, nil
}

// live looks the code up and gives back the attempt when it is live.
func (s *Service) live(ctx context.Context, keys []string, code string) (store.Pairing, error) {
	p, err := s.db.LivePairingByUserCode(ctx, pairing.HashCode(code))
	if err != nil {
		if visitor.ErrorCode(err) == visitor.ENOTFOUND {
			return store.Pairing{}, visitor.Errorf(visitor.ENOTFOUND, "no pairing is waiting with this code; it may have expired or been used")
		}
		return store.Pairing{}, err
	}
	s.attempts.Succeeded(keys...)
	return p, nil
}

// Lookup returns the live pairing of userCode for the approval page. It is
// an attempt like Approve (limited per user and per IP, *RateLimitError),
// because it tells whether a code is live.
func (s *Service) Lookup(ctx context.Context, sess *visitor.Session, ip, userCode string) (Pending, error) {
	keys, code, err := s.attempt(sess, ip, userCode)
	if err != nil {
		return Pending{}, err
	}
	p, err := s.live(ctx, keys, code)
	if err != nil {
		return Pending{}, err
	}
	return Pending{UserCode: pairing.FormatUserCode(code), Name: p.Name, AppVersion: p.AppVersion, ExpiresAt: p.ExpiresAt}, nil
}

// Approval is an admin's approval of a code (POST /api/v1/displays/approve).
type Approval struct {
	UserCode   string `json:"user_code"`
	LocationID string `json:"location_id"`
	Name       string `json:"name"`
}

// Approve binds the live pairing of a.UserCode to a location of the
// session's tenant and creates its device; the kiosk learns it on its
// next poll. Refusals: *RateLimitError after too many attempts,
// EINVALID for a malformed code, ENOTFOUND for a code that is not live or
// a location that is not the tenant's.
func (s *Service) Approve(ctx context.Context, sess *visitor.Session, ip string, a Approval) (visitor.Device, error) {
	if strings.TrimSpace(a.LocationID) == "" {
		return visitor.Device{}, visitor.Errorf(visitor.EINVALID, "location_id is required")
	}
	keys, code, err := s.attempt(sess, ip, a.UserCode)
	if err != nil {
		return visitor.Device{}, err
	}
	if _, err := s.live(ctx, keys, code); err != nil {
		return visitor.Device{}, err
	}
	d, err := s.db.ApprovePairing(ctx, store.Approval{TenantID: sess.TenantID, UserCodeHash: pairing.HashCode(code),
		LocationID: a.LocationID, Name: a.Name}, actor(sess))
	if err != nil {
		return visitor.Device{}, err
	}
	s.log.Info("pairing approved", "device_id", d.ID, "tenant_id", d.TenantID, "location_id", d.LocationID, "user_id", sess.UserID)
	return d, nil
}

// Deny refuses the live pairing of userCode; the kiosk's next poll
// answers access_denied. Refusals as for Approve.
func (s *Service) Deny(ctx context.Context, sess *visitor.Session, ip, userCode string) error {
	keys, code, err := s.attempt(sess, ip, userCode)
	if err != nil {
		return err
	}
	if _, err := s.live(ctx, keys, code); err != nil {
		return err
	}
	if err := s.db.DenyPairing(ctx, sess.TenantID, pairing.HashCode(code), actor(sess)); err != nil {
		return err
	}
	s.log.Info("pairing denied", "tenant_id", sess.TenantID, "user_id", sess.UserID)
	return nil
}

// Display is a paired kiosk as the Displays page and API show it: the
// device (status, last seen, backlog) and whether it is connected now.
type Display struct {
	visitor.Device
	Online bool `json:"online"`
}

// List returns the tenant's displays, a page at a time.
func (s *Service) List(ctx context.Context, tenantID string, limit int, cursor string) ([]Display, string, error) {
	devices, next, err := s.db.Devices(ctx, tenantID, limit, cursor)
	if err != nil {
		return nil, "", err
	}
	out := make([]Display, len(devices))
	for i, d := range devices {
		out[i] = Display{Device: d, Online: s.links != nil && d.Status != visitor.DeviceRevoked && s.links.Online(d.ID)}
	}
	return out, next, nil
}

// Rename changes a display's name.
func (s *Service) Rename(ctx context.Context, sess *visitor.Session, id, name string) (visitor.Device, error) {
	return s.db.RenameDevice(ctx, sess.TenantID, id, name, actor(sess))
}

// Unpair marks the display unpaired: a connected kiosk drains its outbox,
// then is told to wipe its tenant data and return to the pairing screen.
// ECONFLICT for a revoked display, ENOTFOUND for another tenant's.
func (s *Service) Unpair(ctx context.Context, sess *visitor.Session, id string) (visitor.Device, error) {
	d, err := s.db.SetDeviceStatus(ctx, sess.TenantID, id, visitor.DeviceUnpaired, actor(sess))
	if err != nil {
		return visitor.Device{}, err
	}
	if s.links != nil {
		s.links.Unpair(d.ID)
	}
	s.log.Info("display unpaired", "device_id", d.ID, "tenant_id", d.TenantID, "user_id", sess.UserID)
	return d, nil
}

// Revoke marks the display revoked (lost or stolen): its live connection
// ends at once and every reconnect is refused; ops it has not pushed are
// never applied. ENOTFOUND for another tenant's display. Revoking twice
// answers the revoked display.
func (s *Service) Revoke(ctx context.Context, sess *visitor.Session, id string) (visitor.Device, error) {
	d, err := s.db.SetDeviceStatus(ctx, sess.TenantID, id, visitor.DeviceRevoked, actor(sess))
	if visitor.ErrorCode(err) == visitor.ECONFLICT {
		// Already revoked: say so, and still make sure no connection lives.
		if d, err = s.db.Device(ctx, sess.TenantID, id); err != nil {
			return visitor.Device{}, err
		}
	} else if err != nil {
		return visitor.Device{}, err
	}
	if s.links != nil {
		s.links.Revoke(d.ID)
	}
	s.log.Info("display revoked", "device_id", d.ID, "tenant_id", d.TenantID, "user_id", sess.UserID)
	return d, nil
}

func actor(sess *visitor.Session) store.Actor {
	return store.Actor{Type: store.ActorUser, ID: sess.UserID}
}
