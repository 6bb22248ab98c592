package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// Cookie names. The session cookie is sent on every path; the pre-login
// cookie only to the callback.
const (
	SessionCookie   = "visitor_session"
	StateCookie     = "visitor_login_state"
	callbackPath    = "/auth/hub/callback"
	stateCookiePath = "/auth/hub"
)

// Defaults of Config.
const (
	DefaultSessionLifetime = 8 * time.Hour
	DefaultStateLifetime   = 10 * time.Minute
)

// Config is what the sign-in flow needs to know of the deployment.
type Config struct {
	// HubURL is Hub's base URL: the login page is HubURL/login and the
	// keys HubURL/.well-known/jwks.json.
	HubURL string
	// Issuer is the iss Hub tokens must carry.
	Issuer string
	// SecureCookies marks cookies Secure (PUBLIC_URL is https).
	SecureCookies bool
	// SessionLifetime is the absolute lifetime of a session (default 8 h).
	SessionLifetime time.Duration
	// StateLifetime is the lifetime of the pre-login cookie (default 10 min).
	StateLifetime time.Duration
	// Leeway is the allowed clock skew on token times (default 60 s).
	Leeway time.Duration
	// JWKSMinRefresh is the least time between two key set fetches
	// triggered by unknown kids (default 10 s).
	JWKSMinRefresh time.Duration
}

// Options are optional dependencies; the zero value works.
type Options struct {
	Now        func() time.Time // nil: time.Now
	Rand       io.Reader        // nil: crypto/rand
	HTTPClient *http.Client     // nil: a client with a 10 s timeout
	Logger     *slog.Logger     // nil: discard
}

// Service runs the sign-in flow and resolves sessions. It is safe for
// concurrent use; several instances on one database agree on every
// session and every consumed token.
type Service struct {
	cfg      Config
	db       *store.DB
	verifier *Verifier
	keys     *KeySet
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
}

