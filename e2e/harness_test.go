package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/edge"
)

const tenant = "org_acme"

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a goroutine-safe log sink for a child process.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a child process that can be killed and started again with the
// same arguments.
type proc struct {
	t    *testing.T
	name string
	args []string
	env  []string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(filepath.Join(binDir, p.name), p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.done = done
	cmd := p.cmd
	go func() { cmd.Wait(); close(done) }()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// stop sends SIGTERM and waits up to 15 s.
func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.t.Errorf("%s did not stop within 15 s of SIGINT", p.name)
		p.kill()
	}
	p.cmd = nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string, within time.Duration, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %s; logs:\n%s", url, within, logs.String())
}

// system is one cloud process, one proxy in front of it and one kiosk
// engine process, paired.
type system struct {
	t         *testing.T
	cloud     *proc
	cloudAddr string
	db        *store.DB // the test's own connection to the cloud's database
	proxy     *toxiproxy.Proxy
	edge      *proc
	edgeAddr  string
	edgeDir   string
	location  visitor.Location
	deviceID  string
	priv      ed25519.PrivateKey
}

func newSystem(t *testing.T) *system {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s := &system{t: t, cloudAddr: freeAddr(t), edgeAddr: freeAddr(t), edgeDir: filepath.Join(dir, "edge")}
	dbURL := "sqlite:" + filepath.Join(dir, "cloud.db")
	s.cloud = &proc{t: t, name: "visitor-cloud", logs: &syncBuffer{}, env: []string{
		"LISTEN_ADDR=" + s.cloudAddr, "DATABASE_URL=" + dbURL, "HUB_URL=http://127.0.0.1:9", "LOG_LEVEL=debug",
	}}
	s.cloud.start()
	t.Cleanup(s.cloud.kill)
	waitHTTP(t, "http://"+s.cloudAddr+"/readyz", 20*time.Second, s.cloud.logs)

	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.db = db
	t.Cleanup(func() { db.Close() })
	admin := store.Actor{Type: store.ActorUser, ID: "u_admin"}
	if err := db.EnsureTenant(ctx, tenant, "Acme"); err != nil {
		t.Fatal(err)
	}
	if s.location, err = db.CreateLocation(ctx, tenant, visitor.Location{Name: "HQ Lobby", Timezone: "Europe/Paris"}, admin); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.priv = priv
	dev, err := db.ProvisionDevice(ctx, tenant, s.location.ID, "Front desk", pub, admin)
	if err != nil {
		t.Fatal(err)
	}
	s.deviceID = dev.ID

	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	s.proxy = toxiproxy.NewProxy(srv, "cloud", freeAddr(t), s.cloudAddr)
	if err := s.proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.proxy.Stop)

	// Pair the kiosk's database before its process starts.
	eng, err := edge.Open(ctx, edge.Config{DataDir: s.edgeDir, CloudURL: "http://" + s.proxy.Listen, LocalAPIAddr: s.edgeAddr}, edge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Provision(ctx, dev.ID, tenant, s.location.ID, priv); err != nil {
		t.Fatal(err)
	}
	eng.Close()

	s.edge = &proc{t: t, name: "visitor-edge", logs: &syncBuffer{},
		args: []string{"--data", s.edgeDir, "--cloud", "http://" + s.proxy.Listen, "--local-api", s.edgeAddr}}
	s.startEdge()
	t.Cleanup(s.edge.kill)
	return s
}

func (s *system) startEdge() {
	s.t.Helper()
	s.edge.start()
	waitHTTP(s.t, "http://"+s.edgeAddr+"/v1/status", 20*time.Second, s.edge.logs)
}

// partition cuts the link (existing connections and new ones); heal
// restores it.
func (s *system) partition() { s.proxy.Stop() }

func (s *system) heal() {
	s.t.Helper()
	if err := s.proxy.Start(); err != nil {
		s.t.Fatalf("heal: %v", err)
	}
}

// toxic adds a toxic to the proxy from its JSON form.
func (s *system) toxic(js string) {
	s.t.Helper()
	if _, err := s.proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		s.t.Fatalf("add toxic %s: %v", js, err)
	}
}

