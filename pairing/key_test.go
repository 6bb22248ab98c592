package pairing_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/theonestack/visitor/pairing"
)

func TestGenerateKeyDeterministicFromReader(t *testing.T) {
	pub1, priv1, err := pairing.GenerateKey(seeded(7))
	if err != nil {
		t.Fatal(err)
	}
	pub2, priv2, _ := pairing.GenerateKey(seeded(7))
	pub3, _, _ := pairing.GenerateKey(seeded(8))
	if !pub1.Equal(pub2) || !priv1.Equal(priv2) {
		t.Fatal("same reader gave different keys")
	}
	if pub1.Equal(pub3) {
		t.Fatal("different readers gave the same key")
	}
	if len(pub1) != ed25519.PublicKeySize || len(priv1) != ed25519.PrivateKeySize {
		t.Fatalf("sizes %d, %d", len(pub1), len(priv1))
	}
	if !ed25519.Verify(pub1, []byte("m"), ed25519.Sign(priv1, []byte("m"))) {
		t.Fatal("key pair does not sign and verify")
	}
	again, err := pairing.PrivateKeyFromSeed(priv1.Seed())
	if err != nil || !again.Equal(priv1) {
		t.Fatalf("PrivateKeyFromSeed: %v", err)
	}
	if _, err := pairing.PrivateKeyFromSeed(priv1.Seed()[:31]); err == nil {
		t.Fatal("PrivateKeyFromSeed accepted a short seed")
	}
	boom := errors.New("boom")
	if _, _, err := pairing.GenerateKey(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("GenerateKey err = %v, want %v", err, boom)
	}
}

func TestPublicKeyWire(t *testing.T) {
	pub, _, err := pairing.GenerateKey(seeded(9))
	if err != nil {
		t.Fatal(err)
	}
	enc := pairing.EncodePublicKey(pub)
	if len(enc) != 43 || strings.ContainsAny(enc, "+/=") {
		t.Fatalf("encoding %q is not raw base64url of 32 bytes", enc)
	}
	got, err := pairing.ParsePublicKey(enc)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("round trip: %v", err)
	}
	std := base64.StdEncoding.EncodeToString(pub)
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"short key", base64.RawURLEncoding.EncodeToString(pub[:31])},
		{"long key", base64.RawURLEncoding.EncodeToString(append(bytes.Clone(pub), 0))},
		{"padded", enc + "="},
		{"standard alphabet", "+" + enc[1:]},
		{"standard encoding", std},
		{"bad character", "!" + enc[1:]},
		{"non-zero trailing bits", enc[:42] + flipLastBits(enc[42])},
		{"whitespace", " " + enc[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := pairing.ParsePublicKey(tt.in); err == nil {
				t.Fatalf("ParsePublicKey(%q) = %x, want error", tt.in, k)
			}
		})
	}
}

// flipLastBits returns a base64url character that differs from c only in the
// two low bits, which the last character of a 32-byte encoding must have zero.
func flipLastBits(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i|1])
}
