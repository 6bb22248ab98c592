package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/theonestack/visitor/syncproto"
)

// insertTable describes the single-row INSERT of one table: the columns,
// the row's value tuple (placeholders and literals) and how many
// placeholders it has. A rowBatch writes many such rows in one statement.
type insertTable struct {
	name, cols, tuple, suffix string
	params                    int
}

// Tables whose rows a kiosk check-in writes, in the order a batch writes
// them (the order one check-in writes them in).
const (
	tblVisits = iota
	tblVisitEvents
	tblSearchTerms
	tblChanges
	tblOutbox
	tblAudit
	numBulkTables
)

// insertTables is an immutable table of the rows above.
var insertTables = [numBulkTables]insertTable{
	tblVisits:      {name: "visits", cols: visitColumns, tuple: tuple(24, ""), params: 24},
	tblVisitEvents: {name: "visit_events", cols: "id, tenant_id, visit_id, type, at, source, actor_id, device_id, device_seq, data", tuple: tuple(9, "'{}'"), params: 9},
	tblSearchTerms: {name: "search_terms", cols: "tenant_id, kind, ref_id, term", tuple: tuple(4, ""), params: 4, suffix: " ON CONFLICT DO NOTHING"},
	tblChanges:     {name: "changes", cols: "tenant_id, location_id, entity, entity_id, op, data, at", tuple: tuple(7, ""), params: 7},
	tblOutbox:      {name: "outbox", cols: "id, tenant_id, type, subject, time, data, next_attempt_at", tuple: tuple(7, ""), params: 7},
	tblAudit:       {name: "audit_log", cols: "id, tenant_id, at, actor_type, actor_id, action, subject, details, dedupe_key", tuple: tuple(8, "NULL"), params: 8},
}

// tuple is "(?, ?, …)" with n placeholders, then the literals if any.
func tuple(n int, literals string) string {
	s := placeholders(n)
	if literals != "" {
		s += ", " + literals
	}
	return "(" + s + ")"
}

// statement is the INSERT of rows rows of t.
func (t *insertTable) statement(rows int) string {
	var b strings.Builder
	b.Grow(len(t.name) + len(t.cols) + rows*(len(t.tuple)+2) + len(t.suffix) + 32)
	b.WriteString("INSERT INTO ")
	b.WriteString(t.name)
	b.WriteString(" (")
	b.WriteString(t.cols)
	b.WriteString(") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.tuple)
	}
	b.WriteString(t.suffix)
	return b.String()
}

// maxBulkParams bounds the placeholders of one multi-row INSERT, under
// SQLite's 32,766 and PostgreSQL's 65,535.
const maxBulkParams = 30000

// maxBulkRows bounds the rows of one multi-row INSERT (a power of two),
// which bounds the memory of the statements kept prepared.
const maxBulkRows = 512

// rowBatch buffers new rows of a batch of kiosk check-ins, to be written
// as one multi-row INSERT per table (a few when they are many) instead of
// one statement per row. Rows of a table keep the order they were added
// in, so identity and autoincrement seqs (changes, outbox, visit events)
// follow op order on both engines.
type rowBatch struct {
	args [numBulkTables][]any
	rows [numBulkTables]int
	// owners maps the visit ids of the batch's check-ins that exist (in
	// the database before the batch, or applied by it) to their tenant.
	owners map[string]string
	// payloads holds the decoded payloads of the check-ins the batch
	// writes in bulk, by seq.
	payloads map[int64]syncproto.CheckInPayload
}

// insertRow writes one row of table t now, or adds it to b when b is set.
func (tx *Tx) insertRow(ctx context.Context, b *rowBatch, t int, args ...any) error {
	if b != nil {
		b.args[t] = append(b.args[t], args...)
		b.rows[t]++
		return nil
	}
	_, err := tx.exec(ctx, insertTables[t].statement(1), args...)
	return err
}

// flush writes the buffered rows, table by table in insertTables order.
// Chunks are powers of two in size, so a few statement texts serve every
// batch (prepared once per transaction on SQLite, cached by pgx).
func (b *rowBatch) flush(ctx context.Context, tx *Tx) error {
	for t := range insertTables {
		it := &insertTables[t]
		maxRows := 1
		for maxRows < maxBulkRows && maxRows*2*it.params <= maxBulkParams {
			maxRows *= 2
		}
		args, rows := b.args[t], b.rows[t]
		for rows > 0 {
			n := maxRows
			for n > rows {
				n /= 2
			}
			if _, err := tx.execShared(ctx, it.statement(n), args[:n*it.params]...); err != nil {
				return fmt.Errorf("insert %s: %w", it.name, err)
			}
			args, rows = args[n*it.params:], rows-n
		}
		clear(b.args[t])
		b.args[t], b.rows[t] = b.args[t][:0], 0
	}
	return nil
}

