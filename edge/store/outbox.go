package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/theonestack/visitor/syncproto"
)

// Meta keys of the sync state.
const (
	MetaOutboxSeq    = "outbox_seq"     // last sequence number allocated
	MetaCursor       = "down_cursor"    // down-feed cursor, with the data it covers
	MetaLastAckedSeq = "last_acked_seq" // highest seq the cloud acknowledged
	MetaLastSyncAt   = "last_sync_at"   // last successful handshake or exchange, RFC 3339
)

// Outbox op states.
const (
	OpPending  = "pending"
	OpAcked    = "acked"
	OpRejected = "rejected"
)

// timeLayout is the text form of timestamps in the database (UTC).
const timeLayout = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTS(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// OpEnv is what every op written in a transaction records about the
// moment it was made: the device wall clock, the boot and the monotonic
// reading within that boot, and a source of op ids (UUIDs).
type OpEnv struct {
	Now    time.Time
	BootID string
	MonoMs int64
	NewID  func() (string, error)
}

// AppendOp allocates the next sequence number and writes one outbox op in
// tx. Sequence numbers are gapless: the counter lives in meta and moves in
// the same (IMMEDIATE, hence serialised) transaction as the op, so a
// rolled-back transaction allocates nothing. It returns the op's seq.
func AppendOp(ctx context.Context, tx *sql.Tx, env OpEnv, kind string, payload any) (int64, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("encode %s payload: %w", kind, err)
	}
	if len(body) > syncproto.MaxOpPayload {
		return 0, fmt.Errorf("%s payload is %d bytes, above %d", kind, len(body), syncproto.MaxOpPayload)
	}
	opID, err := env.NewID()
	if err != nil {
		return 0, fmt.Errorf("op id: %w", err)
	}
	var last int64
	var s string
	err = tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, MetaOutboxSeq).Scan(&s)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, fmt.Errorf("read outbox seq: %w", err)
	default:
		if last, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, fmt.Errorf("outbox seq %q: %w", s, err)
		}
	}
	seq := last + 1
	if err := SetMeta(ctx, tx, MetaOutboxSeq, strconv.FormatInt(seq, 10)); err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (seq, op_id, kind, payload, time, boot_id, mono_ms, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, seq, opID, kind, string(body), ts(env.Now), env.BootID, env.MonoMs, OpPending)
	if err != nil {
		return 0, fmt.Errorf("insert op %d: %w", seq, err)
	}
	return seq, nil
}

// OpsFrom returns up to limit outbox ops with seq ≥ from, in seq order,
// whatever their state (the cloud may ask for a resend after a gap). Each
// op carries the offset measured for its boot, when known.
func (db *DB) OpsFrom(ctx context.Context, from int64, limit int) ([]syncproto.Op, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT o.seq, o.op_id, o.kind, o.payload, o.time, o.boot_id, o.mono_ms, b.offset_ms
		FROM outbox o LEFT JOIN boot_offsets b ON b.boot_id = o.boot_id
		WHERE o.seq >= ? ORDER BY o.seq LIMIT ?`, from, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var ops []syncproto.Op
	for rows.Next() {
		var op syncproto.Op
		var payload, at string
		var offset sql.NullInt64
		if err := rows.Scan(&op.Seq, &op.OpID, &op.Kind, &payload, &at, &op.BootID, &op.MonoMs, &offset); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		t, err := parseTS(at)
		if err != nil {
			return nil, fmt.Errorf("op %d time: %w", op.Seq, err)
		}
		op.TimeMs = t.UnixMilli()
		op.Payload = json.RawMessage(payload)
		if offset.Valid {
			op.OffsetMs = &offset.Int64
		}
		if len(ops) > 0 && op.Seq != ops[len(ops)-1].Seq+1 {
			break // never send a batch with a hole; the cloud would report a gap
		}
		ops = append(ops, op)
	}
	return ops, rows.Err()
}

// ApplyAck records an ack in one transaction: rejected ops get their code
// and reason (and count as done), every pending op ≤ upTo becomes acked,
// and the highest acked seq is kept. It is idempotent, so a repeated or
// overlapping ack changes nothing.
func (db *DB) ApplyAck(ctx context.Context, upTo int64, results []syncproto.OpResult) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		for _, r := range results {
			if r.Status != syncproto.StatusRejected {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, code = ?, reason = ? WHERE seq = ? AND state <> ?`,
				OpRejected, r.Code, r.Reason, r.Seq, OpRejected); err != nil {
				return fmt.Errorf("reject op %d: %w", r.Seq, err)
			}
		}
		return ackUpTo(ctx, tx, upTo)
	})
}

func ackUpTo(ctx context.Context, tx *sql.Tx, upTo int64) error {
	if upTo <= 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ? WHERE seq <= ? AND state = ?`, OpAcked, upTo, OpPending); err != nil {
		return fmt.Errorf("ack ops up to %d: %w", upTo, err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)`,
		MetaLastAckedSeq, strconv.FormatInt(upTo, 10))
	if err != nil {
		return fmt.Errorf("record last acked seq: %w", err)
	}
	return nil
}

// AckUpTo marks every pending op ≤ upTo acked: the cloud's welcome says it
// has durably applied them (an ack lost with a connection).
func (db *DB) AckUpTo(ctx context.Context, upTo int64) error {
	return db.Write(ctx, func(tx *sql.Tx) error { return ackUpTo(ctx, tx, upTo) })
}

// LastAckedSeq returns the highest seq the cloud acknowledged, 0 if none.
func (db *DB) LastAckedSeq(ctx context.Context) (int64, error) {
	s, err := db.Meta(ctx, MetaLastAckedSeq)
	if err != nil || s == "" {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// OutboxCounts returns the number of ops not yet acknowledged and the
// number the cloud rejected.
func (db *DB) OutboxCounts(ctx context.Context) (pending, rejected int64, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'rejected'), 0) FROM outbox`).Scan(&pending, &rejected)
	if err != nil {
		return 0, 0, fmt.Errorf("count outbox: %w", err)
	}
	return pending, rejected, nil
}

// SetBootOffset records the measured server−device clock offset of a boot;
// ops of that boot carry it so the cloud can correct their times.
func (db *DB) SetBootOffset(ctx context.Context, bootID string, offset time.Duration) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO boot_offsets (boot_id, offset_ms) VALUES (?, ?)
			ON CONFLICT (boot_id) DO UPDATE SET offset_ms = excluded.offset_ms`, bootID, offset.Milliseconds())
		if err != nil {
			return fmt.Errorf("record boot offset: %w", err)
		}
		return nil
	})
}

// SetLastSync records when the kiosk last talked to the cloud.
func (db *DB) SetLastSync(ctx context.Context, at time.Time) error {
	return db.Write(ctx, func(tx *sql.Tx) error { return SetMeta(ctx, tx, MetaLastSyncAt, at.UTC().Format(time.RFC3339Nano)) })
}

// LastSync returns when the kiosk last talked to the cloud (zero if never).
func (db *DB) LastSync(ctx context.Context) (time.Time, error) {
	s, err := db.Meta(ctx, MetaLastSyncAt)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, s)
}
