package syncserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/syncproto"
)

// session is one authenticated kiosk connection.
type session struct {
	srv    *Server
	conn   *syncproto.Conn
	dev    visitor.Device
	bootID string

	// ready is closed once conn and registered are set; the connection's
	// callbacks wait for it before touching the session.
	ready      chan struct{}
	registered bool

	queued atomic.Bool // in the server's feed queue

	// feedMu serialises feed runs; it guards cursor and inflight, which
	// the receive loop reads under it too.
	feedMu   sync.Mutex
	cursor   string  // down cursor of the last frame sent (the hello's at first)
	inflight []int64 // seqs of live changes frames sent, not yet acknowledged

	drainMu    sync.Mutex
	drainTimer *time.Timer // non-nil while the device drains before bye "unpaired"
}

// handle takes one frame from the kiosk, on the connection's reader
// goroutine: the next frame is read once it returns.
func (ss *session) handle(f syncproto.Frame, at time.Time) {
	<-ss.ready
	if !ss.registered {
		return // being closed with bye "shutdown"
	}
	ctx := context.Background()
	switch f := f.(type) {
	case *syncproto.Push:
		ss.handlePush(ctx, f, at)
	case *syncproto.ChangesAck:
		ss.handleChangesAck(f)
	default:
		ss.closeWith(syncproto.NewError(syncproto.CodeProtocolViolation, "unexpected %s frame", f.FrameType()).Frame())
	}
}

// handlePush applies a batch and acks it after the commit. A batch that
// cannot be applied closes the connection.
func (ss *session) handlePush(ctx context.Context, p *syncproto.Push, at time.Time) {
	ss.pauseDrain()
	var rtt time.Duration
	if cs, ok := ss.conn.ClockSample(); ok {
		rtt = cs.RTT
	}
	anchor := syncproto.Anchor{BootID: ss.bootID, MonoMs: p.MonoMs, ServerTime: at.Add(-rtt / 2)}
	res, err := ss.srv.db.ApplyOps(ctx, ss.dev, p.Ops, anchor)
	if err != nil {
		switch visitor.ErrorCode(err) {
		case visitor.EFORBIDDEN:
			ss.closeWith(&syncproto.Bye{Reason: syncproto.ByeRevoked})
		case visitor.ENOTFOUND:
			ss.closeWith(syncproto.NewError(syncproto.CodeUnauthorized, "unknown device").Frame())
		case visitor.EINVALID:
			ss.closeWith(syncproto.NewError(syncproto.CodeProtocolViolation, "%s", visitor.ErrorMessage(err)).Frame())
		default:
			ss.srv.log.Error("apply ops", "device_id", ss.dev.ID, "batch", p.Batch, "err", err)
			ss.closeWith(syncproto.NewError(syncproto.CodeInternal, "could not apply the batch").Frame())
		}
		return
	}
	ack := &syncproto.Ack{Batch: p.Batch, UpToSeq: res.LastAppliedSeq, ExpectedSeq: res.ExpectedSeq}
	for _, r := range res.Results {
		if r.Status != syncproto.StatusApplied { // acks list duplicates and rejections
			ack.Results = append(ack.Results, r)
		}
	}
	if err := ss.conn.Send(ctx, ack); err != nil {
		return
	}
	if res.Applied > 0 {
		ss.srv.Notify(ss.dev.TenantID)
		if ss.srv.opts.Peers != nil {
			ss.srv.opts.Peers.TenantChanged(ss.dev.TenantID)
		}
	}
	if res.Status == visitor.DeviceUnpaired {
		ss.startDrain()
	}
	ss.resumeDrain()
}

func (ss *session) handleChangesAck(a *syncproto.ChangesAck) {
	seq, ok := store.ParseCursor(a.Cursor)
	if !ok {
		return // not a cursor of ours: nothing in flight matches it
	}
	ss.feedMu.Lock()
	i := 0
	for i < len(ss.inflight) && ss.inflight[i] <= seq {
		i++
	}
	freed := i > 0
	ss.inflight = append(ss.inflight[:0], ss.inflight[i:]...)
	ss.feedMu.Unlock()
	if freed {
		ss.srv.schedule(ss)
	}
}

// runFeed sends what the kiosk is missing: a snapshot when its cursor
// cannot be continued, then changes, within the in-flight window.
func (ss *session) runFeed() {
	ss.feedMu.Lock()
	defer ss.feedMu.Unlock()
	// Sends return as soon as the connection ends; the bound is for reads.
	ctx, cancel := context.WithTimeout(context.Background(), feedTimeout)
	defer cancel()
	for len(ss.inflight) < syncproto.MaxInflightChanges {
		select {
		case <-ss.conn.Done():
			return
		default:
		}
		feed, err := ss.srv.db.DeviceFeed(ctx, ss.dev.TenantID, ss.dev.LocationID, ss.cursor, syncproto.MaxChangeItems)
		if err != nil {
			if ctx.Err() == nil {
				ss.srv.log.Warn("read down feed", "device_id", ss.dev.ID, "err", err)
			}
			return
		}
		if feed.NeedSnapshot {
			if err := ss.sendSnapshot(ctx); err != nil {
				if ctx.Err() == nil {
					ss.srv.log.Warn("send snapshot", "device_id", ss.dev.ID, "err", err)
				}
				return
			}
			continue
		}
		if len(feed.Changes) == 0 {
			return
		}
		items, last := feedItems(feed.Changes)
		frame := &syncproto.Changes{FromCursor: ss.cursor, Cursor: store.FormatCursor(last), Items: items,
			More: feed.More || len(items) < len(feed.Changes)}
		if err := ss.conn.Send(ctx, frame); err != nil {
			return
		}
		ss.cursor = frame.Cursor
		ss.inflight = append(ss.inflight, last)
	}
}

