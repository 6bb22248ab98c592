package cloud_test

// Scale-out: two real cloud instances (cloud.Start) on one PostgreSQL
// database, the development Hub, and real kiosk engines (edge) split
// across the instances, all on 127.0.0.1. The instances keep their default
// polls (changes every 3 s, device statuses every 5 s), so a bound well
// under those proves the LISTEN/NOTIFY path (package fanout).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud"
	"github.com/theonestack/visitor/cloud/config"
	"github.com/theonestack/visitor/cloud/devhub"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/syncclient"
)

// notifyBound is well under the 3 s change poll and the 5 s status poll.
const notifyBound = 1500 * time.Millisecond

type cluster struct {
	hub   *devhub.Hub
	dbURL string
	a, b  *cloud.Service
	admin *http.Client // the Acme admin's session, valid on both instances
	loc   string       // an Acme location
}

func (c *cluster) url(s *cloud.Service) string { return "http://" + s.Addr() }

// newCluster starts the Hub and two instances on one new PostgreSQL
// database; seed, when set, runs on the database before they start.
func newCluster(t *testing.T, seed func(db *store.DB)) *cluster {
	t.Helper()
	c := &cluster{dbURL: storetest.URL(t, storetest.Postgres)}
	if seed != nil {
		db, err := store.Open(context.Background(), c.dbURL, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		seed(db)
		db.Close()
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubURL := "http://" + hln.Addr().String()
	start := func() *cloud.Service {
		cfg, err := config.Load(nil, env(map[string]string{
			"LISTEN_ADDR": "127.0.0.1:0", "DATABASE_URL": c.dbURL, "HUB_URL": hubURL,
			"BUS_INTEGRATION_KEY": testHubKey, "BUS_SDK_KEY": testSDKKey,
		}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := cloud.Start(context.Background(), cfg, cloud.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Shutdown(context.Background()) })
		return svc
	}
	c.a, c.b = start(), start()
	// Sign-in returns to instance A; the session lives in the database.
	c.hub, err = devhub.New(devhub.Config{PublicURL: hubURL, VisitorURL: c.url(c.a), HubIntegrationKey: testHubKey, BusSDKKey: testSDKKey}, devhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: hln, Config: &http.Server{Handler: c.hub.Handler()}}
	srv.Start()
	t.Cleanup(func() { srv.Close(); c.hub.Close() })
	c.admin = c.signIn(t, hubURL, devhub.UserAdmin)
	var loc visitor.Location
	if st := c.call(t, c.b, http.MethodPost, "/api/v1/locations", map[string]string{"name": "HQ Lobby", "timezone": "UTC"}, &loc); st != 201 {
		t.Fatalf("create location on B = %d", st)
	}
	c.loc = loc.ID
	return c
}

func (c *cluster) signIn(t *testing.T, hubURL, user string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), hubURL+"/login") {
			q := req.URL.Query()
			q.Set("user", user)
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}}
	resp, err := cl.Get(c.url(c.a) + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in landed on %s with %d", resp.Request.URL, resp.StatusCode)
	}
	return cl
}

