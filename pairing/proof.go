package pairing

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// SignatureDomain opens every message a device signs. It names the product
// and the version of the signing format, so a signature made here is never
// valid in another protocol or under a later format. A new format gets a new
// prefix; old prefixes are never reused.
const SignatureDomain = "the-one-visitor/device-signature/v1"

// Purposes of device signatures. Each signed message carries its purpose
// right after SignatureDomain, so a signature for one purpose is never valid
// for another. New purposes are appended, never renamed.
const (
	// PurposeSyncHandshake proves the device at the start of a sync
	// connection (SignChallenge).
	PurposeSyncHandshake = "sync-handshake"
	// PurposePairingToken proves the device when it polls for its pairing
	// result (SignRequest).
	PurposePairingToken = "pairing-token"
)

// Nonce sizes in bytes.
const (
	// NonceBytes is the size of nonces this package makes (NewNonce,
	// SignRequest): 128 bits, so two never collide.
	NonceBytes = 16
	// MinNonceBytes is the shortest nonce a verifier accepts.
	MinNonceBytes = 16
	// MaxNonceBytes is the longest nonce a verifier accepts.
	MaxNonceBytes = 64
)

// ProofWindow is how far a pairing proof's timestamp may be from the
// server's clock, either way. The timestamp is on the server's clock (see
// Proof), so the window only has to cover network delay and the drift of
// the kiosk's monotonic clock over one ten-minute pairing; it also bounds how
// long a replay cache must remember a nonce.
const ProofWindow = 2 * time.Minute

// Errors from VerifyRequest. Each wraps ErrBadProof; a server answers all of
// them with ErrorInvalidRequest and logs which one it was.
var (
	ErrBadProof       = errors.New("invalid device proof")
	ErrProofMalformed = fmt.Errorf("%w: malformed", ErrBadProof)
	ErrProofStale     = fmt.Errorf("%w: timestamp outside the window", ErrBadProof)
	ErrProofSignature = fmt.Errorf("%w: signature does not verify", ErrBadProof)
	ErrProofReplayed  = fmt.Errorf("%w: nonce already used", ErrBadProof)
)

// NewNonce returns NonceBytes bytes read from r. A sync server sends one to
// each new connection as its challenge.
func NewNonce(r io.Reader) ([]byte, error) {
	b := make([]byte, NonceBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("nonce: read random: %w", err)
	}
	return b, nil
}

// message builds the bytes a device signs: SignatureDomain, a zero byte,
// then the purpose and each field, each preceded by its length as a 4-byte
// big-endian integer. The length prefixes make the encoding injective:
// ("ab","c") and ("a","bc") never sign the same bytes.
func message(purpose string, fields ...[]byte) []byte {
	n := len(SignatureDomain) + 1 + 4 + len(purpose)
	for _, f := range fields {
		n += 4 + len(f)
	}
	m := make([]byte, 0, n)
	m = append(m, SignatureDomain...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint32(m, uint32(len(purpose)))
	m = append(m, purpose...)
	for _, f := range fields {
		m = binary.BigEndian.AppendUint32(m, uint32(len(f)))
		m = append(m, f...)
	}
	return m
}

func sign(priv ed25519.PrivateKey, purpose string, fields ...[]byte) []byte {
	return ed25519.Sign(priv, message(purpose, fields...))
}

func verify(pub ed25519.PublicKey, sig []byte, purpose string, fields ...[]byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false // ed25519.Verify panics on a short key
	}
	return ed25519.Verify(pub, message(purpose, fields...), sig)
}

// SignChallenge signs the sync server's per-connection nonce for deviceID
// with the device's private key (purpose PurposeSyncHandshake). The server
// makes a fresh nonce for every connection, so a proof captured on one
// connection is worthless on any other. priv must be a full Ed25519 private
// key; ed25519.Sign panics otherwise.
func SignChallenge(priv ed25519.PrivateKey, deviceID string, nonce []byte) []byte {
	return sign(priv, PurposeSyncHandshake, []byte(deviceID), nonce)
}

// VerifyChallenge reports whether sig is deviceID's SignChallenge over nonce
// under pub, the key registered for that device. It is false for a key or
// signature of the wrong size and for a nonce shorter than MinNonceBytes or
// longer than MaxNonceBytes. The caller must make nonce itself (NewNonce),
// use it for one connection only, and look pub up by deviceID.
func VerifyChallenge(pub ed25519.PublicKey, deviceID string, nonce, sig []byte) bool {
	if len(nonce) < MinNonceBytes || len(nonce) > MaxNonceBytes {
		return false
	}
	return verify(pub, sig, PurposeSyncHandshake, []byte(deviceID), nonce)
}

// Proof is a device's signature on one pairing-token poll. It binds the
// device code, the device's public key (the one registered with the device
// code), a timestamp on the server's clock and a random nonce.
//
// The timestamp is not the kiosk's wall clock, which may be hours wrong (no
// real-time clock, first boot at 1970): the kiosk takes the server_time the
// server sent with the device code (or any later response) and adds the time
// elapsed on its monotonic clock since. So the server can hold proofs to a
// tight ProofWindow, and its replay cache only has to remember a nonce for
// that long, whatever the kiosk's calendar says.
type Proof struct {
	// Timestamp is Unix seconds on the server's clock, as estimated by the kiosk.
	Timestamp int64 `json:"timestamp"`
	// Nonce is base64url (no padding) of NonceBytes random bytes.
	Nonce string `json:"nonce"`
	// Signature is base64url (no padding) of the Ed25519 signature.
	Signature string `json:"signature"`
}

