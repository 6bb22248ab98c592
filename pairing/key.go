package pairing

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
)

// GenerateKey makes a device's Ed25519 key pair from ed25519.SeedSize bytes
// read from r (crypto/rand.Reader in production; a fixed reader in tests
// gives a fixed key). The kiosk keeps the private key on its disk and sends
// only the public key, with EncodePublicKey, when it asks for a device code.
func GenerateKey(r io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, nil, fmt.Errorf("device key: read random: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	return priv.Public().(ed25519.PublicKey), priv, nil
}

// EncodePublicKey returns the wire form of pub: base64url without padding
// (43 characters for a 32-byte key).
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub)
}

// ParsePublicKey decodes the wire form made by EncodePublicKey. It refuses
// padding, standard-base64 characters, trailing bits that are not zero
// (so each key has exactly one accepted spelling), any length other than
// ed25519.PublicKeySize, bytes that are not the canonical encoding of a
// curve point, and keys of small order, for which signatures can be forged.
// The cloud calls it (through DeviceCodeRequest.Validate) before it
// registers a device key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	if len(s) != base64.RawURLEncoding.EncodedLen(ed25519.PublicKeySize) {
		return nil, fmt.Errorf("public key: %d characters, want %d", len(s), base64.RawURLEncoding.EncodedLen(ed25519.PublicKeySize))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	if err := checkPublicKeyPoint(b); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return ed25519.PublicKey(b), nil
}

// PrivateKeyFromSeed rebuilds a private key from the 32-byte seed a kiosk
// stores (ed25519.PrivateKey.Seed), refusing any other length.
func PrivateKeyFromSeed(seed []byte) (ed25519.PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("device key: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
