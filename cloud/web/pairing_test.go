package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/displays"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/pairing"
)

// pairEnv is a development Hub and one cloud instance with a location in
// Acme and one in Globex.
type pairEnv struct {
	*hubEnv
	c         *cloudInstance
	clk       *clock
	admin     *http.Cookie
	acmeLoc   string
	globexLoc string
}

func newPairEnv(t *testing.T, engine storetest.Engine) *pairEnv {
	t.Helper()
	e := &pairEnv{hubEnv: newHubEnv(t.Context(), t, ""), clk: &clock{}}
	e.c = e.newCloud(t, storetest.URL(t, engine), e.cloudLn, e.clk, e.cloudURL)
	e.admin = e.login(t, e.c, devhub.UserAdmin)
	e.acmeLoc = e.createLocation(t, e.admin, "HQ Lobby")
	e.globexLoc = e.createLocation(t, e.login(t, e.c, devhub.UserGlobexAdmin), "Globex Tower")
	return e
}

func (e *pairEnv) createLocation(t *testing.T, sess *http.Cookie, name string) string {
	t.Helper()
	var loc visitor.Location
	resp := e.call(t, sess, http.MethodPost, "/api/v1/locations", map[string]string{"name": name, "timezone": "Europe/Paris"}, &loc)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create location = %d", resp.StatusCode)
	}
	return loc.ID
}

