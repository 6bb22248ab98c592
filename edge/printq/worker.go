package printq

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/printer"
	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/syncproto"
)

// Outcome states of print.status ops (the cloud accepts exactly these).
const (
	opPrinted  = "printed"
	opRetrying = "retrying"
	opFailed   = "failed"
)

// Run prints queued jobs until ctx ends, then returns ctx's error. It
// first fails jobs a previous run left half-printed.
func (q *Queue) Run(ctx context.Context) error {
	if err := q.failInterrupted(ctx); err != nil && ctx.Err() == nil {
		q.log.Error("print queue: cannot clear interrupted jobs", "err", err)
	}
	q.pollStatus(ctx)
	lastPoll := time.Now()
	for {
		wait, err := q.runDue(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			q.log.Error("print queue", "err", err)
			wait = q.opts.BackoffBase
		}
		if since := time.Since(lastPoll); since >= q.opts.StatusInterval {
			q.pollStatus(ctx)
			lastPoll = time.Now()
		}
		wait = min(wait, q.opts.StatusInterval-time.Since(lastPoll))
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// runDue prints every job that is due, oldest first, and returns how long
// until the next one is.
func (q *Queue) runDue(ctx context.Context) (time.Duration, error) {
	for ctx.Err() == nil {
		var id, format, nextAt string
		var data []byte
		var attempts int
		var createdAt string
		err := q.db.Read().QueryRowContext(ctx, `SELECT id, format, data, attempts, next_attempt_at, created_at FROM print_jobs
			WHERE status IN (?, ?) ORDER BY next_attempt_at, created_at LIMIT 1`, StateQueued, StateNeedsStaff).Scan(
			&id, &format, &data, &attempts, &nextAt, &createdAt)
		if errors.Is(err, sql.ErrNoRows) {
			q.setWaiting(0)
			return q.opts.StatusInterval, nil
		}
		if err != nil {
			return 0, fmt.Errorf("next print job: %w", err)
		}
		if err := q.countWaiting(ctx); err != nil {
			return 0, err
		}
		now := q.opts.Now()
		due, _ := time.Parse(timeLayout, nextAt)
		if d := due.Sub(now); d > 0 {
			return d, nil
		}
		if created, _ := time.Parse(timeLayout, createdAt); now.Sub(created) > q.opts.MaxAge {
			if err := q.finish(ctx, id, attempts, nil, fmt.Errorf("gave up after %d attempts: the visitor has left", attempts), true); err != nil {
				return 0, err
			}
			continue
		}
		if err := q.attempt(ctx, id, format, data, attempts); err != nil {
			return 0, err
		}
	}
	return 0, ctx.Err()
}

func (q *Queue) attempt(ctx context.Context, id, format string, data []byte, attempts int) error {
	attempts++
	if err := q.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE print_jobs SET status = ?, attempts = ? WHERE id = ?`, StatePrinting, attempts, id)
		return err
	}); err != nil {
		return fmt.Errorf("mark job printing: %w", err)
	}
	if j, err := q.Job(ctx, id); err == nil {
		q.changed(j)
	}
	bm, size, err := decodeBitmap(format, data)
	if err != nil {
		return q.finish(ctx, id, attempts, nil, fmt.Errorf("rejected: %w", err), true)
	}
	prn, settings, err := q.printer()
	if err != nil {
		// Misconfigured: retry (an admin may fix the settings) but say so.
		return q.finish(ctx, id, attempts, &printer.Error{Kind: printer.KindMisconfigured, Retryable: true, Detail: err.Error()}, nil, false)
	}
	job := printer.Job{ID: id, Size: size, Image: bm}
	if settings.Kind == KindCUPS {
		if job.PDF, err = badge.EncodePDF(bm, size); err != nil {
			return q.finish(ctx, id, attempts, nil, fmt.Errorf("rejected: %w", err), true)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, q.opts.PrintTimeout)
	perr := prn.Print(pctx, job)
	cancel()
	if ctx.Err() != nil && perr != nil {
		// Stopping: leave the job for the next run rather than fail it.
		_ = q.db.Write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
			_, err := tx.ExecContext(context.WithoutCancel(ctx), `UPDATE print_jobs SET status = ? WHERE id = ?`, StateQueued, id)
			return err
		})
		return nil
	}
	q.learnStatus(perr)
	if perr == nil {
		return q.finish(ctx, id, attempts, nil, nil, false)
	}
	var pe *printer.Error
	if !errors.As(perr, &pe) {
		kind := printer.KindOf(perr)
		if errors.Is(perr, context.DeadlineExceeded) {
			kind = printer.KindTimeout
		}
		pe = &printer.Error{Kind: kind, Retryable: printer.IsRetryable(perr), Detail: perr.Error()}
	}
	return q.finish(ctx, id, attempts, pe, nil, !pe.Retryable)
}

// finish records an attempt's outcome: printed (perr and other nil), a
// printer failure perr, or another failure other. final fails the job for
// good. A print.status op goes with it when the outcome is new.
func (q *Queue) finish(ctx context.Context, id string, attempts int, perr *printer.Error, other error, final bool) error {
	ctx = context.WithoutCancel(ctx)
	now := q.opts.Now()
	settings := q.Settings()
	var state State
	var msg, op string
	switch {
	case perr == nil && other == nil:
		state, op = StatePrinted, opPrinted
	case final:
		state, op = StateFailed, opFailed
	case perr.Kind.NeedsStaff():
		state, op = StateNeedsStaff, opRetrying
	default:
		state, op = StateQueued, opRetrying
	}
	switch {
	case perr != nil:
		msg = string(perr.Kind)
		if perr.Detail != "" {
			msg += ": " + perr.Detail
		}
	case other != nil:
		msg = other.Error()
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	var visitID, prevErr string
	err := q.db.Write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT visit_id, last_error FROM print_jobs WHERE id = ?`, id).Scan(&visitID, &prevErr); err != nil {
			return err
		}
		var printedAt any
		if state == StatePrinted {
			printedAt = ts(now)
		}
		next := now.Add(q.backoff(attempts))
		if _, err := tx.ExecContext(ctx, `UPDATE print_jobs SET status = ?, last_error = ?, next_attempt_at = ?, printed_at = ?
			WHERE id = ?`, state, msg, ts(next), printedAt, id); err != nil {
			return err
		}
		// Report terminal outcomes, and a retry only when the problem is
		// new for this job, so an offline printer does not flood the outbox.
		if op == opRetrying && kindOf(prevErr) == kindOf(msg) {
			return nil
		}
		_, err := store.AppendOp(ctx, tx, q.opts.Env(), syncproto.KindPrintStatus, syncproto.PrintStatusPayload{
			JobID: id, VisitID: visitID, State: op, Printer: string(settings.Kind), Detail: msg,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("record print outcome: %w", err)
	}
	if state == StatePrinted {
		q.log.Info("badge printed", "job", id, "attempts", attempts)
	} else {
		q.log.Warn("badge not printed", "job", id, "state", state, "attempts", attempts, "error", msg)
	}
	if j, err := q.Job(ctx, id); err == nil {
		q.changed(j)
	}
	return nil
}

func kindOf(msg string) string {
	for i := 0; i < len(msg); i++ {
		if msg[i] == ':' {
			return msg[:i]
		}
	}
	return msg
}

func (q *Queue) backoff(attempts int) time.Duration {
	d := q.opts.BackoffBase
	for i := 1; i < attempts && d < q.opts.BackoffCap; i++ {
		d *= 2
	}
	return min(d, q.opts.BackoffCap)
}

func (q *Queue) printer() (printer.Printer, Settings, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.prn == nil {
		p, err := q.opts.NewPrinter(q.settings)
		if err != nil {
			return nil, q.settings, err
		}
		q.prn = p
	}
	return q.prn, q.settings, nil
}

// learnStatus updates the printer state from a print attempt's result.
func (q *Queue) learnStatus(err error) {
	st := printer.Status{State: printer.StateReady}
	var pe *printer.Error
	if errors.As(err, &pe) {
		st = pe.Status()
	} else if err != nil {
		st = printer.Status{State: printer.StateError}
	}
	q.mu.Lock()
	q.status.Printer, q.status.CheckedAt = st, q.opts.Now()
	q.mu.Unlock()
}

// pollStatus asks the printer how it is (bounded to 10 s).
func (q *Queue) pollStatus(ctx context.Context) {
	prn, _, err := q.printer()
	st := printer.Status{State: printer.StateError, Detail: "printer settings are not usable"}
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, _ = prn.Status(sctx)
		cancel()
	}
	if ctx.Err() != nil {
		return
	}
	q.mu.Lock()
	q.status.Printer, q.status.CheckedAt = st, q.opts.Now()
	q.mu.Unlock()
}

// CheckPrinter asks the printer for its status now (the admin screen's
// refresh) and returns it.
func (q *Queue) CheckPrinter(ctx context.Context) printer.Status {
	q.pollStatus(ctx)
	return q.Status().Printer
}

func (q *Queue) setWaiting(n int) {
	q.mu.Lock()
	q.status.Waiting = n
	q.mu.Unlock()
}

func (q *Queue) countWaiting(ctx context.Context) error {
	var n int
	if err := q.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM print_jobs WHERE status IN (?, ?, ?)`,
		StateQueued, StateNeedsStaff, StatePrinting).Scan(&n); err != nil {
		return fmt.Errorf("count print jobs: %w", err)
	}
	q.setWaiting(n)
	return nil
}

// failInterrupted fails jobs left "printing" by a previous run: the badge
// may have printed, so resending could print it twice.
func (q *Queue) failInterrupted(ctx context.Context) error {
	var ids []string
	rows, err := q.db.Read().QueryContext(ctx, `SELECT id, attempts FROM print_jobs WHERE status = ?`, StatePrinting)
	if err != nil {
		return err
	}
	attempts := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
		attempts[id] = n
	}
	rows.Close()
	for _, id := range ids {
		if err := q.finish(ctx, id, attempts[id], nil, errors.New("interrupted by a restart while printing"), true); err != nil {
			return err
		}
	}
	return nil
}