// call sends a JSON request to one instance with the admin's session.
func (c *cluster) call(t *testing.T, s *cloud.Service, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url(s)+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// kiosk provisions a device of the location and runs a kiosk engine
// syncing with instance s.
func (c *cluster) kiosk(t *testing.T, s *cloud.Service, name string) (*edge.Engine, string) {
	t.Helper()
	ctx := context.Background()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Store().ProvisionDevice(ctx, devhub.OrgAcme, c.loc, name, pub, store.Actor{Type: store.ActorUser, ID: devhub.UserAdmin})
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Open(ctx, edge.Config{DataDir: t.TempDir(), CloudURL: c.url(s), LocalAPIAddr: "127.0.0.1:0"},
		edge.Options{Sync: syncclient.Options{BackoffBase: 100 * time.Millisecond, BackoffCap: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Provision(ctx, d.ID, devhub.OrgAcme, c.loc, priv); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.RunSync(rctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); e.Close() })
	return e, d.ID
}

func status(t *testing.T, e *edge.Engine) edge.Status {
	t.Helper()
	st, err := e.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func hasHost(t *testing.T, e *edge.Engine, name string) bool {
	t.Helper()
	hs, err := e.Hosts(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Name == name {
			return true
		}
	}
	return false
}

// within polls ok every 5 ms and returns how long it took to hold.
func within(t *testing.T, bound time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !ok() {
		if time.Since(began) > bound {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(began)
}

// TestScaleOutKiosksFollowChangesOnAnyInstance: a host created on A and
// settings changed on B reach kiosks connected to either instance within
// a second; a revoke on A drops the kiosk connected to B and an unpair on
// B drains and ends the kiosk connected to A, long before the polls.
func TestScaleOutKiosksFollowChangesOnAnyInstance(t *testing.T) {
	c := newCluster(t, nil)
	ka, idA := c.kiosk(t, c.a, "Front desk A")
	kb, idB := c.kiosk(t, c.b, "Front desk B")
	within(t, 10*time.Second, "both kiosks online", func() bool { return status(t, ka).Online && status(t, kb).Online })
	// Let the first feed (snapshot) settle, so that what follows is live.
	time.Sleep(300 * time.Millisecond)

	for i, tc := range []struct {
		on   *cloud.Service
		name string
	}{
		{c.a, "Hedy Lamarr"},    // made on A: B's kiosk only through PostgreSQL
		{c.b, "Katherine Ross"}, // made on B: A's kiosk only through PostgreSQL
	} {
		began := time.Now()
		if st := c.call(t, tc.on, http.MethodPost, "/api/v1/hosts", map[string]string{"name": tc.name, "email": "h@acme.example"}, nil); st != 201 {
			t.Fatalf("create host = %d", st)
		}
		within(t, notifyBound, "new host on both kiosks", func() bool { return hasHost(t, ka, tc.name) && hasHost(t, kb, tc.name) })
		t.Logf("host %d created on instance %c reached kiosks on both instances in %s", i+1, "AB"[i], time.Since(began).Round(time.Millisecond))
	}

	// Revoke on A the kiosk connected to B.
	began := time.Now()
	if st := c.call(t, c.a, http.MethodPost, "/api/v1/displays/"+idB+"/revoke", nil, nil); st != 200 {
		t.Fatalf("revoke on A = %d", st)
	}
	within(t, notifyBound, "kiosk on B revoked and offline", func() bool {
		st := status(t, kb)
		return st.Revoked && !st.Online
	})
	t.Logf("revoke on A dropped the kiosk on B in %s", time.Since(began).Round(time.Millisecond))

	// Unpair on B the kiosk connected to A: it drains (nothing queued),
	// then is told to wipe itself (DrainQuiet 2 s).
	began = time.Now()
	if st := c.call(t, c.b, http.MethodPost, "/api/v1/displays/"+idA+"/unpair", nil, nil); st != 200 {
		t.Fatalf("unpair on B = %d", st)
	}
	within(t, 2*time.Second+notifyBound, "kiosk on A unpaired", func() bool {
		st := status(t, ka)
		return !st.Paired && st.DeviceID == ""
	})
	t.Logf("unpair on B ended the kiosk on A in %s (drain quiet period included)", time.Since(began).Round(time.Millisecond))
}

// liveStream opens the console's live visitor log on s and returns a
// channel of its events' data.
func (c *cluster) liveStream(t *testing.T, s *cloud.Service) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url(s)+"/visits/live", nil)
	req.Header.Set("Accept", "text/event-stream")
	cl := &http.Client{Jar: c.admin.Jar} // no timeout: a stream
	resp, err := cl.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("live stream = %d", resp.StatusCode)
	}
	out := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		var ev strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev.Len() > 0 {
					select {
					case out <- ev.String():
					case <-ctx.Done():
						return
					}
					ev.Reset()
				}
				continue
			}
			ev.WriteString(line)
			ev.WriteByte('\n')
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	// The first frame ("retry:") shows the page is subscribed; the poller
	// then takes the current top as its start.
	select {
	case <-out:
	case <-time.After(5 * time.Second):
		t.Fatal("no first frame on the live stream")
	}
	time.Sleep(700 * time.Millisecond)
	return out
}

// awaitEvent waits for an event whose data mentions text and every one of also.
func awaitEvent(t *testing.T, events <-chan string, text string, bound time.Duration, also ...string) time.Duration {
	t.Helper()
	began := time.Now()
	timeout := time.After(bound)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("live stream ended")
			}
			if strings.Contains(ev, text) && !slices.ContainsFunc(also, func(a string) bool { return !strings.Contains(ev, a) }) {
				return time.Since(began)
			}
		case <-timeout:
			t.Fatalf("no live event mentioning %q within %s", text, bound)
		}
	}
}

