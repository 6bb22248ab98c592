package pairing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors that end WaitForApproval. Each is final: the kiosk must ask for a
// new code (ErrExpired) or stop and say so (ErrDenied).
var (
	// ErrExpired means the device code expired, was used up, or its life
	// ran out while the cloud could not be reached.
	ErrExpired = errors.New("pairing: device code expired")
	// ErrDenied means an admin refused the pairing.
	ErrDenied = errors.New("pairing: access denied")
)

// MaxBackoff caps the wait between polls after transient failures.
const MaxBackoff = 60 * time.Second

// maxResponseBytes bounds what the client reads from the cloud.
const maxResponseBytes = 64 << 10

// maxPolls bounds WaitForApproval's loop even if a broken clock never
// advances; a real code allows at most ExpiresIn/Interval polls.
const maxPolls = 10_000

// Client is the kiosk side of pairing. The zero value of every field except
// BaseURL works. A Client is safe for concurrent use if its fields are not
// changed while it is in use.
type Client struct {
	// BaseURL is the cloud's base URL, e.g. "https://visitor.example.com".
	BaseURL string
	// HTTP sends the requests; nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Now is the local clock; nil means time.Now. Only differences of its
	// readings are used (for expiry and the server-time estimate), so a
	// wrong calendar on the kiosk does no harm.
	Now func() time.Time
	// Sleep waits d or until ctx is done (returning ctx's error); nil means
	// a timer. Tests inject one that records d and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand is the source of proof nonces; nil means crypto/rand.Reader.
	Rand io.Reader
	// AppVersion is sent with RequestCode for the Displays page.
	AppVersion string
	// Logger receives debug lines about polling; nil means none. Codes and
	// keys are never logged.
	Logger *slog.Logger
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// reply is one HTTP answer from the cloud.
type reply struct {
	status int
	body   []byte
	header http.Header
}

func (c *Client) post(ctx context.Context, path string, in any) (reply, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return reply{}, fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return reply{}, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return reply{}, fmt.Errorf("read response: %w", err)
	}
	return reply{status: resp.StatusCode, body: b, header: resp.Header}, nil
}

// oauthError decodes an RFC 6749 error body, or returns nil if there is none.
func oauthError(r reply) (*OAuthError, int64) {
	var e ErrorResponse
	if json.Unmarshal(r.body, &e) != nil || e.Error == "" {
		return nil, 0
	}
	return &OAuthError{Status: r.status, Code: e.Error, Description: e.ErrorDescription}, e.ServerTime
}

// RequestCode asks the cloud for a device code for the key pub and the
// display name suggested by name. It does not retry: the caller (the
// pairing screen) shows the failure and tries again. The response is
// validated and its ReceivedAt set from Now. An error answer from the cloud
// is returned as an *OAuthError.
func (c *Client) RequestCode(ctx context.Context, pub ed25519.PublicKey, name string) (DeviceCodeResponse, error) {
	if len(pub) != ed25519.PublicKeySize {
		return DeviceCodeResponse{}, fmt.Errorf("request code: public key is %d bytes", len(pub))
	}
	r, err := c.post(ctx, PathDeviceCode, DeviceCodeRequest{
		PublicKey:  EncodePublicKey(pub),
		Name:       name,
		AppVersion: c.AppVersion,
	})
	if err != nil {
		return DeviceCodeResponse{}, fmt.Errorf("request code: %w", err)
	}
	if r.status != http.StatusOK {
		if e, _ := oauthError(r); e != nil {
			return DeviceCodeResponse{}, fmt.Errorf("request code: %w", e)
		}
		return DeviceCodeResponse{}, fmt.Errorf("request code: HTTP %d", r.status)
	}
	var out DeviceCodeResponse
	if err := json.Unmarshal(r.body, &out); err != nil {
		return DeviceCodeResponse{}, fmt.Errorf("request code: decode: %w", err)
	}
	if err := out.Validate(); err != nil {
		return DeviceCodeResponse{}, fmt.Errorf("request code: %w", err)
	}
	out.ReceivedAt = c.now()
	if out.ServerTime == 0 {
		out.ServerTime = dateHeader(r.header)
	}
	return out, nil
}

// dateHeader returns the HTTP Date header in Unix seconds, or 0.
func dateHeader(h http.Header) int64 {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return 0
	}
	return t.Unix()
}

// serverClock estimates the server's clock from its last reading and the
// local time elapsed since.
type serverClock struct {
	server time.Time // server's clock at local time at
	at     time.Time // local reading (monotonic when from time.Now)
}

func (s serverClock) estimate(local time.Time) time.Time {
	if s.server.IsZero() {
		return local // no reading: the best we have is the local clock
	}
	return s.server.Add(local.Sub(s.at))
}

