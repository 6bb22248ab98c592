package devhub

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"
)

// signingKey is one key of the Hub's key set. retiredAt is zero for the
// current key.
type signingKey struct {
	kid       string
	alg       string
	priv      crypto.Signer
	createdAt time.Time
	retiredAt time.Time
}

// JWK is one public key as served in the JWKS (RFC 7517, RFC 8037 for OKP).
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// JWKS is the document served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// newSigningKey makes a key for alg. The kid is random so a rotated key
// never reuses a kid the cloud may have cached.
func (h *Hub) newSigningKey(alg string) (*signingKey, error) {
	kid, err := h.randomID(12)
	if err != nil {
		return nil, fmt.Errorf("key id: %w", err)
	}
	var priv crypto.Signer
	switch alg {
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(h.opts.Rand)
		if err != nil {
			return nil, fmt.Errorf("generate Ed25519 key: %w", err)
		}
		priv = k
	case AlgRS256:
		k, err := rsa.GenerateKey(h.opts.Rand, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
		priv = k
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	return &signingKey{kid: kid, alg: alg, priv: priv, createdAt: h.opts.Now()}, nil
}

// jwk is the public half of k.
func (k *signingKey) jwk() JWK {
	b64 := base64.RawURLEncoding.EncodeToString
	j := JWK{Kid: k.kid, Alg: k.alg, Use: "sig"}
	switch pub := k.priv.Public().(type) {
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64(pub)
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	}
	return j
}

// maintainKeysLocked rotates the current key when its interval has passed
// and drops retired keys past their grace. Rotation is driven by the
// injected clock on use (signing or serving the JWKS), so tests control it
// without a timer. h.mu must be held.
func (h *Hub) maintainKeysLocked() error {
	now := h.opts.Now()
	cur := h.keys[len(h.keys)-1]
	if h.cfg.KeyRotation > 0 && now.Sub(cur.createdAt) >= h.cfg.KeyRotation {
		if err := h.rotateLocked(cur.alg); err != nil {
			return err
		}
	}
	kept := h.keys[:0]
	for _, k := range h.keys {
		if k.retiredAt.IsZero() || now.Sub(k.retiredAt) < h.cfg.KeyGrace {
			kept = append(kept, k)
		}
	}
	h.keys = kept
	return nil
}

// rotateLocked makes a new current key with alg and retires the old one,
// which stays in the JWKS for the grace period. h.mu must be held.
func (h *Hub) rotateLocked(alg string) error {
	k, err := h.newSigningKey(alg)
	if err != nil {
		return err
	}
	now := h.opts.Now()
	for _, old := range h.keys {
		if old.retiredAt.IsZero() {
			old.retiredAt = now
		}
	}
	h.keys = append(h.keys, k)
	h.log.Info("signing key rotated", "kid", k.kid, "alg", alg, "keys", len(h.keys))
	return nil
}

// RotateKeys makes a new signing key (with alg, or the current algorithm
// when alg is empty) and returns its kid. The previous key stays in the
// JWKS for Config.KeyGrace, so tokens it signed still verify.
func (h *Hub) RotateKeys(alg string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if alg == "" {
		alg = h.keys[len(h.keys)-1].alg
	}
	if alg != AlgEdDSA && alg != AlgRS256 {
		return "", fmt.Errorf("rotate keys: unsupported algorithm %q", alg)
	}
	if err := h.rotateLocked(alg); err != nil {
		return "", fmt.Errorf("rotate keys: %w", err)
	}
	return h.keys[len(h.keys)-1].kid, nil
}

// JWKS returns the public key set as served, current key last, after
// applying any due rotation.
func (h *Hub) JWKS() (JWKS, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.maintainKeysLocked(); err != nil {
		return JWKS{}, err
	}
	set := JWKS{Keys: make([]JWK, 0, len(h.keys))}
	for _, k := range h.keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	return set, nil
}

// SigningKey returns the current private key (ed25519.PrivateKey or
// *rsa.PrivateKey) and its kid, for tests that craft hostile tokens (for
// example HS256 keyed with the public key). Callers must not modify it.
func (h *Hub) SigningKey() (crypto.Signer, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.maintainKeysLocked(); err != nil {
		h.log.Error("key maintenance", "err", err)
	}
	cur := h.keys[len(h.keys)-1]
	return cur.priv, cur.kid
}
