package devhub

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/theonestack/visitor"
)

const sdkKey = "bus-sdk-key"

// checkedIn is a contract-shaped visitor.checked_in event.
func checkedIn(id, visit string) map[string]any {
	return map[string]any{
		"specversion": "1.0", "id": id, "source": "visitor", "type": visitor.EventCheckedIn,
		"time": "2026-03-14T09:30:00Z", "subject": visit, "datacontenttype": "application/json",
		"tenantid": OrgAcme,
		"data":     map[string]any{"visit_id": visit, "location_id": "loc1", "visitor": map[string]any{"name": "Vera"}},
	}
}

func batchOf(events ...map[string]any) string {
	b, _ := json.Marshal(events)
	return string(b)
}

var busHeaders = map[string]string{"Authorization": "Bearer " + sdkKey, "Content-Type": ContentTypeBatch}

func postBus(t *testing.T, url string, headers map[string]string, body string) (int, string) {
	t.Helper()
	status, _, resp := do(t, http.MethodPost, url+"/api/bus/events", headers, body)
	return status, resp
}

func TestBusSinkValidation(t *testing.T) {
	_, srv := newTestHub(t, Config{BusSDKKey: sdkKey}, Options{})
	mod := func(id string, f func(e map[string]any)) string {
		e := checkedIn(id, "visit-"+id)
		f(e)
		return batchOf(e)
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		want    int
		wantMsg string
	}{
		{"no key", map[string]string{"Content-Type": ContentTypeBatch}, batchOf(checkedIn("a", "v")), http.StatusUnauthorized, ""},
		{"wrong key", map[string]string{"Authorization": "Bearer nope", "Content-Type": ContentTypeBatch}, batchOf(checkedIn("a", "v")), http.StatusUnauthorized, ""},
		{"not bearer", map[string]string{"Authorization": sdkKey, "Content-Type": ContentTypeBatch}, batchOf(checkedIn("a", "v")), http.StatusUnauthorized, ""},
		{"plain JSON", map[string]string{"Authorization": "Bearer " + sdkKey, "Content-Type": "application/json"}, batchOf(checkedIn("a", "v")), http.StatusUnsupportedMediaType, ""},
		{"single event", busHeaders, `{"specversion":"1.0"}`, http.StatusBadRequest, "JSON array"},
		{"empty batch", busHeaders, `[]`, http.StatusBadRequest, "Empty"},
		{"specversion", busHeaders, mod("e1", func(e map[string]any) { e["specversion"] = "0.3" }), http.StatusBadRequest, "specversion"},
		{"no id", busHeaders, mod("", func(e map[string]any) {}), http.StatusBadRequest, "missing id"},
		{"no source", busHeaders, mod("e1", func(e map[string]any) { delete(e, "source") }), http.StatusBadRequest, "missing source"},
		{"no type", busHeaders, mod("e1", func(e map[string]any) { delete(e, "type") }), http.StatusBadRequest, "missing type"},
		{"bad time", busHeaders, mod("e1", func(e map[string]any) { e["time"] = "yesterday" }), http.StatusBadRequest, "RFC 3339"},
		{"bad attribute name", busHeaders, mod("e1", func(e map[string]any) { e["tenant_id"] = OrgAcme }), http.StatusBadRequest, "attribute name"},
		{"numeric tenantid", busHeaders, mod("e1", func(e map[string]any) { e["tenantid"] = 7 }), http.StatusBadRequest, "wrong type"},
		{"contract: source", busHeaders, mod("e1", func(e map[string]any) { e["source"] = "crm" }), http.StatusBadRequest, "source must be"},
		{"contract: subject", busHeaders, mod("e1", func(e map[string]any) { e["subject"] = "other" }), http.StatusBadRequest, "data.visit_id"},
		{"contract: tenantid", busHeaders, mod("e1", func(e map[string]any) { delete(e, "tenantid") }), http.StatusBadRequest, "tenantid"},
		{"contract: datacontenttype", busHeaders, mod("e1", func(e map[string]any) { delete(e, "datacontenttype") }), http.StatusBadRequest, "datacontenttype"},
		{"contract: data object", busHeaders, mod("e1", func(e map[string]any) { e["data"] = "x" }), http.StatusBadRequest, "data must be"},
		{"one bad event fails the batch", busHeaders, batchOf(checkedIn("ok1", "v1"), map[string]any{"specversion": "1.0", "id": "bad"}), http.StatusBadRequest, "events[1]"},
		{"login_failed without tenant", busHeaders, batchOf(map[string]any{
			"specversion": "1.0", "id": "lf1", "source": "visitor", "type": visitor.EventLoginFailed,
			"time": "2026-03-14T09:30:00Z", "subject": "anonymous", "datacontenttype": "application/json",
			"data": map[string]any{"reason": "jti_reused", "ip": "127.0.0.1"},
		}), http.StatusAccepted, `"new": 1`},
		{"sso login", busHeaders, batchOf(map[string]any{
			"specversion": "1.0", "id": "sso1", "source": "visitor", "type": visitor.EventSSOLogin,
			"time": "2026-03-14T09:30:00+01:00", "subject": UserAdmin, "datacontenttype": "application/json", "tenantid": OrgAcme,
			"data": map[string]any{"user_id": UserAdmin, "email": "admin@acme.example", "name": "Ada", "ip": "127.0.0.1"},
		}), http.StatusAccepted, `"new": 1`},
		{"other product's type is only checked as a CloudEvent", busHeaders, batchOf(map[string]any{
			"specversion": "1.0", "id": "o1", "source": "/crm", "type": "crm.contact.created",
		}), http.StatusAccepted, `"new": 1`},
		{"charset parameter is fine", map[string]string{"Authorization": "Bearer " + sdkKey, "Content-Type": ContentTypeBatch + "; charset=utf-8"},
			batchOf(checkedIn("c1", "v-c1")), http.StatusAccepted, `"new": 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postBus(t, srv.URL, tc.headers, tc.body)
			if status != tc.want || !strings.Contains(body, tc.wantMsg) {
				t.Fatalf("%d %s, want %d containing %q", status, body, tc.want, tc.wantMsg)
			}
		})
	}
	// Nothing of a refused batch is stored.
	var list struct {
		Events []ReceivedEvent `json:"events"`
	}
	getJSON(t, srv.URL+"/api/devhub/events", &list)
	for _, e := range list.Events {
		if e.ID == "ok1" {
			t.Fatal("event of a refused batch was stored")
		}
	}
	if len(list.Events) != 4 {
		t.Fatalf("stored %d events, want 4", len(list.Events))
	}
}

func TestBusDedupeAndFilter(t *testing.T) {
	hub, srv := newTestHub(t, Config{}, Options{})
	noKey := map[string]string{"Content-Type": ContentTypeBatch}
	out := checkedIn("e2", "v2")
	out["type"] = visitor.EventCheckedOut
	steps := []struct {
		body     string
		wantNew  int
		wantDups int
	}{
		{batchOf(checkedIn("e1", "v1"), out), 2, 0},
		{batchOf(checkedIn("e1", "v1")), 0, 1},
		{batchOf(checkedIn("e1", "v1"), checkedIn("e3", "v3")), 1, 1},
	}
	for i, s := range steps {
		status, body := postBus(t, srv.URL, noKey, s.body)
		var resp map[string]int
		if err := json.Unmarshal([]byte(body), &resp); err != nil || status != http.StatusAccepted ||
			resp["new"] != s.wantNew || resp["duplicates"] != s.wantDups {
			t.Fatalf("step %d: %d %s, want new %d duplicates %d", i, status, body, s.wantNew, s.wantDups)
		}
	}
	events := hub.Events()
	got := map[string]int{}
	for _, e := range events {
		got[e.ID] = e.Deliveries
	}
	if len(events) != 3 || got["e1"] != 3 || got["e2"] != 1 || got["e3"] != 1 {
		t.Fatalf("deliveries %v", got)
	}
	if events[0].TenantID != OrgAcme || events[0].Subject != "v1" || !strings.Contains(string(events[0].Event), `"visit_id":"v1"`) {
		t.Fatalf("stored event %+v", events[0])
	}

	var list struct {
		Events []ReceivedEvent `json:"events"`
		Stats  BusStats        `json:"stats"`
	}
	getJSON(t, srv.URL+"/api/devhub/events?type="+visitor.EventCheckedOut, &list)
	if len(list.Events) != 1 || list.Events[0].ID != "e2" {
		t.Fatalf("type filter: %+v", list.Events)
	}
	if list.Stats.Posts != 3 || list.Stats.Accepted != 3 {
		t.Fatalf("stats %+v", list.Stats)
	}
	getJSON(t, srv.URL+"/api/devhub/events?tenantid=org_none", &list)
	if len(list.Events) != 0 {
		t.Fatalf("tenant filter: %+v", list.Events)
	}

	if status, _, _ := do(t, http.MethodPost, srv.URL+"/api/devhub/reset", nil, ""); status != http.StatusNoContent {
		t.Fatalf("reset: %d", status)
	}
	if n := len(hub.Events()); n != 0 || hub.BusStats().Posts != 0 {
		t.Fatalf("after reset: %d events, stats %+v", n, hub.BusStats())
	}
	if status, body := postBus(t, srv.URL, noKey, batchOf(checkedIn("e1", "v1"))); status != http.StatusAccepted || !strings.Contains(body, `"new": 1`) {
		t.Fatalf("after reset e1 is new again: %d %s", status, body)
	}
}

func TestBusFaults(t *testing.T) {
	hub, srv := newTestHub(t, Config{}, Options{})
	noKey := map[string]string{"Content-Type": ContentTypeBatch}

	if status, body := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/faults", nil, `{"bus_status": 503, "bus_count": 2}`); status != http.StatusOK {
		t.Fatalf("set faults: %d %s", status, body)
	}
	for i, want := range []int{503, 503, 202} {
		status, _, _ := do(t, http.MethodPost, srv.URL+"/api/bus/events", noKey, batchOf(checkedIn("f1", "v1")))
		if status != want {
			t.Fatalf("post %d: %d, want %d", i, status, want)
		}
	}
	if got := hub.Events(); len(got) != 1 || got[0].Deliveries != 1 {
		t.Fatalf("faulted posts were stored: %+v", got)
	}

	// Poison id: a batch containing it is refused whole; without it, accepted.
	if status, body := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/faults", nil, `{"reject_event_ids": ["poison"]}`); status != http.StatusOK {
		t.Fatalf("set poison: %d %s", status, body)
	}
	status, body := postBus(t, srv.URL, noKey, batchOf(checkedIn("good", "vg"), checkedIn("poison", "vp")))
	if status != http.StatusBadRequest || !strings.Contains(body, `"event_id": "poison"`) {
		t.Fatalf("poison batch: %d %s", status, body)
	}
	if status, _ := postBus(t, srv.URL, noKey, batchOf(checkedIn("good", "vg"))); status != http.StatusAccepted {
		t.Fatalf("isolated good event: %d", status)
	}
	if n := len(hub.Events()); n != 2 {
		t.Fatalf("%d events stored, want f1 and good", n)
	}

	for _, bad := range []string{`{"bus_status": 200}`, `{"bus_count": -1}`, `{"surprise": true}`} {
		if status, _ := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/faults", nil, bad); status != http.StatusBadRequest {
			t.Errorf("faults %s: %d, want 400", bad, status)
		}
	}

	if status, _, _ := do(t, http.MethodDelete, srv.URL+"/api/devhub/faults", nil, ""); status != http.StatusOK {
		t.Fatalf("clear faults: %d", status)
	}
	if status, _ := postBus(t, srv.URL, noKey, batchOf(checkedIn("poison", "vp"))); status != http.StatusAccepted {
		t.Fatalf("after clearing, poison: %d", status)
	}

	// bus_status without a count holds until cleared.
	if err := hub.SetFaults(Faults{BusStatus: 429}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if status, _ := postBus(t, srv.URL, noKey, batchOf(checkedIn("z", "vz"))); status != http.StatusTooManyRequests {
			t.Fatalf("post %d: %d, want 429", i, status)
		}
	}
	if s := hub.BusStats(); s.Faulted != 5 {
		t.Fatalf("faulted %d, want 5", s.Faulted)
	}
}

// recorder is a subscriber that fails its first failFirst requests.
type recorder struct {
	mu        sync.Mutex
	failFirst int
	calls     []recordedCall
}

type recordedCall struct {
	contentType, key, id string
	status               int
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var e struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(b, &e)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	status := http.StatusOK
	if len(rc.calls) < rc.failFirst {
		status = http.StatusServiceUnavailable
	}
	rc.calls = append(rc.calls, recordedCall{r.Header.Get("Content-Type"), r.Header.Get("X-Integration-Key"), e.ID, status})
	w.WriteHeader(status)
}

func (rc *recorder) snapshot() []recordedCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recordedCall(nil), rc.calls...)
}

func TestForwardToSubscribers(t *testing.T) {
	fromConfig := &recorder{}
	added := &recorder{failFirst: 1}
	cfgSub := newLoopbackServer(t, fromConfig)
	addSub := newLoopbackServer(t, added)
	hub, srv := newTestHub(t, Config{VisitorIntegrationKey: "visitor-key", Subscribers: []string{cfgSub.URL + "/hook"}}, Options{})

	if status, body := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/subscribers", nil, map[string]string{"url": addSub.URL + "/in"}); status != http.StatusCreated {
		t.Fatalf("add subscriber: %d %s", status, body)
	}
	if status, _ := postJSON(t, http.MethodPost, srv.URL+"/api/devhub/subscribers", nil, map[string]string{"url": "not a url"}); status != http.StatusBadRequest {
		t.Fatalf("bad subscriber url: %d", status)
	}
	noKey := map[string]string{"Content-Type": ContentTypeBatch}
	postBus(t, srv.URL, noKey, batchOf(checkedIn("x1", "v1")))
	postBus(t, srv.URL, noKey, batchOf(checkedIn("x1", "v1"))) // a duplicate is not forwarded again
	postBus(t, srv.URL, noKey, batchOf(checkedIn("x2", "v2")))

	waitFor(t, "both events at both subscribers", func() bool {
		return len(fromConfig.snapshot()) == 2 && len(added.snapshot()) == 3
	})
	wantIDs := map[*recorder][]string{fromConfig: {"x1", "x2"}, added: {"x1", "x1", "x2"}}
	for rc, ids := range wantIDs {
		calls := rc.snapshot()
		for i, c := range calls {
			if c.id != ids[i] || c.contentType != ContentTypeSingle || c.key != "visitor-key" {
				t.Errorf("call %d = %+v, want id %s, %s, X-Integration-Key", i, c, ids[i], ContentTypeSingle)
			}
		}
	}
	if added.snapshot()[0].status != http.StatusServiceUnavailable {
		t.Error("the first delivery was not the failing one, so no retry was exercised")
	}
	waitFor(t, "subscriber counters", func() bool {
		subs := hub.Subscribers()
		return len(subs) == 2 && subs[0].Delivered == 2 && subs[1].Delivered == 2 && subs[1].Failed == 0
	})
}

func TestForwardGivesUpAfterAttempts(t *testing.T) {
	down := &recorder{failFirst: 100}
	sub := newLoopbackServer(t, down)
	hub, srv := newTestHub(t, Config{Subscribers: []string{sub.URL}}, Options{ForwardAttempts: 3})
	postBus(t, srv.URL, map[string]string{"Content-Type": ContentTypeBatch}, batchOf(checkedIn("d1", "v1")))
	waitFor(t, "the subscriber to be given up on", func() bool {
		s := hub.Subscribers()
		return s[0].Failed == 1
	})
	if n := len(down.snapshot()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if s := hub.Subscribers()[0]; !strings.Contains(s.LastError, "503") {
		t.Fatalf("last error %q", s.LastError)
	}
}

func TestConcurrentUse(t *testing.T) {
	hub, srv := newTestHub(t, Config{}, Options{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				id := string(rune('a'+w)) + "-" + string(rune('0'+i))
				// Not postBus: t.Fatal must not run off the test goroutine.
				resp, err := http.Post(srv.URL+"/api/bus/events", ContentTypeBatch, strings.NewReader(batchOf(checkedIn(id, "v"+id))))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("post %s: %d", id, resp.StatusCode)
				}
				_ = hub.Events()
				if _, err := hub.IssueToken(UserAdmin, "s", nil); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := hub.RotateKeys(""); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if n := len(hub.Events()); n != 40 {
		t.Fatalf("%d events, want 40", n)
	}
}
