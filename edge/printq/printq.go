// Package printq is the kiosk's badge print queue, kept in the print_jobs
// table of the kiosk's SQLite store.
//
// # Check-in never waits for a printer
//
// After a check-in commits, the engine calls Enqueue: it renders the badge
// to a 1-bit bitmap (the form every printer takes; a few ms) and inserts
// the job in its own short transaction. Nothing in Enqueue touches the
// printer, so an unplugged, jammed or missing printer can neither block
// nor undo a check-in. A failed Enqueue is logged by the engine and shows
// on the confirmation screen as "please ask reception for a badge".
//
// # The worker
//
// Run takes the oldest due job, marks it printing, encodes it for the
// configured printer (PDF for CUPS, ZPL for Zebra, raster for Brother, PNG
// files for the directory sink) and prints it. A retryable failure
// (printer.IsRetryable: offline, busy, out of labels, cover open…) puts
// the job back with exponential backoff; a failure that needs staff at the
// printer is marked needs_staff and still retried, so loading labels is
// enough. A job that is not retryable (rejected, unconfirmed: it may have
// printed) or older than Options.MaxAge (the visitor is long gone) is
// failed for good. Each printed, retrying and failed outcome is written
// with a print.status outbox op in the same transaction, so the cloud's
// console shows printer trouble. Jobs interrupted by a restart while
// printing are failed, not resent: the badge may have come out.
//
// Status reports the printer's state (polled every Options.StatusInterval
// and after each job) and the last job's outcome; Subscribe delivers every
// job change, for the kiosk's confirmation and admin screens.
package printq

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/printer"
	"github.com/theonestack/visitor/edge/store"
)

// State is a print job's state. Values are stored in print_jobs.status.
type State string

// Job states.
const (
	StateQueued     State = "queued"      // waiting for its (next) attempt
	StatePrinting   State = "printing"    // being sent to the printer now
	StatePrinted    State = "printed"     // the printer took it (and confirmed, where it can)
	StateFailed     State = "failed"      // given up: staff must hand out a badge
	StateNeedsStaff State = "needs_staff" // retried, but someone must act at the printer first
)

// Done reports whether the job will not change any more.
func (s State) Done() bool { return s == StatePrinted || s == StateFailed }

// Job is one badge print job as the screens see it. LastError is a short
// phrase for staff ("offline: cannot reach the printer"); it never holds
// visitor data.
type Job struct {
	ID        string
	VisitID   string // "" for a test print
	State     State
	Attempts  int
	LastError string
	CreatedAt time.Time
	PrintedAt time.Time // zero until printed
}

// Retrying reports whether the job has failed at least once and waits for
// another attempt: the visitor should ask reception rather than wait.
func (j Job) Retrying() bool {
	return (j.State == StateQueued || j.State == StateNeedsStaff) && j.Attempts > 0
}

// Status is the print queue's state for the kiosk screens.
type Status struct {
	Settings  Settings
	Printer   printer.Status // last known printer state
	CheckedAt time.Time      // when Printer was last learned (zero: never)
	LastJob   *Job           // the most recent job change, nil before any
	Waiting   int            // jobs not yet printed or failed, as of the worker's last pass
}

// Options are the queue's optional dependencies; the zero value works.
type Options struct {
	// Now is the wall clock for job times. Default time.Now.
	Now func() time.Time
	// NewID makes job ids. Default uuid.NewV7.
	NewID func() (string, error)
	// Env gives the op environment for print.status outbox ops (the
	// engine passes its own, so ops carry its boot id and monotonic
	// clock). Default: Now, no boot id, NewID.
	Env func() store.OpEnv
	// NewPrinter builds the driver for the settings. Default NewPrinter.
	NewPrinter func(Settings) (printer.Printer, error)
	// Logger receives logs (never visitor PII). Default: discard.
	Logger *slog.Logger
	// BackoffBase and BackoffCap bound the wait between attempts of one
	// job: base × 2^(attempts−1), at most cap. Defaults 2 s and 60 s.
	BackoffBase, BackoffCap time.Duration
	// MaxAge is how long after check-in a badge is still worth printing;
	// then the job fails. Default 30 minutes.
	MaxAge time.Duration
	// PrintTimeout bounds one attempt. Default 60 s.
	PrintTimeout time.Duration
	// StatusInterval is how often the worker asks an idle printer how it
	// is. Default 20 s.
	StatusInterval time.Duration
	// Template overrides the tenant's badge template (tests). Default:
	// the synced settings' badge_template, else badge.DefaultTemplate.
	Template *badge.Template
}

// Queue is the print queue over one kiosk store. It is safe for
// concurrent use; Run must be called at most once at a time.
type Queue struct {
	db      *store.DB
	opts    Options
	dataDir string
	log     *slog.Logger
	wake    chan struct{}

	mu       sync.Mutex
	settings Settings
	prn      printer.Printer
	status   Status
	subs     map[int]func(Job)
	nextSub  int
}