// feedItems turns changes into feed items, stopping before maxFeedBytes of
// data, and returns the seq of the last one taken (always at least one).
func feedItems(cs []store.Change) ([]syncproto.Change, int64) {
	items := make([]syncproto.Change, 0, len(cs))
	size := 0
	var last int64
	for i, c := range cs {
		size += len(c.Data) + 64
		if i > 0 && size > maxFeedBytes {
			break
		}
		it := syncproto.Change{Entity: c.Entity, ID: c.EntityID, Op: c.Op}
		if c.Op == syncproto.ChangeUpsert {
			it.Data = c.Data
		}
		items = append(items, it)
		last = c.Seq
	}
	return items, last
}

// snapshotEntities are the entities a snapshot replaces wholesale.
var snapshotEntities = []string{syncproto.EntityHost, syncproto.EntityPreregistration, syncproto.EntityBadge,
	syncproto.EntityLocation, syncproto.EntitySettings}

func (ss *session) sendSnapshot(ctx context.Context) error {
	snap, err := ss.srv.db.DeviceSnapshot(ctx, ss.dev.TenantID, ss.dev.LocationID)
	if err != nil {
		return err
	}
	var items []syncproto.Change
	add := func(entity, id string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", entity, err)
		}
		items = append(items, syncproto.Change{Entity: entity, ID: id, Op: syncproto.ChangeUpsert, Data: raw})
		return nil
	}
	if err := add(syncproto.EntityLocation, snap.Location.ID, snap.Location); err != nil {
		return err
	}
	if err := add(syncproto.EntitySettings, ss.dev.TenantID, snap.Settings); err != nil {
		return err
	}
	for _, h := range snap.Hosts {
		if err := add(syncproto.EntityHost, h.ID, h); err != nil {
			return err
		}
	}
	for _, p := range snap.Preregistrations {
		if err := add(syncproto.EntityPreregistration, p.ID, p); err != nil {
			return err
		}
	}
	for _, b := range snap.Badges {
		if err := add(syncproto.EntityBadge, b.ID, b); err != nil {
			return err
		}
	}
	// Visits are upserted, never in snapshotEntities: the kiosk's own
	// unsent visits must survive a snapshot.
	for _, v := range snap.Visits {
		if err := add(syncproto.EntityVisit, v.ID, store.VisitState(v)); err != nil {
			return err
		}
	}
	if err := ss.conn.Send(ctx, &syncproto.SnapshotBegin{Entities: snapshotEntities}); err != nil {
		return err
	}
	for len(items) > 0 {
		n, size := 0, 0
		for n < len(items) && n < syncproto.MaxChangeItems && (n == 0 || size+len(items[n].Data) <= maxFeedBytes) {
			size += len(items[n].Data) + 64
			n++
		}
		frame := &syncproto.Changes{Snapshot: true, Items: items[:n], More: n < len(items)}
		if err := ss.conn.Send(ctx, frame); err != nil {
			return err
		}
		items = items[n:]
	}
	if err := ss.conn.Send(ctx, &syncproto.SnapshotEnd{Cursor: snap.Cursor}); err != nil {
		return err
	}
	ss.cursor = snap.Cursor
	ss.inflight = ss.inflight[:0]
	return nil
}

// closeWith sends f as the last frame and closes the connection, waiting
// at most the write timeout.
func (ss *session) closeWith(f syncproto.Frame) {
	ctx, cancel := context.WithTimeout(context.Background(), ss.srv.opts.WriteTimeout)
	defer cancel()
	if err := ss.conn.CloseWith(ctx, f); err != nil {
		ss.conn.Close()
	}
}

// startDrain marks the device as unpaired: once it has been quiet for
// DrainQuiet after its last ack, it is sent bye "unpaired".
func (ss *session) startDrain() {
	ss.drainMu.Lock()
	defer ss.drainMu.Unlock()
	if ss.drainTimer != nil {
		return
	}
	ss.drainTimer = time.AfterFunc(ss.srv.opts.DrainQuiet, func() {
		ss.closeWith(&syncproto.Bye{Reason: syncproto.ByeUnpaired})
	})
}

// pauseDrain holds the bye while a push is applied.
func (ss *session) pauseDrain() {
	ss.drainMu.Lock()
	defer ss.drainMu.Unlock()
	if ss.drainTimer != nil {
		ss.drainTimer.Stop()
	}
}

// resumeDrain restarts the quiet period after an ack.
func (ss *session) resumeDrain() {
	ss.drainMu.Lock()
	defer ss.drainMu.Unlock()
	if ss.drainTimer != nil {
		ss.drainTimer.Reset(ss.srv.opts.DrainQuiet)
	}
}

func (ss *session) stopDrain() {
	ss.drainMu.Lock()
	defer ss.drainMu.Unlock()
	if ss.drainTimer != nil {
		ss.drainTimer.Stop()
	}
}
