package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

// sseEvents reads a Server-Sent Events body and returns a function that
// answers the data of the next event (its lines joined), failing the test
// when the stream ends first.
func sseEvents(t *testing.T, resp *http.Response) func() string {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return func() string {
		t.Helper()
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" && data.Len() > 0 {
				return data.String()
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				data.WriteString(d)
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return ""
	}
}

// TestOnsitePageWithoutScript: the on-site list is a complete page on its
// own (a plain GET shows everyone on site, a Refresh link keeps the
// location filter, a Print button), and it names the live stream the
// script opens, with the mark it was rendered at.
func TestOnsitePageWithoutScript(t *testing.T) {
	s, db := newServer(t, storetest.SQLite)
	ctx := context.Background()
	sess := sessionWith(t, db, []visitor.Permission{visitor.PermVisitorsView, visitor.PermVisitorsCheckout})
	hq, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ", Timezone: "UTC"}, store.System)
	if err != nil {
		t.Fatal(err)
	}
	annex, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "Annex", Timezone: "UTC"}, store.System)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ loc, name string }{{hq.ID, "Hedy Lamarr"}, {annex.ID, "Annie Easley"}} {
		if _, err := db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: v.loc, Visitor: visitor.Person{Name: v.name}}, store.System); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, target      string
		want, notWant     []string
		refresh, liveAttr string
	}{
		{"all locations", "/onsite", []string{"Hedy Lamarr", "Annie Easley", "<strong>2</strong> people on site", `id="print"`}, nil,
			`href="/onsite"`, `data-live="/onsite?since=`},
		{"one location", "/onsite?location_id=" + hq.ID, []string{"Hedy Lamarr", "<strong>1</strong> people on site",
			`name="return" value="/onsite?location_id=` + hq.ID + `"`}, []string{"Annie Easley"},
			`href="/onsite?location_id=` + hq.ID + `"`, `data-live="/onsite?location_id=` + hq.ID + `&amp;since=`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, s.Handler(), http.MethodGet, tc.target, nil, sess)
			page := rec.Body.String()
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("GET %s = %d %s", tc.target, rec.Code, rec.Header().Get("Content-Type"))
			}
			if !strings.Contains(rec.Header().Get("Vary"), "Accept") {
				t.Errorf("Vary = %q: the page and its stream share a URL", rec.Header().Get("Vary"))
			}
			for _, w := range append(tc.want, tc.refresh, tc.liveAttr) {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page shows %q", w)
				}
			}
			// The live status line is hidden until the script shows it:
			// without the script nothing is live.
			if !strings.Contains(page, `id="live-state" role="status" aria-live="polite" hidden`) {
				t.Errorf("live status line is not hidden for a page without script")
			}
		})
	}
}

// TestOnsiteLiveStream: GET /onsite with Accept: text/event-stream streams
// the list at once and again after a check-in and a check-out; with a
// ?since= mark that is current it sends nothing until a change; and the
// stream keeps the page's permission. It waits on the live feed's polls,
// so it runs in parallel with the package's other tests.
func TestOnsiteLiveStream(t *testing.T) {
	t.Parallel()
	s, db := newServer(t, storetest.SQLite)
	ctx := context.Background()
	sess := sessionWith(t, db, []visitor.Permission{visitor.PermVisitorsView})
	loc, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ", Timezone: "UTC"}, store.System)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	open := func(t *testing.T, target string, c *http.Cookie) *http.Response {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.URL+target, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.AddCookie(c)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	t.Run("needs the page's permission", func(t *testing.T) {
		resp := open(t, "/onsite", sessionWith(t, db, nil))
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("stream without visitor.visitors.view = %d", resp.StatusCode)
		}
	})

	t.Run("check-in and check-out", func(t *testing.T) {
		resp := open(t, "/onsite", sess)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		next := sseEvents(t, resp)
		if first := next(); !strings.Contains(first, "Nobody on site") || !strings.Contains(first, "<strong>0</strong> people") {
			t.Errorf("first event = %q", first)
		}
		start := time.Now()
		v, err := db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: "Streamed Sam"}, Source: visitor.SourceKiosk}, store.System)
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(); !strings.Contains(ev, "Streamed Sam") || !strings.Contains(ev, "<strong>1</strong> people") {
			t.Errorf("event after check-in = %q", ev)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("check-in reached the stream after %v", d)
		}
		if _, _, err := db.CheckOut(ctx, "org_acme", v.ID, time.Time{}, visitor.SourceKiosk, store.System); err != nil {
			t.Fatal(err)
		}
		if ev := next(); strings.Contains(ev, "Streamed Sam") || !strings.Contains(ev, "Nobody on site") {
			t.Errorf("event after check-out = %q", ev)
		}
	})

	t.Run("current mark waits for a change", func(t *testing.T) {
		since, err := db.LatestVisitSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp := open(t, "/onsite?since="+strconv.FormatInt(since, 10), sess)
		next := sseEvents(t, resp)
		if _, err := db.CheckIn(ctx, "org_acme", visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: "Later Lee"}}, store.System); err != nil {
			t.Fatal(err)
		}
		// The first event is the one the change caused: nothing was sent
		// for the list the page already showed.
		if ev := next(); !strings.Contains(ev, "Later Lee") {
			t.Errorf("first event after a current mark = %q", ev)
		}
	})
}