func requestFields(pub ed25519.PublicKey, deviceCode string, ts int64, nonce []byte) [][]byte {
	return [][]byte{[]byte(deviceCode), pub, binary.BigEndian.AppendUint64(nil, uint64(ts)), nonce}
}

// SignRequest makes the Proof for one pairing-token poll of deviceCode:
// purpose PurposePairingToken, a fresh nonce read from r, and serverNow (the
// kiosk's estimate of the server's clock, see Proof) in whole seconds.
// Make a new proof for every poll: the server refuses a nonce it has seen.
func SignRequest(priv ed25519.PrivateKey, deviceCode string, serverNow time.Time, r io.Reader) (Proof, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Proof{}, fmt.Errorf("sign request: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	nonce, err := NewNonce(r)
	if err != nil {
		return Proof{}, fmt.Errorf("sign request: %w", err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	ts := serverNow.Unix()
	sig := sign(priv, PurposePairingToken, requestFields(pub, deviceCode, ts, nonce)...)
	return Proof{
		Timestamp: ts,
		Nonce:     base64.RawURLEncoding.EncodeToString(nonce),
		Signature: base64.RawURLEncoding.EncodeToString(sig),
	}, nil
}

// VerifyRequest checks a pairing-token poll's proof against pub, the public
// key the device sent when it asked for deviceCode, at server time now. In
// order it refuses: a malformed proof (ErrProofMalformed), a timestamp more
// than ProofWindow from now (ErrProofStale), a bad signature
// (ErrProofSignature), and a nonce the cache has already seen for this
// device code (ErrProofReplayed). The nonce is recorded only after the
// signature verifies, so nobody can fill the cache with nonces they did not
// sign. A cache error refuses the proof (fail closed).
func VerifyRequest(pub ed25519.PublicKey, deviceCode string, p Proof, now time.Time, cache ReplayCache) error {
	if cache == nil {
		return errors.New("verify request: no replay cache")
	}
	// Lengths first: nothing attacker-sized is decoded.
	if len(p.Nonce) > base64.RawURLEncoding.EncodedLen(MaxNonceBytes) ||
		len(p.Signature) != base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize) {
		return fmt.Errorf("verify request: length: %w", ErrProofMalformed)
	}
	nonce, err := base64.RawURLEncoding.Strict().DecodeString(p.Nonce)
	if err != nil || len(nonce) < MinNonceBytes || len(nonce) > MaxNonceBytes {
		return fmt.Errorf("verify request: nonce: %w", ErrProofMalformed)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(p.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("verify request: signature: %w", ErrProofMalformed)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("verify request: registered key is %d bytes: %w", len(pub), ErrProofMalformed)
	}
	ts := time.Unix(p.Timestamp, 0)
	if d := now.Sub(ts); d > ProofWindow || d < -ProofWindow {
		return fmt.Errorf("verify request: timestamp %s from server time: %w", d.Round(time.Second), ErrProofStale)
	}
	if !verify(pub, sig, PurposePairingToken, requestFields(pub, deviceCode, p.Timestamp, nonce)...) {
		return fmt.Errorf("verify request: %w", ErrProofSignature)
	}
	// Keyed by the device code's hash: the cache never holds the secret.
	key := PurposePairingToken + ":" + HashCode(deviceCode) + ":" + p.Nonce
	fresh, err := cache.Fresh(key, ts.Add(ProofWindow+time.Second))
	if err != nil {
		return fmt.Errorf("verify request: replay cache: %w", err)
	}
	if !fresh {
		return fmt.Errorf("verify request: %w", ErrProofReplayed)
	}
	return nil
}

// ReplayCache remembers the nonces of accepted proofs.
type ReplayCache interface {
	// Fresh records key until expires and reports whether it was new: true
	// for the first call with a key, false for every later call before
	// expires. It must be atomic, also across cloud instances (the cloud
	// backs it with a unique insert in its database, as for Hub token ids).
	Fresh(key string, expires time.Time) (bool, error)
}

// ReplayCacheFunc adapts a function to ReplayCache.
type ReplayCacheFunc func(key string, expires time.Time) (bool, error)

// Fresh calls f.
func (f ReplayCacheFunc) Fresh(key string, expires time.Time) (bool, error) { return f(key, expires) }

// ErrReplayCacheFull is returned by MemoryReplayCache.Fresh when it holds
// its maximum number of unexpired keys; the proof is then refused.
var ErrReplayCacheFull = errors.New("replay cache full")

// MemoryReplayCache is a ReplayCache for one process (a single cloud
// instance, tests). It is safe for concurrent use. Expired keys are dropped
// as new ones arrive; it never holds more than its maximum, and when full of
// unexpired keys it refuses rather than forgets (a forgotten nonce could be
// replayed).
type MemoryReplayCache struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	entries map[string]time.Time
}

// NewMemoryReplayCache returns an empty cache reading time from now (nil
// means time.Now) and holding at most maxEntries keys (≤ 0 means 100,000).
func NewMemoryReplayCache(now func() time.Time, maxEntries int) *MemoryReplayCache {
	if now == nil {
		now = time.Now
	}
	if maxEntries <= 0 {
		maxEntries = 100_000
	}
	return &MemoryReplayCache{now: now, max: maxEntries, entries: make(map[string]time.Time)}
}

// Fresh implements ReplayCache.
func (c *MemoryReplayCache) Fresh(key string, expires time.Time) (bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.entries[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(c.entries) >= c.max {
		for k, exp := range c.entries {
			if !now.Before(exp) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			return false, ErrReplayCacheFull
		}
	}
	c.entries[key] = expires
	return true, nil
}

// Len returns the number of keys held, expired or not.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