func (s *system) clearToxics() { s.proxy.Toxics.ResetToxics(context.Background()) }

// checkIn checks a visitor in at the kiosk's local API and returns the
// visit id it acknowledged.
func (s *system) checkIn(name string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "company": "Initech", "visitor_type": "guest"})
	resp, err := http.Post("http://"+s.edgeAddr+"/v1/checkins", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("check-in: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		s.t.Fatalf("check-in %q: %d %s", name, resp.StatusCode, raw)
	}
	var out struct {
		VisitID string `json:"visit_id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.VisitID == "" {
		s.t.Fatalf("check-in answer %s: %v", raw, err)
	}
	return out.VisitID
}

// checkOut checks a visit out at the kiosk.
func (s *system) checkOut(visitID string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"visit_id": visitID})
	resp, err := http.Post("http://"+s.edgeAddr+"/v1/checkouts", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("check-out: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("check-out: %d %s", resp.StatusCode, raw)
	}
}

type edgeStatus struct {
	Paired      bool  `json:"paired"`
	Online      bool  `json:"online"`
	PendingOps  int64 `json:"pending_ops"`
	RejectedOps int64 `json:"rejected_ops"`
}

func (s *system) status() (edgeStatus, error) {
	resp, err := http.Get("http://" + s.edgeAddr + "/v1/status")
	if err != nil {
		return edgeStatus{}, err
	}
	defer resp.Body.Close()
	var st edgeStatus
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// counts is what the cloud holds: visits by id and checked_in /
// checked_out events by visit.
type counts struct {
	visits, checkedIn, checkedOut map[string]int
}

func (s *system) cloudCounts() counts {
	s.t.Helper()
	c := counts{visits: map[string]int{}, checkedIn: map[string]int{}, checkedOut: map[string]int{}}
	query := func(q string, dst map[string]int, args ...any) {
		rows, err := s.db.SQL().Query(q, args...)
		if err != nil {
			s.t.Fatalf("read cloud: %v", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				s.t.Fatal(err)
			}
			dst[id] = n
		}
	}
	query(`SELECT id, COUNT(*) FROM visits WHERE tenant_id = ? GROUP BY id`, c.visits, tenant)
	query(`SELECT subject, COUNT(*) FROM outbox WHERE tenant_id = ? AND type = ? GROUP BY subject`, c.checkedIn, tenant, visitor.EventCheckedIn)
	query(`SELECT subject, COUNT(*) FROM outbox WHERE tenant_id = ? AND type = ? GROUP BY subject`, c.checkedOut, tenant, visitor.EventCheckedOut)
	return c
}

// waitSynced waits until the kiosk has nothing pending and the cloud holds
// every acknowledged visit, then checks lost = 0 and duplicated = 0.
func (s *system) waitSynced(acked []string, within time.Duration) counts {
	s.t.Helper()
	deadline := time.Now().Add(within)
	var c counts
	for {
		st, err := s.status()
		c = s.cloudCounts()
		if err == nil && st.PendingOps == 0 && len(c.visits) >= len(acked) {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not synced within %s: pending %+v (err %v), cloud has %d of %d visits\nedge logs:\n%s\ncloud logs:\n%s",
				within, st, err, len(c.visits), len(acked), tail(s.edge.logs.String()), tail(s.cloud.logs.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	lost, dup := 0, 0
	want := map[string]bool{}
	for _, id := range acked {
		want[id] = true
		switch n := c.visits[id]; {
		case n == 0:
			lost++
		case n > 1:
			dup++
		}
		if c.checkedIn[id] != 1 {
			s.t.Errorf("visit %s has %d checked_in events, want 1", id, c.checkedIn[id])
		}
	}
	for id := range c.visits {
		if !want[id] {
			s.t.Errorf("cloud has visit %s the kiosk never acknowledged", id)
		}
	}
	if lost != 0 || dup != 0 {
		s.t.Errorf("lost = %d, duplicated = %d (of %d acknowledged)", lost, dup, len(acked))
	}
	return c
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func (s *system) String() string { return fmt.Sprintf("cloud %s edge %s", s.cloudAddr, s.edgeAddr) }
