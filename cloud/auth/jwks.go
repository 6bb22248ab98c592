package auth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// Algorithms accepted on Hub tokens: one per key, never "none".
const (
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
)

// ErrUnknownKey is returned by KeySet.Key when no key has the kid, even
// after a refetch (or when a refetch was not allowed yet).
var errUnknownKey = errors.New("unknown key id")

// verificationKey is one public key of the Hub's key set, bound to the one
// algorithm it may verify.
type verificationKey struct {
	alg string
	pub crypto.PublicKey
}

// KeySet is a cache of Hub's JSON Web Key Set. It fetches the set on first
// use and again when a token names a kid it does not hold, at most once
// per MinRefresh, so a stream of tokens with made-up kids cannot make the
// cloud hammer Hub. It is safe for concurrent use.
type KeySet struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration

	mu        sync.Mutex
	keys      map[string]verificationKey
	lastFetch time.Time
	fetched   bool
	fetches   int
}

// NewKeySet returns a cache of the key set at url. A nil client means
// http.DefaultClient with a 10 s timeout; a nil now means time.Now;
// minRefresh ≤ 0 means 10 s.
func NewKeySet(url string, client *http.Client, now func() time.Time, minRefresh time.Duration) *KeySet {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	if minRefresh <= 0 {
		minRefresh = 10 * time.Second
	}
	return &KeySet{url: url, client: client, now: now, minRefresh: minRefresh, keys: map[string]verificationKey{}}
}

// Fetches reports how many times the set was fetched (successfully or not).
func (k *KeySet) Fetches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}

// key returns the key with kid, refetching the set when kid is unknown and
// the last fetch is at least minRefresh old. The lock is held across the
// fetch so concurrent callers with the same unknown kid cause one fetch.
func (k *KeySet) key(ctx context.Context, kid string) (verificationKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	if k.fetched && k.now().Sub(k.lastFetch) < k.minRefresh {
		return verificationKey{}, errUnknownKey
	}
	k.fetched, k.lastFetch = true, k.now()
	k.fetches++
	keys, err := k.fetch(ctx)
	if err != nil {
		return verificationKey{}, err
	}
	k.keys = keys
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return verificationKey{}, errUnknownKey
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (k *KeySet) fetch(ctx context.Context) (map[string]verificationKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make(map[string]verificationKey, len(set.Keys))
	for _, j := range set.Keys {
		if j.Kid == "" || (j.Use != "" && j.Use != "sig") {
			continue
		}
		key, err := parseJWK(j)
		if err != nil {
			// One key we cannot use must not hide the others.
			continue
		}
		keys[j.Kid] = key
	}
	return keys, nil
}

// parseJWK accepts exactly two shapes: OKP/Ed25519 for EdDSA and RSA
// (≥ 2048 bits) for RS256. A key whose alg is missing gets the one its
// type implies; a key whose alg disagrees with its type is refused.
func parseJWK(j jwk) (verificationKey, error) {
	b64 := base64.RawURLEncoding.DecodeString
	switch j.Kty {
	case "OKP":
		if j.Crv != "Ed25519" || (j.Alg != "" && j.Alg != AlgEdDSA) {
			return verificationKey{}, errors.New("OKP key is not an Ed25519 EdDSA key")
		}
		x, err := b64(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return verificationKey{}, errors.New("bad Ed25519 key")
		}
		return verificationKey{alg: AlgEdDSA, pub: ed25519.PublicKey(x)}, nil
	case "RSA":
		if j.Alg != "" && j.Alg != AlgRS256 {
			return verificationKey{}, errors.New("RSA key is not an RS256 key")
		}
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return verificationKey{}, errors.New("bad RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			return verificationKey{}, errors.New("RSA key shorter than 2048 bits")
		}
		return verificationKey{alg: AlgRS256, pub: pub}, nil
	}
	return verificationKey{}, fmt.Errorf("unsupported key type %q", j.Kty)
}
