package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/theonestack/visitor/cloud/store/storetest"
)

// chromiumPath is Debian's Chromium.
const chromiumPath = "/usr/bin/chromium"

// TestBrowserSignIn drives a real Chromium: the console sends it to the
// development Hub, it picks a user, and it lands back on the console
// signed in, through at most three redirects.
func TestBrowserSignIn(t *testing.T) {
	e := newHubEnv(t.Context(), t, "")
	c := e.newCloud(t, storetest.URL(t, storetest.SQLite), e.cloudLn, nil, "")

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bctx := browser(t, ctx)

	if err := chromedp.Do(bctx, chromedp.Navigate(c.url+"/")); err != nil {
		t.Fatalf("open console: %v", err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, e.hubURL+"/login?") {
		t.Fatalf("console without session landed on %s, want the Hub login", loc)
	}
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`button[value="u_reception"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#whoami`)),
	); err != nil {
		t.Fatalf("pick user: %v", err)
	}
	who := textOf(t, bctx, `#whoami`)
	if !strings.Contains(who, "Signed in as") || !strings.Contains(who, "Acme Corp") {
		t.Errorf("console says %q", who)
	}
	loc, err = chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host != strings.TrimPrefix(c.url, "http://") || u.Path != "/" || u.RawQuery != "" {
		t.Errorf("landed on %s, want the clean console URL", loc)
	}
	if n := c.count.n.Load() + e.hubCount.n.Load(); n == 0 || n > 3 {
		t.Errorf("%d redirects, want 1 to 3 (the counter must see them)", n)
	}
}
