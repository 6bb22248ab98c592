package pairing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
)

// forgeable reports whether ed25519.Verify accepts, for some message among
// the first 256, the "signature" (R = the key itself, S = 0). For a key A
// of small order this holds whenever [k]A = -A, about one message in eight;
// for a real key it never does. It is an independent check, through the
// standard library's own curve code, that the keys below are the dangerous
// ones.
func forgeable(pub []byte) bool {
	sig := append(bytes.Clone(pub), make([]byte, 32)...)
	for i := range 256 {
		if ed25519.Verify(pub, []byte("msg "+strconv.Itoa(i)), sig) {
			return true
		}
	}
	return false
}

func TestSmallOrderKeysRefused(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
	}{
		{"identity (order 1)", "0100000000000000000000000000000000000000000000000000000000000000", errSmallOrderKey},
		{"y = -1 (order 2)", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", errSmallOrderKey},
		{"y = 0 (order 4)", "0000000000000000000000000000000000000000000000000000000000000000", errSmallOrderKey},
		{"y = 0, other x (order 4)", "0000000000000000000000000000000000000000000000000000000000000080", errSmallOrderKey},
		{"order 8", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", errSmallOrderKey},
		{"order 8, other x", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", errSmallOrderKey},
		{"order 8, second y", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", errSmallOrderKey},
		{"order 8, second y, other x", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", errSmallOrderKey},
		{"identity, non-canonical y = p + 1", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", errNonCanonical},
		{"x = 0 with the sign bit set", "0100000000000000000000000000000000000000000000000000000000000080", errNonCanonical},
		{"y = 2 is not on the curve", "0200000000000000000000000000000000000000000000000000000000000000", errNotOnCurve},
		{"base point", "5866666666666666666666666666666666666666666666666666666666666666", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			if got := checkPublicKeyPoint(b); !errors.Is(got, tt.want) {
				t.Fatalf("checkPublicKeyPoint = %v, want %v", got, tt.want)
			}
			if tt.want == errSmallOrderKey && !forgeable(b) {
				t.Fatalf("test vector is not forgeable: not really of small order")
			}
			_, err = ParsePublicKey(base64.RawURLEncoding.EncodeToString(b))
			if (err == nil) != (tt.want == nil) {
				t.Fatalf("ParsePublicKey err = %v, want error %v", err, tt.want)
			}
		})
	}
}

func TestRealKeysAccepted(t *testing.T) {
	for i := range 200 {
		seed := bytes.Repeat([]byte{byte(i)}, ed25519.SeedSize)
		seed[0] = byte(i >> 8)
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		if err := checkPublicKeyPoint(pub); err != nil {
			t.Fatalf("key %d (%x) refused: %v", i, pub, err)
		}
		if i < 5 && forgeable(pub) {
			t.Fatalf("real key %d forgeable", i)
		}
	}
}