// WaitForApproval polls PathToken for code until an admin approves or
// denies the pairing, the code expires, or ctx is done.
//
// It waits Interval seconds (DefaultInterval when zero) before every poll,
// adds SlowDownStep seconds to the interval for good on ErrorSlowDown
// (RFC 8628 §3.5), and after a transient failure (network error, HTTP 408,
// 429 or 5xx, an unreadable answer) doubles the wait, up to MaxBackoff and
// at least any Retry-After, returning to the interval after the next good
// answer. onTick, if not nil, is called before every wait with the code's
// remaining life, for a countdown on screen.
//
// Each poll carries a fresh Proof signed with priv and stamped with the
// estimated server time (code.ServerTime, refreshed from every answer, plus
// local time elapsed). It returns the binding on approval; an error wrapping
// ErrExpired when the cloud says expired_token or the code's life
// (ExpiresIn from code.ReceivedAt) runs out; one wrapping ErrDenied on
// access_denied; an *OAuthError for any other error answer; and ctx's error
// when ctx ends.
func (c *Client) WaitForApproval(ctx context.Context, priv ed25519.PrivateKey, code DeviceCodeResponse, onTick func(remaining time.Duration)) (TokenResponse, error) {
	log := c.logger().With("component", "pairing")
	start := code.ReceivedAt
	if start.IsZero() {
		start = c.now()
	}
	life := time.Duration(code.ExpiresIn) * time.Second
	if code.ExpiresIn <= 0 {
		life = DefaultExpiresIn * time.Second
	}
	deadline := start.Add(life)
	interval := time.Duration(code.Interval) * time.Second
	if code.Interval <= 0 {
		interval = DefaultInterval * time.Second
	}
	clock := serverClock{at: start}
	if code.ServerTime != 0 {
		clock.server = time.Unix(code.ServerTime, 0)
	}
	rnd := c.Rand
	if rnd == nil {
		rnd = rand.Reader
	}

	wait := interval
	failures := 0
	for range maxPolls {
		now := c.now()
		remaining := deadline.Sub(now)
		if remaining <= 0 {
			return TokenResponse{}, fmt.Errorf("wait for approval: code life ran out: %w", ErrExpired)
		}
		if onTick != nil {
			onTick(remaining)
		}
		if err := c.sleep(ctx, min(wait, remaining)); err != nil {
			return TokenResponse{}, fmt.Errorf("wait for approval: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return TokenResponse{}, fmt.Errorf("wait for approval: %w", err)
		}
		if !c.now().Before(deadline) {
			return TokenResponse{}, fmt.Errorf("wait for approval: code life ran out: %w", ErrExpired)
		}

		proof, err := SignRequest(priv, code.DeviceCode, clock.estimate(c.now()), rnd)
		if err != nil {
			return TokenResponse{}, fmt.Errorf("wait for approval: %w", err)
		}
		r, err := c.post(ctx, PathToken, TokenRequest{GrantType: GrantTypeDeviceCode, DeviceCode: code.DeviceCode, Proof: proof})
		received := c.now()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return TokenResponse{}, fmt.Errorf("wait for approval: %w", ctxErr)
			}
			failures++
			wait = backoff(interval, failures, 0)
			log.Debug("pairing poll failed; backing off", "err", err, "wait", wait)
			continue
		}

		if r.status == http.StatusOK {
			var tok TokenResponse
			if err := json.Unmarshal(r.body, &tok); err != nil || tok.DeviceID == "" {
				return TokenResponse{}, fmt.Errorf("wait for approval: malformed approval answer (HTTP 200)")
			}
			return tok, nil
		}

		e, serverTime := oauthError(r)
		if serverTime == 0 {
			serverTime = dateHeader(r.header)
		}
		if serverTime != 0 {
			clock = serverClock{server: time.Unix(serverTime, 0), at: received}
		}
		if transientStatus(r.status) {
			failures++
			wait = backoff(interval, failures, retryAfter(r.header))
			log.Debug("pairing poll: transient answer; backing off", "status", r.status, "wait", wait)
			continue
		}
		if e == nil {
			return TokenResponse{}, fmt.Errorf("wait for approval: unexpected HTTP %d", r.status)
		}
		failures = 0
		switch e.Code {
		case ErrorAuthorizationPending:
			wait = interval
		case ErrorSlowDown:
			interval += SlowDownStep * time.Second
			wait = interval
			log.Debug("pairing poll: slow down", "interval", interval)
		case ErrorExpiredToken:
			return TokenResponse{}, fmt.Errorf("wait for approval: %w", ErrExpired)
		case ErrorAccessDenied:
			return TokenResponse{}, fmt.Errorf("wait for approval: %w", ErrDenied)
		default:
			return TokenResponse{}, fmt.Errorf("wait for approval: %w", e)
		}
	}
	return TokenResponse{}, fmt.Errorf("wait for approval: gave up after %d polls: %w", maxPolls, ErrExpired)
}

// transientStatus reports whether an HTTP status means "try again later".
func transientStatus(s int) bool {
	return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500
}

// backoff returns interval doubled once per consecutive failure, capped at
// MaxBackoff, and never less than floor (a Retry-After, itself capped at
// MaxBackoff) or than interval itself, which the server may have raised
// past MaxBackoff with slow_down.
func backoff(interval time.Duration, failures int, floor time.Duration) time.Duration {
	d := interval
	for i := 0; i < failures && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	return max(d, min(floor, MaxBackoff), interval)
}

// retryAfter parses a Retry-After header given in seconds; 0 if absent.
func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
