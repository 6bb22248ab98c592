package pairing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// TestPurposeSeparation signs the exact fields of one purpose under another
// and checks that no verifier accepts it: the purpose string, not the field
// layout, keeps a handshake signature from claiming a pairing and back.
func TestPurposeSeparation(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	nonce := bytes.Repeat([]byte{9}, NonceBytes)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	deviceCode := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

	t.Run("challenge fields signed for another purpose", func(t *testing.T) {
		for _, purpose := range []string{PurposePairingToken, "", "sync-handshake ", "other"} {
			sig := sign(priv, purpose, []byte("dev-1"), nonce)
			if VerifyChallenge(pub, "dev-1", nonce, sig) {
				t.Errorf("purpose %q accepted as a sync handshake", purpose)
			}
		}
		// Control: the same call with the right purpose verifies.
		if !VerifyChallenge(pub, "dev-1", nonce, sign(priv, PurposeSyncHandshake, []byte("dev-1"), nonce)) {
			t.Fatal("control signature refused")
		}
	})

	t.Run("request fields signed as a handshake", func(t *testing.T) {
		fields := requestFields(pub, deviceCode, now.Unix(), nonce)
		for _, purpose := range []string{PurposeSyncHandshake, ""} {
			sig := sign(priv, purpose, fields...)
			p := Proof{Timestamp: now.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce), Signature: base64.RawURLEncoding.EncodeToString(sig)}
			err := VerifyRequest(pub, deviceCode, p, now, NewMemoryReplayCache(func() time.Time { return now }, 0))
			if !errors.Is(err, ErrProofSignature) {
				t.Errorf("purpose %q: err = %v, want ErrProofSignature", purpose, err)
			}
		}
	})

	t.Run("other protocol version", func(t *testing.T) {
		// The same message under a v2 domain must not verify as v1.
		m := message(PurposeSyncHandshake, []byte("dev-1"), nonce)
		v2 := append([]byte("the-one-visitor/device-signature/v2"), m[len(SignatureDomain):]...)
		if VerifyChallenge(pub, "dev-1", nonce, ed25519.Sign(priv, v2)) {
			t.Fatal("v2-prefixed signature accepted as v1")
		}
	})
}

func TestMessageEncoding(t *testing.T) {
	m := message("p", []byte("ab"), []byte("c"))
	want := append([]byte(SignatureDomain+"\x00"), binary.BigEndian.AppendUint32(nil, 1)...)
	want = append(want, 'p')
	want = append(append(want, 0, 0, 0, 2), "ab"...)
	want = append(append(want, 0, 0, 0, 1), "c"...)
	if !bytes.Equal(m, want) {
		t.Fatalf("message = %q, want %q", m, want)
	}
	if bytes.Equal(message("p", []byte("ab"), []byte("c")), message("p", []byte("a"), []byte("bc"))) {
		t.Fatal("field boundaries are ambiguous")
	}
}
