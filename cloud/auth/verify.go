package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/theonestack/visitor"
)

// Audience is the aud value a Hub token must contain.
const Audience = "visitor"

// Contract limits on Hub tokens.
const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 60 * time.Second
	// MaxTokenLifetime bounds exp - iat.
	MaxTokenLifetime = 5 * time.Minute
)

// Reasons a sign-in is refused. They are written to the audit trail and
// the auth.login_failed event, and name the cause on the refusal page.
const (
	ReasonMalformed      = "malformed_token"
	ReasonAlgorithm      = "unsupported_algorithm"
	ReasonHeaderKey      = "key_in_header"
	ReasonUnknownKey     = "unknown_key"
	ReasonSignature      = "invalid_signature"
	ReasonIssuer         = "wrong_issuer"
	ReasonAudience       = "wrong_audience"
	ReasonExpired        = "token_expired"
	ReasonNotYetValid    = "token_not_yet_valid"
	ReasonLifetime       = "token_lifetime_too_long"
	ReasonMissingClaim   = "missing_claim"
	ReasonReplayed       = "token_already_used"
	ReasonState          = "state_mismatch"
	ReasonNoOrg          = "no_account"
	ReasonHubUnavailable = "hub_keys_unavailable"
	ReasonMissingToken   = "missing_token"
	ReasonInternal       = "internal_error"
)

// Refusal is a refused sign-in. Reason is one of the Reason constants;
// Message is the page text (DESIGN.md pins "Token already used" and "No
// account found"). Claims holds what a verified token said, when the
// refusal came after verification.
type Refusal struct {
	Reason  string
	Message string
	Claims  *Claims
	Err     error // underlying cause, for logs only
}

func (r *Refusal) Error() string {
	if r.Err != nil {
		return "sign-in refused: " + r.Reason + ": " + r.Err.Error()
	}
	return "sign-in refused: " + r.Reason
}

func (r *Refusal) Unwrap() error { return r.Err }

func refuse(reason, msg string, err error) *Refusal {
	return &Refusal{Reason: reason, Message: msg, Err: err}
}

// Claims are the claims of a verified Hub token.
type Claims struct {
	jwt.RegisteredClaims
	Name        string               `json:"name"`
	Email       string               `json:"email"`
	Role        string               `json:"role"`
	OrgID       string               `json:"org_id"`
	OrgName     string               `json:"org_name"`
	Permissions []visitor.Permission `json:"visitor_permissions"`
	Nonce       string               `json:"nonce"`
}

// Verifier checks Hub tokens: signature by a key of Hub's JWKS with that
// key's one algorithm (EdDSA or RS256), iss, aud, exp, nbf, iat with the
// leeway, exp - iat ≤ 5 minutes, and the presence of sub and jti. It never
// uses a key named by the token itself (jku, x5u, jwk, x5c headers are
// refused). It is safe for concurrent use.
type Verifier struct {
	keys   *KeySet
	issuer string
	leeway time.Duration
	now    func() time.Time
}

// NewVerifier returns a verifier for tokens issued by issuer and signed
// by keys. leeway ≤ 0 means DefaultLeeway; a nil now means time.Now.
func NewVerifier(keys *KeySet, issuer string, leeway time.Duration, now func() time.Time) *Verifier {
	if leeway <= 0 {
		leeway = DefaultLeeway
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: keys, issuer: issuer, leeway: leeway, now: now}
}

// Leeway is the clock skew the verifier allows.
func (v *Verifier) Leeway() time.Duration { return v.leeway }

// forbiddenHeaders name keys or key locations inside the token; trusting
// any of them would let the token choose its own verification key.
var forbiddenHeaders = [...]string{"jku", "x5u", "jwk", "x5c"}

// Verify returns the claims of a valid token, or a *Refusal.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, refuse(ReasonMissingToken, "The sign-in link has no token.", nil)
	}
	if len(token) > 16<<10 {
		return nil, refuse(ReasonMalformed, "The sign-in token is malformed.", nil)
	}
	header, err := decodeHeader(token)
	if err != nil {
		return nil, refuse(ReasonMalformed, "The sign-in token is malformed.", err)
	}
	alg, _ := header["alg"].(string)
	if alg != AlgEdDSA && alg != AlgRS256 {
		return nil, refuse(ReasonAlgorithm, "The sign-in token uses an algorithm that is not accepted.", fmt.Errorf("alg %q", alg))
	}
	for _, h := range forbiddenHeaders {
		if _, ok := header[h]; ok {
			return nil, refuse(ReasonHeaderKey, "The sign-in token names its own key, which is not accepted.", fmt.Errorf("header %q", h))
		}
	}
	var keyErr error
	claims := &Claims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgEdDSA, AlgRS256}),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	_, err = parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			keyErr = refuse(ReasonUnknownKey, "The sign-in token names no signing key.", nil)
			return nil, keyErr
		}
		k, err := v.keys.key(ctx, kid)
		switch {
		case errors.Is(err, errUnknownKey):
			keyErr = refuse(ReasonUnknownKey, "The sign-in token was signed by an unknown key.", err)
			return nil, keyErr
		case err != nil:
			keyErr = refuse(ReasonHubUnavailable, "Hub's signing keys could not be fetched; try again shortly.", err)
			return nil, keyErr
		}
		if k.alg != t.Method.Alg() {
			keyErr = refuse(ReasonAlgorithm, "The sign-in token's algorithm does not match its key.", fmt.Errorf("key is %s, token %s", k.alg, t.Method.Alg()))
			return nil, keyErr
		}
		return k.pub, nil
	})
	if err != nil {
		if keyErr != nil {
			return nil, keyErr
		}
		return nil, classify(err)
	}
	if claims.Subject == "" || claims.ID == "" || claims.IssuedAt == nil {
		return nil, refuse(ReasonMissingClaim, "The sign-in token lacks a required claim.", errors.New("sub, jti and iat are required"))
	}
	if claims.ExpiresAt.Sub(claims.IssuedAt.Time) > MaxTokenLifetime {
		return nil, refuse(ReasonLifetime, "The sign-in token lives longer than allowed.", nil)
	}
	return claims, nil
}

// classify maps a jwt error to a refusal.
func classify(err error) *Refusal {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(ReasonMalformed, "The sign-in token is malformed.", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(ReasonSignature, "The sign-in token's signature is invalid.", err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refuse(ReasonIssuer, "The sign-in token comes from an unexpected issuer.", err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse(ReasonAudience, "The sign-in token is not meant for Visitor.", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(ReasonExpired, "The sign-in token has expired.", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(ReasonNotYetValid, "The sign-in token is not valid yet.", err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// A missing aud is the only required claim besides exp here.
		if strings.Contains(err.Error(), "aud") {
			return refuse(ReasonAudience, "The sign-in token is not meant for Visitor.", err)
		}
		return refuse(ReasonMissingClaim, "The sign-in token lacks a required claim.", err)
	}
	return refuse(ReasonMalformed, "The sign-in token is invalid.", err)
}

// decodeHeader decodes a compact JWS's protected header.
func decodeHeader(token string) (map[string]any, error) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return nil, fmt.Errorf("header encoding: %w", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("header JSON: %w", err)
	}
	return h, nil
}