// TestScaleOutLiveVisitorLog: the console's live visitor log on one
// instance shows check-ins and check-outs made on the other (it polls the
// shared visit events every 500 ms).
func TestScaleOutLiveVisitorLog(t *testing.T) {
	c := newCluster(t, nil)
	onA, onB := c.liveStream(t, c.a), c.liveStream(t, c.b)

	var v visitor.Visit
	body := map[string]any{"location_id": c.loc, "visitor": map[string]string{"name": "Grace Scaleout", "company": "Navy"}}
	if st := c.call(t, c.b, http.MethodPost, "/api/v1/visits", body, &v); st != 201 {
		t.Fatalf("check-in on B = %d", st)
	}
	took := awaitEvent(t, onA, "Grace Scaleout", 2*time.Second, "status-on-site")
	t.Logf("check-in on B shown live on A in %s", took.Round(time.Millisecond))
	awaitEvent(t, onB, "Grace Scaleout", 2*time.Second)

	if st := c.call(t, c.a, http.MethodPost, "/api/v1/visits/"+v.ID+"/checkout", nil, nil); st != 200 {
		t.Fatalf("check-out on A = %d", st)
	}
	took = awaitEvent(t, onB, "Grace Scaleout", 2*time.Second, "status-checked-out")
	t.Logf("check-out on A shown live on B in %s", took.Round(time.Millisecond))
	if got, err := c.b.Store().Visit(context.Background(), devhub.OrgAcme, v.ID); err != nil || got.Status != visitor.VisitCheckedOut {
		t.Errorf("visit on B = %+v, %v; want checked out", got, err)
	}
}

