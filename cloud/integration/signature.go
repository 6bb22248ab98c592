package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Inbound webhooks may be signed the Standard Webhooks way
// (https://www.standardwebhooks.com): the sender puts webhook-id,
// webhook-timestamp (Unix seconds) and webhook-signature ("v1,<base64>"
// entries separated by spaces) on the request, the signature being
// HMAC-SHA256 over "<id>.<timestamp>.<body>" keyed with the decoded
// whsec_ secret. Once a tenant has a secret, unsigned or badly signed
// webhooks for it are refused.

// SignatureTolerance is how far webhook-timestamp may be from the
// cloud's clock, either way, before a signed webhook is refused as a
// possible replay.
const SignatureTolerance = 5 * time.Minute

// SecretPrefix starts every webhook signing secret.
const SecretPrefix = "whsec_"

// maxSignatureHeader bounds the webhook-signature header parsed.
const maxSignatureHeader = 4096

// Signature check failures. Each is told to the sender as is: none
// reveals anything about the secret.
var (
	ErrSignatureMissing   = errors.New("this tenant requires signed webhooks: send webhook-id, webhook-timestamp and webhook-signature")
	ErrSignatureTimestamp = errors.New("webhook-timestamp is not a Unix time within 5 minutes of now")
	ErrSignatureMismatch  = errors.New("no webhook-signature matches the tenant's signing secret")
)

// EncodeSecret is the whsec_ form of key, the one shown to the user.
func EncodeSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// DecodeSecret is the key of a whsec_ secret.
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("a signing secret is whsec_ followed by base64")
	}
	return key, nil
}

// Sign returns the webhook-signature header value for body sent with the
// given id and timestamp.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks the Standard Webhooks headers of a request with
// body against each of keys (a tenant may have two during a rotation). It
// returns nil when any v1 signature matches any key, comparing in constant
// time.
func VerifySignature(keys [][]byte, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrSignatureMissing
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(ts) > 12 {
		return ErrSignatureTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return ErrSignatureTimestamp
	}
	candidates := parseSignatures(sigs)
	for _, key := range keys {
		want := mac(key, id, ts, body)
		for _, got := range candidates {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrSignatureMismatch
}

// parseSignatures returns the decoded v1 signatures of a webhook-signature
// header, skipping other versions and malformed entries.
func parseSignatures(header string) [][]byte {
	if len(header) > maxSignatureHeader {
		header = header[:maxSignatureHeader]
	}
	var out [][]byte
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(b) != sha256.Size {
			continue
		}
		out = append(out, b)
	}
	return out
}