// call sends a JSON request with a session and decodes a JSON answer into out.
func (e *pairEnv) call(t *testing.T, sess *http.Cookie, method, path string, in, out any) *http.Response {
	t.Helper()
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.c.url+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sess != nil {
		req.AddCookie(sess)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s = %d, undecodable: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp
}

// kiosk is the device side: its key and its code.
type kiosk struct {
	priv ed25519.PrivateKey
	code pairing.DeviceCodeResponse
}

func (e *pairEnv) newKiosk(t *testing.T) *kiosk {
	t.Helper()
	pub, priv, err := pairing.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &pairing.Client{BaseURL: e.c.url, Now: e.clk.Now}
	code, err := c.RequestCode(t.Context(), pub, "Lobby iPad")
	if err != nil {
		t.Fatal(err)
	}
	return &kiosk{priv: priv, code: code}
}

// poll sends one token request with proof p (a fresh one when p is nil)
// and returns the status and the error code ("" on success).
func (e *pairEnv) poll(t *testing.T, k *kiosk, priv ed25519.PrivateKey, p *pairing.Proof) (int, string, pairing.TokenResponse, pairing.Proof) {
	t.Helper()
	if p == nil {
		proof, err := pairing.SignRequest(priv, k.code.DeviceCode, e.clk.Now(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p = &proof
	}
	b, _ := json.Marshal(pairing.TokenRequest{DeviceCode: k.code.DeviceCode, Proof: *p})
	resp, err := http.Post(e.c.url+pairing.PathToken, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var er pairing.ErrorResponse
	var tok pairing.TokenResponse
	json.Unmarshal(raw, &er)
	json.Unmarshal(raw, &tok)
	return resp.StatusCode, er.Error, tok, *p
}

func approveBody(code, loc string) map[string]string {
	return map[string]string{"user_code": code, "location_id": loc, "name": "Front desk"}
}

func TestPairingThroughTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		e := newPairEnv(t, engine)
		k := e.newKiosk(t)
		if k.code.VerificationURI != e.cloudURL+"/pair" || k.code.VerificationURIComplete != e.cloudURL+"/pair?code="+k.code.UserCode ||
			k.code.ExpiresIn != 600 || k.code.Interval != 5 || len(k.code.UserCode) != 9 || k.code.UserCode[4] != '-' {
			t.Fatalf("device code answer = %+v", k.code)
		}

		// Polls before approval: pending, then slow_down when too fast; a
		// replayed proof and a proof by another key are refused.
		if st, code, _, _ := e.poll(t, k, k.priv, nil); st != 400 || code != pairing.ErrorAuthorizationPending {
			t.Errorf("first poll = %d %s", st, code)
		}
		e.clk.Advance(time.Second)
		_, code, _, used := e.poll(t, k, k.priv, nil)
		if code != pairing.ErrorSlowDown {
			t.Errorf("fast poll = %s, want slow_down", code)
		}
		if _, code, _, _ := e.poll(t, k, k.priv, &used); code != pairing.ErrorInvalidRequest {
			t.Errorf("replayed proof = %s, want invalid_request", code)
		}
		_, thief, _ := ed25519.GenerateKey(rand.Reader)
		e.clk.Advance(11 * time.Second)
		if _, code, _, _ := e.poll(t, k, thief, nil); code != pairing.ErrorInvalidRequest {
			t.Errorf("proof by another key = %s, want invalid_request", code)
		}

		// Refusals: no permission, another tenant's admin with this tenant's
		// location, malformed code. None of them consumes the code.
		reception := e.login(t, e.c, devhub.UserReception)
		globex := e.login(t, e.c, devhub.UserGlobexAdmin)
		var errBody map[string]string
		refusals := []struct {
			name   string
			sess   *http.Cookie
			body   map[string]string
			status int
		}{
			{"no session", nil, approveBody(k.code.UserCode, e.acmeLoc), 401},
			{"receptionist", reception, approveBody(k.code.UserCode, e.acmeLoc), 403},
			{"other tenant's admin", globex, approveBody(k.code.UserCode, e.acmeLoc), 404},
			{"other tenant's location", e.admin, approveBody(k.code.UserCode, e.globexLoc), 404},
			{"malformed code", e.admin, approveBody("AEIO-UAEI", e.acmeLoc), 400},
			{"missing location", e.admin, approveBody(k.code.UserCode, ""), 400},
		}
		for _, r := range refusals {
			if resp := e.call(t, r.sess, http.MethodPost, "/api/v1/displays/approve", r.body, &errBody); resp.StatusCode != r.status {
				t.Errorf("%s: approve = %d %v, want %d", r.name, resp.StatusCode, errBody, r.status)
			}
		}
		errBody = nil
		e.call(t, reception, http.MethodPost, "/api/v1/displays/approve", approveBody(k.code.UserCode, e.acmeLoc), &errBody)
		if errBody["error"] != "forbidden" || errBody["message"] != "Access Denied" {
			t.Errorf("receptionist refusal = %v", errBody)
		}

		// The admin types the code in lower case without the dash.
		typed := strings.ToLower(strings.ReplaceAll(k.code.UserCode, "-", ""))
		var d displays.Display
		if resp := e.call(t, e.admin, http.MethodPost, "/api/v1/displays/approve", approveBody(typed, e.acmeLoc), &d); resp.StatusCode != http.StatusCreated {
			t.Fatalf("approve = %d", resp.StatusCode)
		}
		if d.ID == "" || d.TenantID != devhub.OrgAcme || d.LocationID != e.acmeLoc || d.Name != "Front desk" || d.Status != visitor.DeviceActive {
			t.Errorf("approved display = %+v", d)
		}
		if resp := e.call(t, e.admin, http.MethodPost, "/api/v1/displays/approve", approveBody(typed, e.acmeLoc), nil); resp.StatusCode != 404 {
			t.Errorf("second approval of a used code = %d, want 404", resp.StatusCode)
		}

		// The kiosk's own client picks the binding up; the code is then used.
		c := &pairing.Client{BaseURL: e.c.url, Now: e.clk.Now, Sleep: func(ctx context.Context, d time.Duration) error {
			e.clk.Advance(d)
			return nil
		}}
		tok, err := c.WaitForApproval(t.Context(), k.priv, k.code, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := pairing.TokenResponse{DeviceID: d.ID, TenantID: devhub.OrgAcme, TenantName: "Acme Corp", LocationID: e.acmeLoc,
			LocationName: "HQ Lobby", DisplayName: "Front desk"}
		if tok != want {
			t.Errorf("token = %+v, want %+v", tok, want)
		}
		e.clk.Advance(6 * time.Second)
		if _, code, _, _ := e.poll(t, k, k.priv, nil); code != pairing.ErrorExpiredToken {
			t.Errorf("poll with a used code = %s, want expired_token", code)
		}

		// Displays: listed in Acme only; rename, unpair, revoke; Globex
		// cannot touch it.
		var list struct {
			Displays []displays.Display `json:"displays"`
		}
		e.call(t, e.admin, http.MethodGet, "/api/v1/displays", nil, &list)
		if len(list.Displays) != 1 || list.Displays[0].ID != d.ID || list.Displays[0].Online {
			t.Errorf("Acme displays = %+v", list.Displays)
		}
		list.Displays = nil
		e.call(t, globex, http.MethodGet, "/api/v1/displays", nil, &list)
		if len(list.Displays) != 0 {
			t.Errorf("Globex sees %+v", list.Displays)
		}
		actions := []struct {
			name   string
			sess   *http.Cookie
			method string
			path   string
			body   any
			status int
			after  visitor.DeviceStatus
		}{
			{"globex unpairs", globex, http.MethodPost, "/api/v1/displays/" + d.ID + "/unpair", nil, 404, visitor.DeviceActive},
			{"globex revokes", globex, http.MethodPost, "/api/v1/displays/" + d.ID + "/revoke", nil, 404, visitor.DeviceActive},
			{"reception revokes", reception, http.MethodPost, "/api/v1/displays/" + d.ID + "/revoke", nil, 403, visitor.DeviceActive},
			{"rename", e.admin, http.MethodPatch, "/api/v1/displays/" + d.ID, map[string]string{"name": "Lobby left"}, 200, visitor.DeviceActive},
			{"unpair", e.admin, http.MethodPost, "/api/v1/displays/" + d.ID + "/unpair", nil, 200, visitor.DeviceUnpaired},
			{"revoke", e.admin, http.MethodPost, "/api/v1/displays/" + d.ID + "/revoke", nil, 200, visitor.DeviceRevoked},
			{"revoke again", e.admin, http.MethodPost, "/api/v1/displays/" + d.ID + "/revoke", nil, 200, visitor.DeviceRevoked},
			{"unpair revoked", e.admin, http.MethodPost, "/api/v1/displays/" + d.ID + "/unpair", nil, 409, visitor.DeviceRevoked},
		}
		for _, a := range actions {
			if resp := e.call(t, a.sess, a.method, a.path, a.body, nil); resp.StatusCode != a.status {
				t.Errorf("%s = %d, want %d", a.name, resp.StatusCode, a.status)
			}
			dev, err := e.c.db.DeviceByID(context.Background(), d.ID)
			if err != nil || dev.Status != a.after {
				t.Errorf("after %s: status %s, %v; want %s", a.name, dev.Status, err, a.after)
			}
		}
		if dev, _ := e.c.db.DeviceByID(context.Background(), d.ID); dev.Name != "Lobby left" {
			t.Errorf("renamed display is %q", dev.Name)
		}
	})
}

func TestPairingExpiredAndDenied(t *testing.T) {
	e := newPairEnv(t, storetest.SQLite)
	expired, denied := e.newKiosk(t), e.newKiosk(t)

	// Deny through the page's form.
	form := url.Values{"code": {denied.code.UserCode}, "action": {"deny"}}
	req, _ := http.NewRequest(http.MethodPost, e.c.url+"/pair", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(e.admin)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, resp); resp.StatusCode != 200 || !strings.Contains(b, "Pairing refused") {
		t.Errorf("deny = %d %s", resp.StatusCode, b)
	}
	if _, code, _, _ := e.poll(t, denied, denied.priv, nil); code != pairing.ErrorAccessDenied {
		t.Errorf("denied poll = %s, want access_denied", code)
	}
	e.clk.Advance(6 * time.Second)
	if _, code, _, _ := e.poll(t, denied, denied.priv, nil); code != pairing.ErrorExpiredToken {
		t.Errorf("poll after denial = %s, want expired_token", code)
	}

	e.clk.Advance(10 * time.Minute)
	if resp := e.call(t, e.admin, http.MethodPost, "/api/v1/displays/approve", approveBody(expired.code.UserCode, e.acmeLoc), nil); resp.StatusCode != 404 {
		t.Errorf("approve an expired code = %d, want 404", resp.StatusCode)
	}
	if _, code, _, _ := e.poll(t, expired, expired.priv, nil); code != pairing.ErrorExpiredToken {
		t.Errorf("expired poll = %s", code)
	}
	c := &pairing.Client{BaseURL: e.c.url}
	if _, err := c.WaitForApproval(t.Context(), expired.priv, expired.code, nil); err == nil {
		t.Error("WaitForApproval on an expired code succeeded")
	}
}

// TestPairingBruteForce: user codes cannot be guessed: after ten wrong
// codes the user (and the address) gets 429 with Retry-After, even for
// the right code.
func TestPairingBruteForce(t *testing.T) {
	e := newPairEnv(t, storetest.SQLite)
	k := e.newKiosk(t)
	guesses := []string{"BCDFGHJK", "BCDFGHJL", "BCDFGHJM", "BCDFGHJN", "BCDFGHJP", "BCDFGHJQ", "BCDFGHJR", "BCDFGHJS", "BCDFGHJT", "BCDF-GHJV"}
	for i, g := range guesses {
		if g == strings.ReplaceAll(k.code.UserCode, "-", "") || g == k.code.UserCode {
			continue
		}
		if resp := e.call(t, e.admin, http.MethodPost, "/api/v1/displays/approve", approveBody(g, e.acmeLoc), nil); resp.StatusCode != 404 {
			t.Fatalf("guess %d = %d, want 404", i, resp.StatusCode)
		}
	}
	var errBody map[string]string
	resp := e.call(t, e.admin, http.MethodPost, "/api/v1/displays/approve", approveBody(k.code.UserCode, e.acmeLoc), &errBody)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || errBody["error"] != visitor.ERATELIMIT {
		t.Fatalf("11th attempt = %d %v Retry-After %q, want 429", resp.StatusCode, errBody, resp.Header.Get("Retry-After"))
	}
	// The page is limited too, and so is another user from the same address.
	other := e.login(t, e.c, devhub.UserGlobexAdmin)
	if r := get(t, e.c.url+"/pair?code="+url.QueryEscape(k.code.UserCode), other); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("page from the same address = %d, want 429", r.StatusCode)
	}
	// After the window the right code works.
	e.clk.Advance(11 * time.Minute)
	k2 := e.newKiosk(t)
	if resp := e.call(t, e.admin, http.MethodPost, "/api/v1/displays/approve", approveBody(k2.code.UserCode, e.acmeLoc), nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("after the window = %d, want 201", resp.StatusCode)
	}
}

func TestDeviceCodeRequests(t *testing.T) {
	e := newPairEnv(t, storetest.SQLite)
	pub, _, _ := pairing.GenerateKey(rand.Reader)
	post := func(body string) (int, pairing.ErrorResponse, http.Header) {
		resp, err := http.Post(e.c.url+pairing.PathDeviceCode, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var er pairing.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&er)
		return resp.StatusCode, er, resp.Header
	}
	good := `{"public_key":"` + pairing.EncodePublicKey(pub) + `","name":"Kiosk"}`
	bad := []struct{ name, body string }{
		{"not JSON", `{`},
		{"no key", `{"name":"Kiosk"}`},
		{"small-order key", `{"public_key":"` + base64.RawURLEncoding.EncodeToString(append([]byte{1}, make([]byte, 31)...)) + `","name":"Kiosk"}`},
		{"no name", `{"public_key":"` + pairing.EncodePublicKey(pub) + `"}`},
	}
	for _, b := range bad {
		if st, er, _ := post(b.body); st != 400 || er.Error != pairing.ErrorInvalidRequest {
			t.Errorf("%s: %d %+v", b.name, st, er)
		}
	}
	// Every request above but the unreadable one (refused before any work)
	// counted; the limit is 30 per address per 10 minutes.
	for i := len(bad) - 1; i < displays.DefaultCodeRequests; i++ {
		if st, er, _ := post(good); st != 200 {
			t.Fatalf("request %d = %d %+v", i, st, er)
		}
	}
	if st, er, h := post(good); st != http.StatusTooManyRequests || er.Error != pairing.ErrorSlowDown || h.Get("Retry-After") == "" {
		t.Errorf("request over the limit = %d %+v", st, er)
	}
}

func TestPairPageAccess(t *testing.T) {
	e := newPairEnv(t, storetest.SQLite)
	k := e.newKiosk(t)
	page := e.c.url + "/pair?code=" + url.QueryEscape(k.code.UserCode)
	resp := get(t, page)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.hubURL+"/login?") {
		t.Errorf("page without a session = %d → %s, want the Hub login", resp.StatusCode, loc)
	}
	resp = get(t, page, e.login(t, e.c, devhub.UserReception))
	if b := body(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(b, "Access Denied") {
		t.Errorf("receptionist = %d %s", resp.StatusCode, b)
	}
	resp = get(t, page, e.admin)
	b := body(t, resp)
	for _, want := range []string{k.code.UserCode, "HQ Lobby", `name="location_id"`, "Approve", "Deny", "Lobby iPad"} {
		if !strings.Contains(b, want) {
			t.Errorf("approval page lacks %q", want)
		}
	}
	if strings.Contains(b, "Globex Tower") {
		t.Error("approval page offers another tenant's location")
	}
	resp = get(t, e.c.url+"/pair?code=BCDF-GHJK", e.admin)
	if b := body(t, resp); resp.StatusCode != 404 || !strings.Contains(b, "no pairing is waiting") {
		t.Errorf("unknown code page = %d", resp.StatusCode)
	}
}
