package pairing

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// UserCodeAlphabet is the set of letters a user code is made of: the 20
// consonants left after removing vowels (so codes never spell words) and the
// letters that look like digits (O, I; there are no digits at all). It is the
// alphabet RFC 8628 §6.1 suggests.
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// UserCodeLength is the number of letters in a user code: 20^8 ≈ 2.6e10
// codes, about 34.6 bits, enough for a 10-minute, rate-limited, single-use
// code (see Attempts).
const UserCodeLength = 8

// DeviceCodeBytes is the number of random bytes in a device code (256 bits).
const DeviceCodeBytes = 32

// maxUserCodeInput bounds the input NormalizeUserCode looks at, so a huge
// form field costs nothing.
const maxUserCodeInput = 64

// ErrInvalidUserCode is wrapped by every error NormalizeUserCode returns.
var ErrInvalidUserCode = errors.New("invalid user code")

// NewUserCode returns a fresh user code of UserCodeLength letters from
// UserCodeAlphabet in normalised form (no dash, upper case), drawn from r
// (crypto/rand.Reader in production) with no modulo bias: bytes at or above
// the largest multiple of 20 below 256 are rejected and redrawn. It fails if
// r fails or keeps producing only rejected bytes.
func NewUserCode(r io.Reader) (string, error) {
	const n = len(UserCodeAlphabet)
	const limit = 256 - 256%n // 240: bytes below this map uniformly
	var (
		out [UserCodeLength]byte
		buf [2 * UserCodeLength]byte
		got int
	)
	// Each byte is accepted with probability 240/256; 64 rounds of 16 bytes
	// failing to yield 8 letters means the reader is broken, not unlucky.
	for round := 0; round < 64 && got < UserCodeLength; round++ {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("user code: read random: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out[got] = UserCodeAlphabet[int(b)%n]
			got++
			if got == UserCodeLength {
				break
			}
		}
	}
	if got < UserCodeLength {
		return "", errors.New("user code: random source yields only rejected bytes")
	}
	return string(out[:]), nil
}

// FormatUserCode returns code for display as "ABCD-EFGH". Any input that
// NormalizeUserCode accepts is formatted; anything else is returned unchanged.
func FormatUserCode(code string) string {
	n, err := NormalizeUserCode(code)
	if err != nil {
		return code
	}
	return n[:4] + "-" + n[4:]
}

// NormalizeUserCode returns the canonical form of a typed or scanned user
// code: UserCodeLength upper-case letters from UserCodeAlphabet. It accepts
// any letter case and ignores spaces and dashes (ASCII and the Unicode
// hyphens and spaces phone keyboards insert) anywhere. Anything else —
// digits, vowels, other symbols, the wrong length — is refused with an error
// wrapping ErrInvalidUserCode that says what is wrong. The result is
// idempotent: NormalizeUserCode(FormatUserCode(c)) == c for every valid c.
func NormalizeUserCode(s string) (string, error) {
	if len(s) > maxUserCodeInput {
		return "", fmt.Errorf("%w: too long", ErrInvalidUserCode)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not valid text", ErrInvalidUserCode)
	}
	var b strings.Builder
	b.Grow(UserCodeLength)
	letters := 0
	for _, r := range s {
		if isSeparator(r) {
			continue
		}
		// Only ASCII is folded: unicode.ToUpper would turn 'ſ' into 'S'
		// or 'ı' into 'I', letting look-alikes in by the back door.
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		switch {
		case r >= '0' && r <= '9':
			return "", fmt.Errorf("%w: codes contain no digits (%q)", ErrInvalidUserCode, r)
		case r >= 'A' && r <= 'Z' && strings.ContainsRune(UserCodeAlphabet, r):
		case r >= 'A' && r <= 'Z':
			return "", fmt.Errorf("%w: codes contain no vowels or the letter %q", ErrInvalidUserCode, r)
		default:
			return "", fmt.Errorf("%w: unexpected character %q (only letters, spaces and a dash)", ErrInvalidUserCode, r)
		}
		letters++
		if letters > UserCodeLength {
			return "", fmt.Errorf("%w: more than %d letters", ErrInvalidUserCode, UserCodeLength)
		}
		b.WriteRune(r)
	}
	if letters < UserCodeLength {
		return "", fmt.Errorf("%w: %d letters, want %d", ErrInvalidUserCode, letters, UserCodeLength)
	}
	return b.String(), nil
}

// isSeparator reports whether r is a space or dash a person or a phone
// keyboard might put inside a code.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '-',
		'\u00a0',                     // no-break space
		'\u2010', '\u2011', '\u2012', // hyphen, non-breaking hyphen, figure dash
		'\u2013', '\u2014', '\u2212', // en dash, em dash, minus sign
		'\u2009', '\u202f': // thin space, narrow no-break space
		return true
	}
	return false
}

// NewDeviceCode returns a fresh device code: DeviceCodeBytes bytes read
// from r, encoded as base64url without padding (43 characters). It is a
// secret between one kiosk and the cloud; the cloud stores only HashCode of it.
func NewDeviceCode(r io.Reader) (string, error) {
	var b [DeviceCodeBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("device code: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ValidDeviceCode reports whether s has the shape of a device code (43
// base64url characters decoding to DeviceCodeBytes bytes). It says nothing
// about whether the code was issued.
func ValidDeviceCode(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(DeviceCodeBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == DeviceCodeBytes
}

// HashCode returns the lower-case hex SHA-256 of code, the form in which the
// cloud stores device codes and (normalised) user codes. For device codes
// (256 bits) the hash is irreversible; for user codes (~35 bits) it only
// keeps them out of plain sight in backups and query logs — their real
// protection is a 10-minute life, single use and Attempts.
func HashCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// EqualConstantTime reports whether a and b are equal, in time that depends
// only on their lengths. Use it wherever a secret or a hash of one is
// compared (stored code hashes, integration keys).
func EqualConstantTime(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// CodeMatches reports, in constant time, whether code hashes to storedHash
// (a HashCode result).
func CodeMatches(code, storedHash string) bool {
	return EqualConstantTime(HashCode(code), storedHash)
}
