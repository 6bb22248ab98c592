package pairing_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/theonestack/visitor/pairing"
)

// TestWireFieldNames pins the JSON the kiosk and the cloud exchange: these
// names are the outside contract (DESIGN.md §4, RFC 8628 §3.2 and §3.5).
func TestWireFieldNames(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"device code request", pairing.DeviceCodeRequest{PublicKey: "k", Name: "n", AppVersion: "v"},
			`{"public_key":"k","name":"n","app_version":"v"}`},
		{"device code response", pairing.DeviceCodeResponse{DeviceCode: "d", UserCode: "BCDF-GHJK", VerificationURI: "u", VerificationURIComplete: "uc", ExpiresIn: 600, Interval: 5, ServerTime: 7},
			`{"device_code":"d","user_code":"BCDF-GHJK","verification_uri":"u","verification_uri_complete":"uc","expires_in":600,"interval":5,"server_time":7}`},
		{"token request", pairing.TokenRequest{GrantType: pairing.GrantTypeDeviceCode, DeviceCode: "d", Proof: pairing.Proof{Timestamp: 1, Nonce: "n", Signature: "s"}},
			`{"grant_type":"urn:ietf:params:oauth:grant-type:device_code","device_code":"d","proof":{"timestamp":1,"nonce":"n","signature":"s"}}`},
		{"token response", pairing.TokenResponse{DeviceID: "d", TenantID: "t", TenantName: "tn", LocationID: "l", LocationName: "ln", DisplayName: "dn"},
			`{"device_id":"d","tenant_id":"t","tenant_name":"tn","location_id":"l","location_name":"ln","display_name":"dn"}`},
		{"error", pairing.ErrorResponse{Error: pairing.ErrorSlowDown, ErrorDescription: "easy"},
			`{"error":"slow_down","error_description":"easy"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
	codes := map[string]string{
		pairing.ErrorAuthorizationPending: "authorization_pending",
		pairing.ErrorSlowDown:             "slow_down",
		pairing.ErrorExpiredToken:         "expired_token",
		pairing.ErrorAccessDenied:         "access_denied",
		pairing.ErrorInvalidRequest:       "invalid_request",
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("error constant %q, want %q", got, want)
		}
	}
	if pairing.DefaultExpiresIn != 600 || pairing.DefaultInterval != 5 {
		t.Error("defaults changed")
	}
}

func TestDeviceCodeRequestValidate(t *testing.T) {
	pub, _ := mustKey(t, 1)
	key := pairing.EncodePublicKey(pub)
	tests := []struct {
		name    string
		req     pairing.DeviceCodeRequest
		wantErr string
	}{
		{"valid", pairing.DeviceCodeRequest{PublicKey: key, Name: "Front desk", AppVersion: "1.0.0"}, ""},
		{"valid without version", pairing.DeviceCodeRequest{PublicKey: key, Name: "Réception Nord"}, ""},
		{"bad key", pairing.DeviceCodeRequest{PublicKey: key[:40], Name: "x"}, "public key"},
		{"no key", pairing.DeviceCodeRequest{Name: "x"}, "public key"},
		{"empty name", pairing.DeviceCodeRequest{PublicKey: key, Name: "  "}, "name is empty"},
		{"long name", pairing.DeviceCodeRequest{PublicKey: key, Name: strings.Repeat("é", pairing.MaxNameLength+1)}, "at most"},
		{"name with newline", pairing.DeviceCodeRequest{PublicKey: key, Name: "a\nb"}, "control"},
		{"name not UTF-8", pairing.DeviceCodeRequest{PublicKey: key, Name: "a\xff"}, "UTF-8"},
		{"long version", pairing.DeviceCodeRequest{PublicKey: key, Name: "x", AppVersion: strings.Repeat("1", pairing.MaxAppVersionLength+1)}, "app_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.Validate()
			if tt.wantErr == "" {
				if err != nil || !got.Equal(pub) {
					t.Fatalf("Validate = %x, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTokenRequestValidate(t *testing.T) {
	code, _ := pairing.NewDeviceCode(seeded(1))
	proof := pairing.Proof{Timestamp: 1, Nonce: "n", Signature: "s"}
	tests := []struct {
		name string
		req  pairing.TokenRequest
		ok   bool
	}{
		{"valid", pairing.TokenRequest{DeviceCode: code, Proof: proof}, true},
		{"valid with grant type", pairing.TokenRequest{GrantType: pairing.GrantTypeDeviceCode, DeviceCode: code, Proof: proof}, true},
		{"other grant type", pairing.TokenRequest{GrantType: "client_credentials", DeviceCode: code, Proof: proof}, false},
		{"bad device code", pairing.TokenRequest{DeviceCode: "short", Proof: proof}, false},
		{"no proof", pairing.TokenRequest{DeviceCode: code}, false},
	}
	for _, tt := range tests {
		if err := tt.req.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