// New builds the sign-in service over db.
func New(cfg Config, db *store.DB, opts Options) (*Service, error) {
	if db == nil {
		return nil, errors.New("auth: store is required")
	}
	if _, err := url.Parse(cfg.HubURL); err != nil || cfg.HubURL == "" {
		return nil, fmt.Errorf("auth: bad Hub URL %q", cfg.HubURL)
	}
	if cfg.Issuer == "" {
		return nil, errors.New("auth: issuer is required")
	}
	cfg.HubURL = strings.TrimRight(cfg.HubURL, "/")
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.StateLifetime <= 0 {
		cfg.StateLifetime = DefaultStateLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	keys := NewKeySet(cfg.HubURL+"/.well-known/jwks.json", opts.HTTPClient, opts.Now, cfg.JWKSMinRefresh)
	return &Service{
		cfg: cfg, db: db, keys: keys,
		verifier: NewVerifier(keys, cfg.Issuer, cfg.Leeway, opts.Now),
		now:      opts.Now, rand: opts.Rand, log: opts.Logger.With("component", "auth"),
	}, nil
}

// Keys is the service's JWKS cache.
func (a *Service) Keys() *KeySet { return a.keys }

// Verifier is the service's token verifier.
func (a *Service) Verifier() *Verifier { return a.verifier }

// random returns n random bytes, base64url.
func (a *Service) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.rand, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// BeginLogin starts a sign-in: it sets the pre-login cookie with a new
// 128-bit state and the path to come back to, and returns the Hub login
// URL to redirect the browser to. returnTo must be a local path; anything
// else becomes "/".
func (a *Service) BeginLogin(w http.ResponseWriter, returnTo string) (string, error) {
	state, err := a.random(16)
	if err != nil {
		return "", err
	}
	returnTo = localPath(returnTo)
	http.SetCookie(w, &http.Cookie{
		Name:     StateCookie,
		Value:    state + "." + base64.RawURLEncoding.EncodeToString([]byte(returnTo)),
		Path:     stateCookiePath,
		MaxAge:   int(a.cfg.StateLifetime / time.Second),
		Expires:  a.now().Add(a.cfg.StateLifetime),
		HttpOnly: true,
		Secure:   a.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
	q := url.Values{"redirect": {"visitor"}, "state": {state}}
	return a.cfg.HubURL + "/login?" + q.Encode(), nil
}

// localPath keeps p only when it is a path on this site ("/x", not
// "//host" or "/\host", which browsers treat as another host).
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		strings.ContainsAny(p, "\r\n") || len(p) > 2000 {
		return "/"
	}
	return p
}

// Callback completes a sign-in from the callback request: it verifies the
// token, consumes its jti, checks the state, and creates the session,
// setting its cookie on w. It returns the local path to send the browser
// to. A refusal is returned as *Refusal after auth.login_failed has been
// recorded; any other error is internal (and also recorded as a failure
// when possible). The pre-login cookie is cleared either way.
func (a *Service) Callback(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	ip := clientIP(r)
	q := r.URL.Query()
	a.clearCookie(w, StateCookie, stateCookiePath)

	claims, err := a.verifier.Verify(ctx, q.Get("token"))
	if err != nil {
		return "", a.fail(ctx, err, ip)
	}
	// The token is genuine: consume it before anything else, so a replay
	// is recognised even when the state cookie is gone.
	expires := claims.ExpiresAt.Add(a.verifier.Leeway())
	fresh, err := a.db.ConsumeToken(ctx, claims.ID, expires)
	if err != nil {
		return "", a.fail(ctx, fmt.Errorf("consume token: %w", err), ip)
	}
	if !fresh {
		return "", a.fail(ctx, a.withClaims(refuse(ReasonReplayed, "Token already used", nil), claims), ip)
	}
	state, returnTo := "", "/"
	if c, err := r.Cookie(StateCookie); err == nil {
		s, rt, _ := strings.Cut(c.Value, ".")
		state = s
		if b, err := base64.RawURLEncoding.DecodeString(rt); err == nil {
			returnTo = localPath(string(b))
		}
	}
	param := q.Get("state")
	if state == "" || !equal(state, param) || !equal(state, claims.Nonce) {
		return "", a.fail(ctx, a.withClaims(refuse(ReasonState, "The sign-in did not start in this browser (state mismatch). Please sign in again.", nil), claims), ip)
	}
	if claims.OrgID == "" {
		return "", a.fail(ctx, a.withClaims(refuse(ReasonNoOrg, "No account found", nil), claims), ip)
	}
	id, err := a.random(32)
	if err != nil {
		return "", a.fail(ctx, err, ip)
	}
	now := a.now().UTC()
	sess := visitor.Session{
		ID: id, UserID: claims.Subject, TenantID: claims.OrgID, TenantName: claims.OrgName,
		Name: claims.Name, Email: claims.Email, Role: claims.Role,
		Permissions: validPermissions(claims.Permissions),
		CreatedAt:   now, ExpiresAt: now.Add(a.cfg.SessionLifetime),
	}
	if err := a.db.CreateSession(ctx, store.LoginSuccess{Session: sess, IP: ip, EventTime: now}); err != nil {
		return "", a.fail(ctx, fmt.Errorf("create session: %w", err), ip)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    id,
		Path:     "/",
		MaxAge:   int(a.cfg.SessionLifetime / time.Second),
		Expires:  sess.ExpiresAt,
		HttpOnly: true,
		Secure:   a.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
	a.log.Info("signed in", "user_id", sess.UserID, "tenant_id", sess.TenantID)
	return returnTo, nil
}

func (a *Service) withClaims(r *Refusal, c *Claims) *Refusal {
	r.Claims = c
	return r
}

// fail records a refused or failed sign-in and returns the refusal.
func (a *Service) fail(ctx context.Context, err error, ip string) error {
	var ref *Refusal
	if !errors.As(err, &ref) {
		ref = refuse(ReasonInternal, "Sign-in failed because of an internal error. Please try again.", err)
	}
	f := store.LoginFailure{Reason: ref.Reason, IP: ip}
	if c := ref.Claims; c != nil {
		f.TenantID, f.UserID, f.Email = c.OrgID, c.Subject, c.Email
	}
	a.log.Warn("sign-in refused", "reason", ref.Reason, "user_id", f.UserID, "err", ref.Err)
	// Record even when the request was cancelled: the refusal happened.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := a.db.RecordLoginFailure(rctx, f); rerr != nil {
		a.log.Error("record login failure", "err", rerr)
	}
	return ref
}

// Session returns the live session named by the request's session cookie.
// ok is false without a cookie or for an unknown or expired session; err
// is set only when the store could not answer.
func (a *Service) Session(r *http.Request) (s visitor.Session, ok bool, err error) {
	c, cerr := r.Cookie(SessionCookie)
	if cerr != nil || c.Value == "" || len(c.Value) > 128 {
		return visitor.Session{}, false, nil
	}
	s, err = a.db.Session(r.Context(), c.Value)
	switch {
	case err == nil:
		if !a.now().Before(s.ExpiresAt) {
			return visitor.Session{}, false, nil
		}
		return s, true, nil
	case visitor.ErrorCode(err) == visitor.ENOTFOUND:
		return visitor.Session{}, false, nil
	}
	return visitor.Session{}, false, fmt.Errorf("load session: %w", err)
}

// Logout deletes the request's session (on every instance: they all read
// the same table) and clears the cookie. Without a session it only clears
// the cookie.
func (a *Service) Logout(w http.ResponseWriter, r *http.Request) error {
	a.clearCookie(w, SessionCookie, "/")
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	if err := a.db.DeleteSession(r.Context(), c.Value); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

func (a *Service) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, Secure: a.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// validPermissions keeps the known Visitor permissions, each once.
func validPermissions(ps []visitor.Permission) []visitor.Permission {
	out := make([]visitor.Permission, 0, len(ps))
	seen := map[visitor.Permission]bool{}
	for _, p := range ps {
		if visitor.ValidPermission(p) && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// clientIP is the peer address of r. Forwarded headers are not trusted:
// a proxy in front of the cloud should be configured at that layer.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