// New opens the queue over db. Printer settings come from the store's meta
// table (SetSettings), else DefaultSettings(dataDir).
func New(ctx context.Context, db *store.DB, dataDir string, opts Options) (*Queue, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = func() (string, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return "", err
			}
			return id.String(), nil
		}
	}
	if opts.Env == nil {
		opts.Env = func() store.OpEnv { return store.OpEnv{Now: opts.Now(), NewID: opts.NewID} }
	}
	if opts.NewPrinter == nil {
		opts.NewPrinter = NewPrinter
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 2 * time.Second
	}
	if opts.BackoffCap <= 0 {
		opts.BackoffCap = 60 * time.Second
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 30 * time.Minute
	}
	if opts.PrintTimeout <= 0 {
		opts.PrintTimeout = 60 * time.Second
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = 20 * time.Second
	}
	s, err := loadSettings(ctx, db, DefaultSettings(dataDir))
	if err != nil {
		return nil, err
	}
	q := &Queue{db: db, opts: opts, dataDir: dataDir, log: opts.Logger.With("component", "printq"),
		wake: make(chan struct{}, 1), settings: s, subs: map[int]func(Job){}}
	q.status = Status{Settings: s, Printer: printer.Status{State: printer.StateUnknown}}
	return q, nil
}

// Settings returns the printer settings in use.
func (q *Queue) Settings() Settings {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.settings
}

// SetSettings validates s, stores it in meta and uses it from the next
// job on. Jobs already queued print on the new printer.
func (q *Queue) SetSettings(ctx context.Context, s Settings) error {
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return err
	}
	if err := saveSettings(ctx, q.db, s); err != nil {
		return err
	}
	q.mu.Lock()
	q.settings, q.prn = s, nil
	q.status.Settings = s
	q.status.Printer, q.status.CheckedAt = printer.Status{State: printer.StateUnknown}, time.Time{}
	q.mu.Unlock()
	q.log.Info("printer settings changed", "kind", s.Kind, "size", s.Size)
	q.poke()
	return nil
}

// Status returns the printer state and the last job outcome. It never
// blocks on the printer or the database.
func (q *Queue) Status() Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.status
	if st.LastJob != nil {
		j := *st.LastJob
		st.LastJob = &j
	}
	return st
}

// Subscribe calls fn with every job change (enqueued, printing, printed,
// retrying, failed) until cancel is called. fn runs on the queue's
// goroutines and must not block (the kiosk hands it to fyne.Do).
func (q *Queue) Subscribe(fn func(Job)) (cancel func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	id := q.nextSub
	q.nextSub++
	q.subs[id] = fn
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.subs, id)
	}
}

func (q *Queue) changed(j Job) {
	q.mu.Lock()
	q.status.LastJob = &j
	subs := make([]func(Job), 0, len(q.subs))
	for _, fn := range q.subs {
		subs = append(subs, fn)
	}
	q.mu.Unlock()
	for _, fn := range subs {
		fn(j)
	}
}