// TestScaleOutBusAndBillingRunOnce: with two instances relaying the same
// outbox and reporting the same usage, every Bus event reaches the Bus
// exactly once and every usage report is sent once (leases in the
// database make one instance at a time the sender).
func TestScaleOutBusAndBillingRunOnce(t *testing.T) {
	ctx := context.Background()
	actor := store.Actor{Type: store.ActorUser, ID: devhub.UserAdmin}
	var seeded []string
	c := newCluster(t, func(db *store.DB) {
		// Check-ins before the instances start: both see a backlog at once,
		// and this month's usage is due in the start-up catch-up.
		if err := db.EnsureTenant(ctx, devhub.OrgAcme, "Acme Corp"); err != nil {
			t.Fatal(err)
		}
		loc, err := db.CreateLocation(ctx, devhub.OrgAcme, visitor.Location{Name: "Annex", Timezone: "UTC"}, actor)
		if err != nil {
			t.Fatal(err)
		}
		for range 30 {
			v, err := db.CheckIn(ctx, devhub.OrgAcme, visitor.Visit{LocationID: loc.ID, Visitor: visitor.Person{Name: "Guest"}}, actor)
			if err != nil {
				t.Fatal(err)
			}
			seeded = append(seeded, v.ID)
		}
	})
	// More check-ins while both run, alternating between the instances.
	ids := append([]string(nil), seeded...)
	for i := range 10 {
		s := c.a
		if i%2 == 1 {
			s = c.b
		}
		var v visitor.Visit
		if st := c.call(t, s, http.MethodPost, "/api/v1/visits", map[string]any{"location_id": c.loc, "visitor": map[string]string{"name": "Walk In"}}, &v); st != 201 {
			t.Fatalf("check-in = %d", st)
		}
		ids = append(ids, v.ID)
	}
	delivered := func() map[string]devhub.ReceivedEvent {
		m := map[string]devhub.ReceivedEvent{}
		for _, e := range c.hub.Events() {
			if e.Type == visitor.EventCheckedIn {
				m[e.Subject] = e
			}
		}
		return m
	}
	within(t, 15*time.Second, "every checked_in event delivered", func() bool { return len(delivered()) == len(ids) })
	time.Sleep(1500 * time.Millisecond) // a second sender would have posted again by now
	got := delivered()
	for _, id := range ids {
		if e, ok := got[id]; !ok || e.Deliveries != 1 {
			t.Errorf("visit %s: checked_in delivered %d times, want once", id, e.Deliveries)
		}
	}
	if n := len(c.hub.Events()); n < len(ids) {
		t.Errorf("Bus holds %d events, want at least %d", n, len(ids))
	}

	within(t, 10*time.Second, "usage reported", func() bool { return len(c.hub.Billing()) > 0 })
	time.Sleep(500 * time.Millisecond)
	keys := map[string]bool{}
	for _, r := range c.hub.Billing() {
		if r.Duplicates != 0 || keys[r.IdempotencyKey] {
			t.Errorf("usage report %s sent more than once (%d duplicates)", r.IdempotencyKey, r.Duplicates)
		}
		keys[r.IdempotencyKey] = true
	}
}

// TestScaleOutConsoleCheckOutReachesKioskOnOtherInstance: a visitor who
// checked in at a kiosk connected to instance B is checked out in the
// console on instance A, and leaves that kiosk's on-site list at once; a
// staff check-in on A appears on it too.
func TestScaleOutConsoleCheckOutReachesKioskOnOtherInstance(t *testing.T) {
	c := newCluster(t, nil)
	ctx := context.Background()
	kb, _ := c.kiosk(t, c.b, "Front desk B")
	within(t, 10*time.Second, "kiosk online", func() bool { return status(t, kb).Online })
	onSite := func(id string) bool {
		vs, err := kb.OnSite(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if v.ID == id {
				return true
			}
		}
		return false
	}
	v, err := kb.CheckIn(ctx, edge.CheckInRequest{Name: "Kiosk Kate"})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "kiosk check-in in the cloud", func() bool {
		_, err := c.a.Store().Visit(ctx, devhub.OrgAcme, v.ID)
		return err == nil
	})
	began := time.Now()
	if st := c.call(t, c.a, http.MethodPost, "/api/v1/visits/"+v.ID+"/checkout", nil, nil); st != 200 {
		t.Fatalf("console check-out on A = %d", st)
	}
	within(t, notifyBound, "console check-out on the kiosk on B", func() bool { return !onSite(v.ID) })
	t.Logf("check-out on A left the on-site list of the kiosk on B in %s", time.Since(began).Round(time.Millisecond))

	var staff struct {
		ID string `json:"id"`
	}
	began = time.Now()
	if st := c.call(t, c.a, http.MethodPost, "/api/v1/visits", map[string]any{"location_id": c.loc, "visitor": map[string]string{"name": "Desk Dora"}}, &staff); st != 201 {
		t.Fatalf("staff check-in on A = %d", st)
	}
	within(t, notifyBound, "staff check-in on the kiosk on B", func() bool { return onSite(staff.ID) })
	t.Logf("check-in on A reached the kiosk on B in %s", time.Since(began).Round(time.Millisecond))
}
