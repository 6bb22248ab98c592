package devhub

import (
	"encoding/base64"
	"fmt"
	"io"

	"github.com/golang-jwt/jwt/v5"

	"github.com/theonestack/visitor"
)

// Audience is the aud value of every token issued for the Visitor product.
const Audience = "visitor"

// IssueToken returns a signed SSO token for the fixture user userID with
// nonce = state, exactly as the login flow issues it. When mutate is non-nil
// it is called with the claims and the JOSE header just before signing, so a
// test can craft a variant (expired, wrong aud, extra jku, a changed alg
// header) that is still signed with the real current key. The returned error
// wraps a *visitor.Error with code not_found for an unknown user.
func (h *Hub) IssueToken(userID, state string, mutate func(claims map[string]any, header map[string]any)) (string, error) {
	u, ok := h.fixture.user(userID)
	if !ok {
		return "", fmt.Errorf("issue token: %w", visitor.Errorf(visitor.ENOTFOUND, "unknown user %q", userID))
	}
	jti, err := h.randomID(16)
	if err != nil {
		return "", fmt.Errorf("issue token: jti: %w", err)
	}
	h.mu.Lock()
	if err := h.maintainKeysLocked(); err != nil {
		h.mu.Unlock()
		return "", fmt.Errorf("issue token: %w", err)
	}
	key := h.keys[len(h.keys)-1]
	h.mu.Unlock()

	now := h.opts.Now().Unix()
	claims := map[string]any{
		"iss":                 h.cfg.Issuer,
		"aud":                 []string{Audience},
		"sub":                 u.ID,
		"jti":                 jti,
		"iat":                 now,
		"nbf":                 now,
		"exp":                 now + int64(h.cfg.TokenLifetime.Seconds()),
		"name":                u.Name,
		"email":               u.Email,
		"role":                u.Role,
		"visitor_permissions": expandPermissions(u.Permissions),
		"nonce":               state,
	}
	if o, ok := h.fixture.org(u.OrgID); ok {
		claims["org_id"] = o.ID
		claims["org_name"] = o.Name
	}
	method := jwt.GetSigningMethod(key.alg)
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	tok.Header["kid"] = key.kid
	if mutate != nil {
		mutate(claims, tok.Header)
	}
	s, err := tok.SignedString(key.priv)
	if err != nil {
		return "", fmt.Errorf("issue token: sign: %w", err)
	}
	return s, nil
}

// randomID returns n random bytes from the injected source, base64url.
func (h *Hub) randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(h.opts.Rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