func (q *Queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Enqueue renders the badge of visit v and queues it. It returns once the
// job is committed; it never talks to the printer. v must be committed.
func (q *Queue) Enqueue(ctx context.Context, v visitor.Visit) (Job, error) {
	f, err := q.db.BadgeFacts(ctx, v.ID)
	if err != nil {
		return Job{}, fmt.Errorf("badge of %s: %w", v.ID, err)
	}
	tmpl, err := q.template(ctx)
	if err != nil {
		return Job{}, err
	}
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil {
		loc = time.UTC
	}
	code, err := badge.CheckoutQRPayload(f.Visit.ID, f.Visit.BadgeNumber)
	if err != nil {
		return Job{}, fmt.Errorf("badge of %s: %w", v.ID, err)
	}
	d := badge.Data{
		VisitorName: f.Visit.Visitor.Name, Company: f.Visit.Visitor.Company, HostName: f.HostName,
		LocationName: f.LocationName, Date: f.Visit.CheckedInAt, Location: loc, BadgeNumber: f.Visit.BadgeNumber,
		VisitorType: f.Visit.VisitorType, CheckoutCode: code, TenantName: f.TenantName,
	}
	return q.enqueue(ctx, v.ID, d, tmpl)
}

// TestPrint queues a sample badge (no visitor data) for the admin screen's
// test print.
func (q *Queue) TestPrint(ctx context.Context) (Job, error) {
	code, err := badge.CheckoutQRPayload("", "TEST")
	if err != nil {
		return Job{}, err
	}
	d := badge.Data{VisitorName: "Test Badge", Company: "Printer check", Date: q.opts.Now(), BadgeNumber: "TEST",
		VisitorType: "guest", CheckoutCode: code}
	return q.enqueue(ctx, "", d, badge.DefaultTemplate())
}

// BadgeData renders d as the queue would print it now (with the configured
// label size), reduced to the bitmap that is sent: what tests compare a
// printed job with.
func (q *Queue) BadgeData(d badge.Data, t badge.Template) (*badge.Bitmap, error) {
	img, err := badge.RenderImage(d, t, q.Settings().Size)
	if err != nil {
		return nil, err
	}
	return badge.Monochrome(img, badge.Threshold), nil
}

func (q *Queue) template(ctx context.Context) (badge.Template, error) {
	if q.opts.Template != nil {
		return *q.opts.Template, nil
	}
	s, err := q.db.Settings(ctx)
	if err != nil {
		return badge.Template{}, err
	}
	t, err := badge.ParseTemplate([]byte(s.BadgeTemplate))
	if err != nil {
		q.log.Warn("tenant badge template is not valid; using the default", "err", err)
		return badge.DefaultTemplate(), nil
	}
	return t, nil
}

func (q *Queue) enqueue(ctx context.Context, visitID string, d badge.Data, t badge.Template) (Job, error) {
	size := q.Settings().Size
	img, err := badge.RenderImage(d, t, size)
	if err != nil {
		return Job{}, fmt.Errorf("render badge: %w", err)
	}
	bm := badge.Monochrome(img, badge.Threshold)
	id, err := q.opts.NewID()
	if err != nil {
		return Job{}, fmt.Errorf("job id: %w", err)
	}
	now := q.opts.Now()
	j := Job{ID: id, VisitID: visitID, State: StateQueued, CreatedAt: now}
	err = q.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO print_jobs (id, visit_id, format, data, status, attempts, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, 0, ?, ?)`, id, visitID, formatMono+string(size), encodeBitmap(bm), StateQueued, ts(now), ts(now))
		return err
	})
	if err != nil {
		return Job{}, fmt.Errorf("queue badge: %w", err)
	}
	q.poke()
	q.changed(j)
	return j, nil
}

// JobForVisit returns the newest print job of a visit; ENOTFOUND when the
// visit has none (its badge could not be queued).
func (q *Queue) JobForVisit(ctx context.Context, visitID string) (Job, error) {
	return q.jobWhere(ctx, `visit_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`, visitID)
}

// Job returns one job; ENOTFOUND when there is none.
func (q *Queue) Job(ctx context.Context, id string) (Job, error) {
	return q.jobWhere(ctx, `id = ?`, id)
}

func (q *Queue) jobWhere(ctx context.Context, where string, args ...any) (Job, error) {
	row := q.db.Read().QueryRowContext(ctx, `SELECT id, visit_id, status, attempts, last_error, created_at,
		COALESCE(printed_at, '') FROM print_jobs WHERE `+where, args...)
	j, err := scanJob(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, visitor.Errorf(visitor.ENOTFOUND, "no print job")
	}
	if err != nil {
		return Job{}, fmt.Errorf("read print job: %w", err)
	}
	return j, nil
}

func scanJob(r interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var created, printed string
	if err := r.Scan(&j.ID, &j.VisitID, &j.State, &j.Attempts, &j.LastError, &created, &printed); err != nil {
		return j, err
	}
	j.CreatedAt, _ = time.Parse(timeLayout, created)
	if printed != "" {
		j.PrintedAt, _ = time.Parse(timeLayout, printed)
	}
	return j, nil
}

// The job's data: format "mono1z:<size>" is a badge.Bitmap as width and
// height (uint32 big-endian) then its rows, DEFLATE-compressed (a badge
// is mostly white: ~100 KiB of rows become a few KiB, which keeps the
// WAL, and so the check-in's commit, small).
const formatMono = "mono1z:"

func encodeBitmap(bm *badge.Bitmap) []byte {
	var buf bytes.Buffer
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(bm.Width))
	binary.BigEndian.PutUint32(hdr[4:], uint32(bm.Height))
	buf.Write(hdr[:])
	zw, _ := flate.NewWriter(&buf, flate.BestSpeed) // the level is valid
	zw.Write(bm.Pix)
	zw.Close()
	return buf.Bytes()
}

func decodeBitmap(format string, data []byte) (*badge.Bitmap, badge.Size, error) {
	size, ok := strings.CutPrefix(format, formatMono)
	if !ok || len(data) < 8 {
		return nil, "", fmt.Errorf("unknown print job format %q", format)
	}
	w, h := int(binary.BigEndian.Uint32(data)), int(binary.BigEndian.Uint32(data[4:]))
	if w <= 0 || h <= 0 || w > 10000 || h > 10000 {
		return nil, "", fmt.Errorf("print job bitmap is %d×%d", w, h)
	}
	bm := badge.NewBitmap(w, h)
	n, err := io.ReadFull(flate.NewReader(bytes.NewReader(data[8:])), bm.Pix)
	if err != nil {
		return nil, "", fmt.Errorf("print job bitmap has %d bytes, want %d: %w", n, len(bm.Pix), err)
	}
	return bm, badge.Size(size), nil
}

const timeLayout = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }
