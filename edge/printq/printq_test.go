package printq_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/printer"
	"github.com/theonestack/visitor/edge/printer/printertest"
	"github.com/theonestack/visitor/edge/printq"
	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

var checkInTime = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func newID() (string, error) {
	id, err := uuid.NewV7()
	return id.String(), err
}

func env() store.OpEnv {
	return store.OpEnv{Now: checkInTime, BootID: "boot", MonoMs: 1, NewID: newID}
}

// openStore opens a paired kiosk store with a location and one host.
func openStore(t *testing.T) (*store.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, priv, err := pairing.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Provision(ctx, store.Identity{DeviceID: "dev_1", TenantID: "org_1", LocationID: "loc_1", Key: priv}); err != nil {
		t.Fatal(err)
	}
	loc, _ := json.Marshal(visitor.Location{ID: "loc_1", Name: "HQ Lobby", Timezone: "Europe/Paris"})
	host, _ := json.Marshal(visitor.Host{ID: "host_1", LocationID: "loc_1", Name: "Ada Lovelace", Active: true})
	if err := db.ApplyChanges(ctx, []syncproto.Change{
		{Entity: syncproto.EntityLocation, ID: "loc_1", Op: syncproto.ChangeUpsert, Data: loc},
		{Entity: syncproto.EntityHost, ID: "host_1", Op: syncproto.ChangeUpsert, Data: host},
	}, "c1"); err != nil {
		t.Fatal(err)
	}
	return db, dir
}

func checkIn(t *testing.T, db *store.DB, name string) visitor.Visit {
	t.Helper()
	id, _ := newID()
	v, err := db.CheckIn(context.Background(), store.NewCheckIn{VisitID: id,
		Visitor: visitor.Person{Name: name, Company: "Navy"}, HostID: "host_1", VisitorType: "guest"}, env())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// expectedBadge renders, independently of the queue, the badge visit v
// should get.
func expectedBadge(t *testing.T, v visitor.Visit, size badge.Size) *badge.Bitmap {
	t.Helper()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	code, err := badge.CheckoutQRPayload(v.ID, v.BadgeNumber)
	if err != nil {
		t.Fatal(err)
	}
	img, err := badge.RenderImage(badge.Data{VisitorName: v.Visitor.Name, Company: "Navy", HostName: "Ada Lovelace",
		LocationName: "HQ Lobby", Date: checkInTime, Location: paris, VisitorType: "guest", CheckoutCode: code},
		badge.DefaultTemplate(), size)
	if err != nil {
		t.Fatal(err)
	}
	return badge.Monochrome(img, badge.Threshold)
}

func runQueue(t *testing.T, q *printq.Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitJob(t *testing.T, q *printq.Queue, id, what string, cond func(printq.Job) bool) printq.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := q.Job(context.Background(), id)
		if err == nil && cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; job %+v, err %v", what, j, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type printOp struct {
	State, Printer, Detail, VisitID string
}

func printOps(t *testing.T, db *store.DB) []printOp {
	t.Helper()
	rows, err := db.Read().Query(`SELECT payload FROM outbox WHERE kind = ? ORDER BY seq`, syncproto.KindPrintStatus)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []printOp
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var p syncproto.PrintStatusPayload
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, printOp{p.State, p.Printer, p.Detail, p.VisitID})
	}
	return out
}

