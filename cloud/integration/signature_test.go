package integration_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor/cloud/integration"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// A vector from the Standard Webhooks reference libraries.
func TestSignStandardWebhooksVector(t *testing.T) {
	key, err := integration.DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := integration.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if integration.EncodeSecret(key) != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Errorf("EncodeSecret does not round-trip")
	}
	if _, err := integration.DecodeSecret("whsec_not base64!"); err == nil {
		t.Error("DecodeSecret accepted a bad secret")
	}
}

func signedHeader(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestVerifySignature(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	oldKey, newKey, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	body := []byte(`{"id":"evt_1"}`)
	good := integration.Sign(newKey, "msg_1", now, body)
	tests := []struct {
		name string
		keys [][]byte
		h    http.Header
		body []byte
		want error
	}{
		{"valid", [][]byte{newKey}, signedHeader("msg_1", now, good), body, nil},
		{"old key during rotation", [][]byte{newKey, oldKey}, signedHeader("msg_1", now, integration.Sign(oldKey, "msg_1", now, body)), body, nil},
		{"several signatures, one good", [][]byte{newKey}, signedHeader("msg_1", now, "v1,AAAA v2,xyz "+good), body, nil},
		{"4m59s old", [][]byte{newKey}, signedHeader("msg_1", now.Add(-299*time.Second), integration.Sign(newKey, "msg_1", now.Add(-299*time.Second), body)), body, nil},
		{"wrong key", [][]byte{other}, signedHeader("msg_1", now, good), body, integration.ErrSignatureMismatch},
		{"body changed", [][]byte{newKey}, signedHeader("msg_1", now, good), []byte(`{"id":"evt_2"}`), integration.ErrSignatureMismatch},
		{"id changed", [][]byte{newKey}, signedHeader("msg_2", now, good), body, integration.ErrSignatureMismatch},
		{"no v1 prefix", [][]byte{newKey}, signedHeader("msg_1", now, strings.TrimPrefix(good, "v1,")), body, integration.ErrSignatureMismatch},
		{"6 minutes old", [][]byte{newKey}, signedHeader("msg_1", now.Add(-6*time.Minute), integration.Sign(newKey, "msg_1", now.Add(-6*time.Minute), body)), body, integration.ErrSignatureTimestamp},
		{"6 minutes ahead", [][]byte{newKey}, signedHeader("msg_1", now.Add(6*time.Minute), integration.Sign(newKey, "msg_1", now.Add(6*time.Minute), body)), body, integration.ErrSignatureTimestamp},
		{"missing headers", [][]byte{newKey}, http.Header{}, body, integration.ErrSignatureMissing},
	}
	for _, tt := range tests {
		if err := integration.VerifySignature(tt.keys, tt.h, tt.body, now); err != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	bad := signedHeader("msg_1", now, good)
	bad.Set("webhook-timestamp", "soon")
	if err := integration.VerifySignature([][]byte{newKey}, bad, body, now); err != integration.ErrSignatureTimestamp {
		t.Errorf("non-numeric timestamp: got %v", err)
	}
}

// FuzzVerifySignature feeds arbitrary headers to the verifier: it never
// panics, never accepts a signature made with another key, and always
// accepts the one made with the key.
func FuzzVerifySignature(f *testing.F) {
	f.Add("msg_1", "1795003200", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"a":1}`))
	f.Add("", "", "", []byte{})
	f.Add("msg", "-1", "v1, v1,, ,v1 v2,abc", []byte("x"))
	key, wrong := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)
	now := time.Unix(1795003200, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		if integration.VerifySignature([][]byte{key}, h, body, now) == nil {
			// Only a real signature under key can pass; the same header
			// must then fail under another key.
			if integration.VerifySignature([][]byte{wrong}, h, body, now) == nil {
				t.Fatalf("accepted under two keys: %q %q %q", id, ts, sig)
			}
		}
		if id == "" || strings.ContainsAny(id, "\r\n") {
			return
		}
		h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		h.Set("webhook-signature", sig+" "+integration.Sign(key, id, now, body))
		if h.Get("webhook-id") == id {
			if err := integration.VerifySignature([][]byte{key}, h, body, now); err != nil {
				t.Fatalf("a true signature refused: %v (id %q, extra %q)", err, id, sig)
			}
		}
	})
}

func TestSignedWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		now := time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)
		e := setup(t, engine, integration.Options{Now: func() time.Time { return now }})
		ctx := context.Background()
		key := bytes.Repeat([]byte{9}, 32)
		if _, err := e.db.RotateWebhookSecret(ctx, "org_acme", key, "whsec_CQkJ", admin); err != nil {
			t.Fatal(err)
		}
		post := func(apiKey, body string, h http.Header) *httptest.ResponseRecorder {
			req := httptest.NewRequest("POST", "/api/integration/webhook", strings.NewReader(body))
			for k, v := range h {
				req.Header[k] = v
			}
			req.Header.Set("X-Integration-Key", apiKey)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			return rec
		}
		body := `{"id":"evt_signed","type":"door.opened","tenantid":"org_acme"}`
		sign := func(k []byte, at time.Time, b string) http.Header {
			return signedHeader("msg_9", at, integration.Sign(k, "msg_9", at, []byte(b)))
		}
		tests := []struct {
			name, key, body string
			h               http.Header
			want            int
		}{
			{"unsigned", e.acmeKey, body, nil, http.StatusUnauthorized},
			{"signed with another key", e.acmeKey, body, sign(bytes.Repeat([]byte{1}, 32), now, body), http.StatusUnauthorized},
			{"replayed after 10 minutes", e.acmeKey, body, sign(key, now.Add(-10*time.Minute), body), http.StatusUnauthorized},
			{"tampered body", e.acmeKey, strings.Replace(body, "opened", "forced", 1), sign(key, now, body), http.StatusUnauthorized},
			{"signed", e.acmeKey, body, sign(key, now, body), http.StatusAccepted},
			{"signed, platform key", platformKey, body, sign(key, now, body), http.StatusAccepted},
			// A tenant without a secret still takes unsigned webhooks.
			{"other tenant unsigned", e.globexKey, `{"id":"g1"}`, nil, http.StatusAccepted},
		}
		for _, tt := range tests {
			if rec := post(tt.key, tt.body, tt.h); rec.Code != tt.want {
				t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
			}
		}
		// Refused deliveries left nothing on the audit trail; the accepted
		// one is there once.
		audit, _, _ := e.db.Audit(ctx, "org_acme", 0, "")
		n := 0
		for _, r := range audit {
			if r.Action == "webhook.received" {
				n++
				if !strings.Contains(string(r.Details), "door.opened") {
					t.Errorf("audit holds %s", r.Details)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d webhook audit records, want 1", n)
		}
		if err := e.db.RemoveWebhookSecrets(ctx, "org_acme", admin); err != nil {
			t.Fatal(err)
		}
		if rec := post(e.acmeKey, `{"id":"after"}`, nil); rec.Code != http.StatusAccepted {
			t.Errorf("unsigned after the secret is removed: %d %s", rec.Code, rec.Body)
		}
	})
}
