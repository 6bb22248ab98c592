package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/pairing"
)

// TestBrowserApprovesPairing drives a real Chromium the way an admin's
// phone does after scanning a kiosk's QR code: the link leads through Hub
// sign-in back to the approval page, the admin names the display and
// approves, and the kiosk's next poll receives the binding.
func TestBrowserApprovesPairing(t *testing.T) {
	e := newPairEnv(t, storetest.SQLite)
	k := e.newKiosk(t)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bctx := browser(t, ctx)

	if err := chromedp.Do(bctx,
		chromedp.Navigate(k.code.VerificationURIComplete),
		chromedp.Click(chromedp.CSS(`button[value="`+devhub.UserAdmin+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#approve-form`)),
	); err != nil {
		t.Fatalf("open the QR link and sign in: %v", err)
	}
	shown := textOf(t, bctx, `#code`)
	if strings.TrimSpace(shown) != k.code.UserCode {
		t.Errorf("page shows code %q, want %q", shown, k.code.UserCode)
	}
	if err := chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`#name`), "Lobby phone-paired"),
		chromedp.Click(chromedp.CSS(`#approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#result`)),
	); err != nil {
		t.Fatalf("approve: %v", err)
	}
	result := textOf(t, bctx, `body`)
	if !strings.Contains(result, "Display paired") || !strings.Contains(result, "HQ Lobby") {
		t.Errorf("result page says %q", result)
	}

	c := &pairing.Client{BaseURL: e.c.url, Now: e.clk.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		e.clk.Advance(d)
		return nil
	}}
	tok, err := c.WaitForApproval(t.Context(), k.priv, k.code, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TenantID != devhub.OrgAcme || tok.LocationID != e.acmeLoc || tok.DisplayName != "Lobby phone-paired" {
		t.Errorf("binding = %+v", tok)
	}
}