// TestRefusedPrinterThenPrinted: a Brother that refuses connections leaves
// the check-in committed and the badge queued (and reported as retrying);
// once it answers again the same job prints.
func TestRefusedPrinterThenPrinted(t *testing.T) {
	db, dir := openStore(t)
	fake, err := printertest.StartFakeBrother()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	// A closed port: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	var target atomic.Value
	target.Store(closed)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, target.Load().(string))
	}
	q, err := printq.New(context.Background(), db, dir, printq.Options{
		BackoffBase: 20 * time.Millisecond, BackoffCap: 50 * time.Millisecond, StatusInterval: time.Hour,
		NewPrinter: func(s printq.Settings) (printer.Printer, error) {
			return printer.NewBrotherQL(s.Target, printer.BrotherOptions{Net: printer.NetOptions{Dial: dial, DialTimeout: time.Second}}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.SetSettings(context.Background(), printq.Settings{Kind: printq.KindBrother, Target: "printer.lobby:9100"}); err != nil {
		t.Fatal(err)
	}
	v := checkIn(t, db, "Grace Hopper")
	job, err := q.Enqueue(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	runQueue(t, q)
	j := waitJob(t, q, job.ID, "a refused attempt", func(j printq.Job) bool { return j.Attempts >= 2 })
	if j.State.Done() || j.LastError == "" {
		t.Fatalf("after refused connections the job is %+v; want still queued with an error", j)
	}
	if got, err := db.Visit(context.Background(), v.ID); err != nil || got.Status != visitor.VisitCheckedIn {
		t.Fatalf("visit after printer failure: %+v, %v; want committed and checked in", got, err)
	}
	if st := q.Status(); st.Printer.State != printer.StateOffline {
		t.Errorf("printer state %q, want offline", st.Printer.State)
	}
	if len(fake.Jobs()) != 0 {
		t.Fatal("the printer got a job before it came back")
	}

	target.Store(fake.Addr()) // the printer is back
	j = waitJob(t, q, job.ID, "printed", func(j printq.Job) bool { return j.State == printq.StatePrinted })
	if j.PrintedAt.IsZero() {
		t.Error("printed job has no printed_at")
	}
	jobs := fake.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("printer received %d jobs, want 1", len(jobs))
	}
	got, err := printertest.DecodeBrotherRaster(jobs[0])
	if err != nil {
		t.Fatalf("printer job is not valid raster: %v", err)
	}
	if want := expectedBadge(t, v, badge.Brother62x100); !got.Equal(want) {
		t.Error("printed raster differs from the rendered badge")
	}
	ops := printOps(t, db)
	if len(ops) != 2 || ops[0].State != "retrying" || ops[1].State != "printed" {
		t.Fatalf("print.status ops %+v; want one retrying (not one per attempt), then printed", ops)
	}
	if ops[0].Printer != "brother" || ops[0].VisitID != v.ID {
		t.Errorf("print.status op %+v; want printer brother and the visit id", ops[0])
	}
	if st := q.Status(); st.Printer.State != printer.StateReady || st.LastJob == nil || st.LastJob.State != printq.StatePrinted {
		t.Errorf("status after printing: %+v", st)
	}
}

func TestZebraAndDirReceiveTheBadge(t *testing.T) {
	t.Run("zebra", func(t *testing.T) {
		db, dir := openStore(t)
		fake, err := printertest.StartFakeZebra()
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		q, err := printq.New(context.Background(), db, dir, printq.Options{StatusInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.SetSettings(context.Background(), printq.Settings{Kind: printq.KindZebra, Target: fake.Addr()}); err != nil {
			t.Fatal(err)
		}
		v := checkIn(t, db, "Alan Turing")
		job, err := q.Enqueue(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		runQueue(t, q)
		waitJob(t, q, job.ID, "printed", func(j printq.Job) bool { return j.State == printq.StatePrinted })
		jobs := fake.Jobs()
		if len(jobs) != 1 {
			t.Fatalf("zebra got %d jobs", len(jobs))
		}
		got, err := printertest.DecodeZPLGraphic(jobs[0])
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(expectedBadge(t, v, badge.Label4x3in)) {
			t.Error("ZPL graphic differs from the rendered 4×3 in badge")
		}
	})
	t.Run("dir", func(t *testing.T) {
		db, dir := openStore(t)
		q, err := printq.New(context.Background(), db, dir, printq.Options{StatusInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		v := checkIn(t, db, "Alan Turing")
		job, err := q.Enqueue(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		runQueue(t, q)
		waitJob(t, q, job.ID, "printed", func(j printq.Job) bool { return j.State == printq.StatePrinted })
		b, err := os.ReadFile(filepath.Join(dir, "badges", job.ID+".png"))
		if err != nil {
			t.Fatalf("default sink wrote no PNG: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if !badge.Monochrome(img, badge.Threshold).Equal(expectedBadge(t, v, badge.Brother62x100)) {
			t.Error("PNG in the badge folder differs from the rendered badge")
		}
	})
}

// scripted is a printer whose Print returns the next scripted error.
type scripted struct {
	mu     sync.Mutex
	errs   []error
	prints int
}

func (s *scripted) Print(ctx context.Context, job printer.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prints++
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

func (s *scripted) Status(context.Context) (printer.Status, error) {
	return printer.Status{State: printer.StateReady}, nil
}

func perr(k printer.Kind) error {
	return &printer.Error{Kind: k, Retryable: k.Retryable(), Op: "print", Detail: "x"}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error
		final     printq.State
		prints    int
		ops       []string
		needStaff bool
	}{
		{"prints first time", nil, printq.StatePrinted, 1, []string{"printed"}, false},
		{"busy then printed", []error{perr(printer.KindBusy), perr(printer.KindBusy)}, printq.StatePrinted, 3, []string{"retrying", "printed"}, false},
		{"out of labels then printed", []error{perr(printer.KindOutOfMedia)}, printq.StatePrinted, 2, []string{"retrying", "printed"}, true},
		{"rejected job fails at once", []error{perr(printer.KindRejected)}, printq.StateFailed, 1, []string{"failed"}, false},
		{"unconfirmed is not resent", []error{perr(printer.KindOffline), perr(printer.KindUnconfirmed)}, printq.StateFailed, 2, []string{"retrying", "failed"}, false},
		{"deadline is retried", []error{context.DeadlineExceeded}, printq.StatePrinted, 2, []string{"retrying", "printed"}, false},
		{"unknown error is not resent", []error{errors.New("boom")}, printq.StateFailed, 1, []string{"failed"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, dir := openStore(t)
			p := &scripted{errs: tt.errs}
			q, err := printq.New(context.Background(), db, dir, printq.Options{
				BackoffBase: 5 * time.Millisecond, StatusInterval: time.Hour,
				NewPrinter: func(printq.Settings) (printer.Printer, error) { return p, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var seen []printq.State
			defer q.Subscribe(func(j printq.Job) { mu.Lock(); seen = append(seen, j.State); mu.Unlock() })()
			job, err := q.Enqueue(context.Background(), checkIn(t, db, "Grace Hopper"))
			if err != nil {
				t.Fatal(err)
			}
			runQueue(t, q)
			j := waitJob(t, q, job.ID, string(tt.final), func(j printq.Job) bool { return j.State.Done() })
			if j.State != tt.final || j.Attempts != tt.prints {
				t.Fatalf("job %+v; want %s after %d attempts", j, tt.final, tt.prints)
			}
			var states []string
			for _, o := range printOps(t, db) {
				states = append(states, o.State)
			}
			if !equal(states, tt.ops) {
				t.Errorf("print.status ops %v, want %v", states, tt.ops)
			}
			// Subscribers hear of the change just after it is committed.
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				last := seen[len(seen)-1]
				mu.Unlock()
				if last == tt.final || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[0] != printq.StateQueued || seen[len(seen)-1] != tt.final {
				t.Errorf("subscriber saw %v", seen)
			}
			sawStaff := false
			for _, s := range seen {
				sawStaff = sawStaff || s == printq.StateNeedsStaff
			}
			if sawStaff != tt.needStaff {
				t.Errorf("needs_staff seen = %v, want %v (%v)", sawStaff, tt.needStaff, seen)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOldJobIsGivenUp(t *testing.T) {
	db, dir := openStore(t)
	now := checkInTime
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Millisecond); return now }
	p := &scripted{errs: []error{perr(printer.KindOffline), perr(printer.KindOffline), perr(printer.KindOffline)}}
	q, err := printq.New(context.Background(), db, dir, printq.Options{
		Now: clock, BackoffBase: time.Millisecond, BackoffCap: time.Millisecond, MaxAge: time.Minute, StatusInterval: time.Hour,
		NewPrinter: func(printq.Settings) (printer.Printer, error) { return p, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	job, err := q.Enqueue(context.Background(), checkIn(t, db, "Grace Hopper"))
	if err != nil {
		t.Fatal(err)
	}
	runQueue(t, q)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	j := waitJob(t, q, job.ID, "given up", func(j printq.Job) bool { return j.State.Done() })
	if j.State != printq.StateFailed || !strings.Contains(j.LastError, "gave up") {
		t.Fatalf("job %+v; want given up, not retried for a visitor long gone", j)
	}
}

func TestInterruptedJobIsNotResent(t *testing.T) {
	db, dir := openStore(t)
	p := &scripted{}
	q, err := printq.New(context.Background(), db, dir, printq.Options{StatusInterval: time.Hour,
		NewPrinter: func(printq.Settings) (printer.Printer, error) { return p, nil }})
	if err != nil {
		t.Fatal(err)
	}
	job, err := q.Enqueue(context.Background(), checkIn(t, db, "Grace Hopper"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Read().Exec(`SELECT 1`); err != nil {
		t.Fatal(err)
	}
	// A previous run crashed while sending it.
	if err := db.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE print_jobs SET status = 'printing', attempts = 1 WHERE id = ?`, job.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	runQueue(t, q)
	j := waitJob(t, q, job.ID, "failed", func(j printq.Job) bool { return j.State.Done() })
	if j.State != printq.StateFailed || p.prints != 0 {
		t.Fatalf("interrupted job %+v, prints %d; want failed, never resent", j, p.prints)
	}
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name string
		in   printq.Settings
		ok   bool
		want printq.Settings
	}{
		{"dir", printq.Settings{Kind: printq.KindDir, Target: "/tmp/b"}, true, printq.Settings{Kind: printq.KindDir, Target: "/tmp/b", Size: badge.Brother62x100}},
		{"dir without folder", printq.Settings{Kind: printq.KindDir}, false, printq.Settings{}},
		{"brother default port", printq.Settings{Kind: printq.KindBrother, Target: "10.0.0.5"}, true, printq.Settings{Kind: printq.KindBrother, Target: "10.0.0.5:9100", Size: badge.Brother62x100}},
		{"brother forced to 62 mm", printq.Settings{Kind: printq.KindBrother, Target: "10.0.0.5:9100", Size: badge.Label4x3in}, true, printq.Settings{Kind: printq.KindBrother, Target: "10.0.0.5:9100", Size: badge.Brother62x100}},
		{"zebra 4x3", printq.Settings{Kind: printq.KindZebra, Target: "zebra:9100"}, true, printq.Settings{Kind: printq.KindZebra, Target: "zebra:9100", Size: badge.Label4x3in}},
		{"zebra bad port", printq.Settings{Kind: printq.KindZebra, Target: "zebra:99999"}, false, printq.Settings{}},
		{"cups", printq.Settings{Kind: printq.KindCUPS, Target: "Lobby_QL"}, true, printq.Settings{Kind: printq.KindCUPS, Target: "Lobby_QL", Size: badge.Brother62x100}},
		{"cups bad queue", printq.Settings{Kind: printq.KindCUPS, Target: "-o evil"}, false, printq.Settings{}},
		{"unknown kind", printq.Settings{Kind: "fax", Target: "x"}, false, printq.Settings{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, dir := openStore(t)
			q, err := printq.New(context.Background(), db, dir, printq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = q.SetSettings(context.Background(), tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("SetSettings(%+v) = %v, want ok %v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				if visitor.ErrorCode(err) != visitor.EINVALID {
					t.Errorf("error %v is not EINVALID", err)
				}
				return
			}
			// The choice survives a restart.
			q2, err := printq.New(context.Background(), db, dir, printq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := q2.Settings(); got != tt.want {
				t.Errorf("settings after reopen %+v, want %+v", got, tt.want)
			}
		})
	}
}