// newRowBatch prepares the bulk writing of the check-ins among ops: it
// decodes their payloads and reads, in one query per 500, which of their
// visit ids exist. Check-ins with a pre-registration or an invite code,
// and ops whose payload does not decode, are left to the one-op path.
func (tx *Tx) newRowBatch(ctx context.Context, ops []syncproto.Op) (*rowBatch, error) {
	b := &rowBatch{owners: map[string]string{}, payloads: map[int64]syncproto.CheckInPayload{}}
	var ids []string
	for _, op := range ops {
		if op.Kind != syncproto.KindVisitCheckIn || len(op.Payload) == 0 {
			continue
		}
		var p syncproto.CheckInPayload
		if err := json.Unmarshal(op.Payload, &p); err != nil {
			continue
		}
		// Every check-in's id is looked up: one with a pre-registration,
		// applied alone, may repeat the visit id of a bulk one.
		ids = append(ids, p.VisitID)
		if p.PreregistrationID == "" && p.InviteCode == "" {
			b.payloads[op.Seq] = p
		}
	}
	for _, chunk := range chunks(ids, 500) {
		rows, err := tx.query(ctx, `SELECT id, tenant_id FROM visits WHERE id IN (`+placeholders(len(chunk))+`)`, anys(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("look up visits: %w", err)
		}
		for rows.Next() {
			var id, tenant string
			if err := rows.Scan(&id, &tenant); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up visits: %w", err)
			}
			b.owners[id] = tenant
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("look up visits: %w", err)
		}
	}
	return b, nil
}

// pending reports whether b holds rows not yet written.
func (b *rowBatch) pending() bool {
	for _, n := range b.rows {
		if n > 0 {
			return true
		}
	}
	return false
}

// applyBulkCheckIn applies a check-in op whose payload b decoded, adding
// its rows to b. Like an unguarded applyOneOp, a poison op returns
// errNeedSavepoints (it has added nothing to b then).
func (tx *Tx) applyBulkCheckIn(ctx context.Context, d syncDevice, op syncproto.Op, anchor syncproto.Anchor, b *rowBatch) (syncproto.OpResult, error) {
	r := syncproto.OpResult{Seq: op.Seq, OpID: op.OpID, Status: syncproto.StatusApplied}
	at, uncertain := opTime(op, anchor, tx.db.now().UTC())
	p := b.payloads[op.Seq]
	err := tx.kioskCheckIn(ctx, d, op, p, at, uncertain, Actor{Type: ActorDevice, ID: d.id}, b)
	if err == nil {
		b.owners[p.VisitID] = d.tenantID
	}
	return unguardedResult(r, err)
}

// payload returns the decoded payload of the check-in op seq when b
// writes it in bulk; a nil b writes nothing in bulk.
func (b *rowBatch) payload(seq int64) (syncproto.CheckInPayload, bool) {
	if b == nil {
		return syncproto.CheckInPayload{}, false
	}
	p, ok := b.payloads[seq]
	return p, ok
}

// flushIfPending writes b's buffered rows, if any. A row the database
// refuses (a unique violation: a visit id inserted meanwhile by another
// transaction) makes the batch run again op by op with savepoints.
func (b *rowBatch) flushIfPending(ctx context.Context, tx *Tx) error {
	if b == nil || !b.pending() {
		return nil
	}
	err := b.flush(ctx, tx)
	if _, _, poisoned := poisonOf(err); poisoned {
		return errNeedSavepoints
	}
	return err
}

// stmtCache holds statements prepared on the writer pool, by text. A
// transaction cannot prepare on the pool (SQLite's writer pool has its
// one connection), so a text missed in a transaction is noted and
// prepared after it ends.
type stmtCache struct {
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	missed map[string]bool
}

// lookup returns the statement for q if prepared, else notes q as missed.
func (c *stmtCache) lookup(q string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[q]
	if !ok {
		if c.missed == nil {
			c.missed = map[string]bool{}
		}
		c.missed[q] = true
	}
	return st, ok
}

// prepareMissed prepares on w the statements missed so far. Called with
// no transaction open on w by the caller.
func (c *stmtCache) prepareMissed(ctx context.Context, w *sql.DB) error {
	c.mu.Lock()
	var qs []string
	for q := range c.missed {
		qs = append(qs, q)
	}
	c.missed = nil
	c.mu.Unlock()
	for _, q := range qs {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare bulk insert: %w", err)
		}
		c.mu.Lock()
		if c.stmts == nil {
			c.stmts = map[string]*sql.Stmt{}
		}
		if old, ok := c.stmts[q]; ok {
			old.Close()
		}
		c.stmts[q] = st
		c.mu.Unlock()
	}
	return nil
}

// close releases the statements.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for _, st := range c.stmts {
		err = errors.Join(err, st.Close())
	}
	c.stmts = nil
	return err
}

// execShared is exec for a statement of a bounded set run in many
// transactions: on SQLite, once prepared on the writer connection, it is
// reused by every transaction (database/sql prepares it again if that
// connection is ever replaced).
func (tx *Tx) execShared(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if tx.db.dialect != SQLite {
		return tx.exec(ctx, q, args...)
	}
	if st, ok := tx.stmts[q]; ok {
		return st.ExecContext(ctx, args...)
	}
	shared, ok := tx.db.bulkStmts.lookup(q)
	if !ok {
		return tx.exec(ctx, q, args...)
	}
	st := tx.tx.StmtContext(ctx, shared)
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[q] = st
	return st.ExecContext(ctx, args...)
}
