package syncclient

import (
	"context"
	"fmt"

	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

// inflight is a push sent and not yet acknowledged.
type inflight struct {
	batch    int64
	from, to int64
}

// session runs one connection until it ends. welcomed reports whether the
// handshake succeeded (the backoff then starts over).
func (c *Client) session(ctx context.Context, id store.Identity) (welcomed bool, err error) {
	t, err := c.dial(ctx)
	if err != nil {
		return false, err
	}
	lastAcked, err := c.db.LastAckedSeq(ctx)
	if err != nil {
		t.Close()
		return false, err
	}
	cursor, err := c.db.Cursor(ctx)
	if err != nil {
		t.Close()
		return false, err
	}
	w, sample, err := syncproto.ClientHandshake(ctx, t, syncproto.HelloParams{
		DeviceID: id.DeviceID, BootID: c.opts.BootID, Mono: c.opts.Mono, LastAckedSeq: lastAcked,
		Cursor: cursor, AppVersion: c.opts.AppVersion, Now: c.opts.Now,
	}, func(nonce []byte) ([]byte, error) { return pairing.SignChallenge(id.Key, id.DeviceID, nonce), nil })
	if err != nil {
		t.Close()
		return false, err
	}
	conn := syncproto.NewConn(t, syncproto.Options{
		HeartbeatInterval: w.Heartbeat(), WriteTimeout: c.opts.WriteTimeout, Now: c.opts.Now, Logger: c.log,
	})
	defer conn.Close()
	// The skew measured now corrects the times of every op of this boot.
	if err := c.db.SetBootOffset(ctx, c.opts.BootID, sample.Offset); err != nil {
		return true, err
	}
	// The cloud durably applied everything up to LastAppliedSeq, even if an
	// ack was lost with the previous connection.
	if err := c.db.AckUpTo(ctx, w.LastAppliedSeq); err != nil {
		return true, err
	}
	if w.TenantID != "" && w.LocationID != "" && (w.TenantID != id.TenantID || w.LocationID != id.LocationID) {
		if err := c.db.UpdatePlacement(ctx, w.TenantID, w.LocationID); err != nil {
			return true, err
		}
	}
	if err := c.db.SetLastSync(ctx, c.opts.Now()); err != nil {
		return true, err
	}
	c.online.Store(true)
	c.log.Info("sync connected", "device_id", id.DeviceID, "version", w.Version,
		"offset_ms", sample.Offset.Milliseconds(), "last_applied_seq", w.LastAppliedSeq)

	s := &sessionState{c: c, conn: conn, next: w.LastAppliedSeq + 1, cursor: cursor}
	return true, s.run(ctx)
}

type sessionState struct {
	c      *Client
	conn   *syncproto.Conn
	cursor string

	next       int64 // first seq not yet sent on this connection
	batch      int64 // last batch number used
	resetBatch int64 // batches ≤ this were sent before the latest gap repair
	ackedBatch int64 // last batch acknowledged
	window     []inflight

	snapshot []string // entities of the snapshot in progress, nil if none
}

type recvResult struct {
	f   syncproto.Frame
	err error
}

func (s *sessionState) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	frames := make(chan recvResult)
	go func() {
		for {
			f, err := s.conn.Recv(ctx)
			select {
			case frames <- recvResult{f, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		if err := s.fill(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			s.conn.CloseWith(context.Background(), &syncproto.Bye{Reason: syncproto.ByeShutdown})
			return ctx.Err()
		case <-s.conn.Done():
			return s.conn.Err()
		case <-s.c.wake:
		case r := <-frames:
			if r.err != nil {
				if err := s.conn.Err(); err != nil {
					return err
				}
				return r.err
			}
			if err := s.handle(ctx, r.f); err != nil {
				if pe, ok := err.(*syncproto.Error); ok {
					s.conn.CloseWith(ctx, pe.Frame())
				}
				return err
			}
		}
	}
}

// fill sends pushes while the window has room and the outbox has ops.
func (s *sessionState) fill(ctx context.Context) error {
	for len(s.window) < syncproto.MaxInflightBatches {
		ops, err := s.c.db.OpsFrom(ctx, s.next, syncproto.MaxBatchOps)
		if err != nil {
			return err
		}
		if len(ops) == 0 {
			return nil
		}
		if ops[0].Seq != s.next {
			return fmt.Errorf("outbox has no op %d to send (oldest available %d)", s.next, ops[0].Seq)
		}
		s.batch++
		push := &syncproto.Push{Batch: s.batch, MonoMs: s.c.opts.Mono(), Ops: ops}
		if err := s.conn.Send(ctx, push); err != nil {
			return err
		}
		last := ops[len(ops)-1].Seq
		s.window = append(s.window, inflight{batch: s.batch, from: ops[0].Seq, to: last})
		s.next = last + 1
	}
	return nil
}

func (s *sessionState) handle(ctx context.Context, f syncproto.Frame) error {
	switch f := f.(type) {
	case *syncproto.Ack:
		return s.ack(ctx, f)
	case *syncproto.SnapshotBegin:
		if err := s.c.db.ClearStaging(ctx); err != nil {
			return err
		}
		s.snapshot = append([]string{}, f.Entities...)
		return nil
	case *syncproto.Changes:
		if f.Snapshot {
			if s.snapshot == nil {
				return syncproto.NewError(syncproto.CodeProtocolViolation, "snapshot items without snapshot_begin")
			}
			return s.c.db.StageSnapshot(ctx, f.Items)
		}
		if s.snapshot != nil {
			return syncproto.NewError(syncproto.CodeProtocolViolation, "live changes inside a snapshot")
		}
		if f.FromCursor != s.cursor {
			// The cloud resumes from our durable cursor on the next connection.
			return syncproto.NewError(syncproto.CodeProtocolViolation, "changes from cursor %q, kiosk is at %q", f.FromCursor, s.cursor)
		}
		if err := s.c.db.ApplyChanges(ctx, f.Items, f.Cursor); err != nil {
			return err
		}
		s.cursor = f.Cursor
		return s.conn.Send(ctx, &syncproto.ChangesAck{Cursor: f.Cursor})
	case *syncproto.SnapshotEnd:
		if s.snapshot == nil {
			return syncproto.NewError(syncproto.CodeProtocolViolation, "snapshot_end without snapshot_begin")
		}
		if err := s.c.db.FinishSnapshot(ctx, s.snapshot, f.Cursor); err != nil {
			return err
		}
		s.snapshot, s.cursor = nil, f.Cursor
		return s.conn.Send(ctx, &syncproto.ChangesAck{Cursor: f.Cursor})
	}
	return syncproto.NewError(syncproto.CodeProtocolViolation, "unexpected %s frame", f.FrameType())
}

func (s *sessionState) ack(ctx context.Context, a *syncproto.Ack) error {
	if a.Batch <= s.ackedBatch {
		// A repeated ack: recording it again is harmless and changes nothing.
		return s.c.db.ApplyAck(ctx, a.UpToSeq, a.Results)
	}
	if len(s.window) == 0 || s.window[0].batch != a.Batch {
		return syncproto.NewError(syncproto.CodeProtocolViolation, "ack for batch %d out of order", a.Batch)
	}
	s.window = s.window[1:]
	s.ackedBatch = a.Batch
	if err := s.c.db.ApplyAck(ctx, a.UpToSeq, a.Results); err != nil {
		return err
	}
	if err := s.c.db.SetLastSync(ctx, s.c.opts.Now()); err != nil {
		return err
	}
	if a.ExpectedSeq != 0 && a.Batch > s.resetBatch {
		// A gap: resend from where the cloud is. Acks of batches already in
		// flight describe the same gap and are not acted on again.
		s.c.log.Info("sync gap repaired", "expected_seq", a.ExpectedSeq)
		s.next = a.ExpectedSeq
		s.resetBatch = s.batch
	}
	return nil
}
