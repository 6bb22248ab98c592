// Package store is the cloud's storage: one implementation over
// database/sql that runs unchanged on SQLite (modernc, the embedded
// default) and on PostgreSQL (pgx), chosen by DATABASE_URL.
//
// Every public method runs in its own transaction and takes the tenant id
// as an explicit argument, taken by the caller from the session, key or
// device — never from a request body. Queries are written once in portable
// SQL with ? placeholders, rebound to $n for PostgreSQL.
//
// Timestamps are stored as fixed-width UTC text (see timeLayout) so that
// they order and compare identically on both engines.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/theonestack/visitor"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Dialect names a database engine.
type Dialect string

// Supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the cloud store. It is safe for concurrent use.
type DB struct {
	dialect Dialect
	// w runs every write transaction; r serves reads. On SQLite w holds a
	// single connection so writers queue in Go instead of spinning on
	// SQLITE_BUSY, while readers proceed in parallel under WAL. On
	// PostgreSQL both are the same pool.
	w, r  *sql.DB
	now   func() time.Time
	newID func() string
	log   *slog.Logger
	url   string
	// bulkStmts keeps the multi-row INSERTs of bulk apply prepared on
	// SQLite's one writer connection across transactions: a statement of
	// hundreds of rows costs more to compile than to run. Their texts are
	// a bounded set (see rowBatch.flush).
	bulkStmts *stmtCache
	// bulkApplyOff makes ApplyOps write each check-in's rows op by op
	// (tests compare both ways).
	bulkApplyOff bool
}

// Options are optional settings of Open; the zero value works.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives migration and maintenance logs; nil discards them.
	Logger *slog.Logger
	// MaxOpenConns bounds the PostgreSQL pool (default 20).
	MaxOpenConns int
	// NewID makes record ids; nil means UUIDv7, which sort by creation time.
	NewID func() string
}

// ParseURL checks a DATABASE_URL and returns its dialect and the
// driver-level data source. Accepted: "sqlite:PATH" (also sqlite://PATH,
// sqlite::memory: is refused: the cloud's data must survive a restart) and
// postgres:// or postgresql:// URLs.
func ParseURL(databaseURL string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		u, err := url.Parse(databaseURL)
		if err != nil || u.Host == "" {
			return "", "", fmt.Errorf("not a valid postgres:// URL")
		}
		return Postgres, databaseURL, nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" || path == ":memory:" {
			return "", "", fmt.Errorf("sqlite: needs a file path, as in sqlite:./var/cloud.db")
		}
		return SQLite, path, nil
	}
	return "", "", fmt.Errorf("must start with sqlite: or postgres://")
}

// SQLiteDSN returns the modernc data source for a file with the pragmas the
// product relies on: WAL, synchronous=FULL (a commit survives power loss),
// a busy timeout, foreign keys, and BEGIN IMMEDIATE for transactions.
func SQLiteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// 64 MiB of page cache for the one writer connection, so a batch
		// of kiosk ops does not spill pages to the WAL before it commits.
		q.Add("_pragma", "cache_size(-65536)")
		// Temporary files in memory: each applied kiosk op runs in its own
		// SAVEPOINT (so a poison op rolls back alone), and SQLite copies
		// every page a savepoint first touches to a sub-journal; on disk
		// that was a third of the apply time. It is scratch state that a
		// crash discards anyway; durability comes from the WAL.
		q.Add("_pragma", "temp_store(2)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open connects to the database named by databaseURL and applies the
// embedded migrations. For SQLite it creates the file's directory.
func Open(ctx context.Context, databaseURL string, opts Options) (*DB, error) {
	dialect, source, err := ParseURL(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	db := &DB{dialect: dialect, now: opts.Now, newID: opts.NewID, log: opts.Logger, url: databaseURL, bulkStmts: &stmtCache{}}
	if db.now == nil {
		db.now = time.Now
	}
	if db.newID == nil {
		db.newID = newUUIDv7
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	switch dialect {
	case SQLite:
		if dir := filepath.Dir(source); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		if db.w, err = sql.Open("sqlite", SQLiteDSN(source, false)); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.w.SetMaxOpenConns(1)
		db.w.SetConnMaxIdleTime(0)
		// The writer connection switches the file to WAL before any
		// read-only connection opens it.
		if err := db.w.PingContext(ctx); err != nil {
			db.w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", source, err)
		}
		if db.r, err = sql.Open("sqlite", SQLiteDSN(source, true)); err != nil {
			db.w.Close()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.r.SetMaxOpenConns(8)
	case Postgres:
		if db.w, err = sql.Open("pgx", source); err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		n := opts.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		db.w.SetMaxOpenConns(n)
		db.w.SetMaxIdleConns(n)
		db.r = db.w
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies the embedded migrations not yet applied. On PostgreSQL a
// session advisory lock makes concurrent instances take turns.
func (db *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(db.dialect))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.w, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		db.log.Info("migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Dialect reports the engine in use.
func (db *DB) Dialect() Dialect { return db.dialect }

// Now returns the store's clock reading.
func (db *DB) Now() time.Time { return db.now() }

// Ping checks that the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close releases the connections.
func (db *DB) Close() error {
	err := db.bulkStmts.close()
	if db.r != nil && db.r != db.w {
		err = db.r.Close()
	}
	if db.w != nil {
		err = errors.Join(err, db.w.Close())
	}
	return err
}

// SQL returns the writer pool, for PostgreSQL-only features (LISTEN/NOTIFY,
// advisory locks) and tests. Ordinary callers use the store's methods.
func (db *DB) SQL() *sql.DB { return db.w }

// Tx is a transaction with placeholder rebinding. On SQLite it keeps each
// distinct statement prepared for the rest of the transaction: applying a
// batch of kiosk ops runs the same dozen statements hundreds of times, and
// modernc's driver would otherwise parse each one every time. (pgx keeps
// its own per-connection statement cache.)
type Tx struct {
	tx    *sql.Tx
	db    *DB
	stmts map[string]*sql.Stmt
	// lookups, when set, remembers locations and hosts read in this
	// transaction. Only a transaction that never changes them (a sync
	// batch) turns it on.
	lookups *lookupCache
}

// lookupCache holds rows read once per transaction.
type lookupCache struct {
	locations map[string]visitor.Location
	hosts     map[string]visitor.Host
}

// prepared returns the statement for q, prepared once per transaction on
// SQLite; nil on PostgreSQL.
func (tx *Tx) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if tx.db.dialect != SQLite {
		return nil, nil
	}
	if st, ok := tx.stmts[q]; ok {
		return st, nil
	}
	st, err := tx.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[q] = st
	return st, nil
}

// close releases the transaction's prepared statements.
func (tx *Tx) close() {
	for _, st := range tx.stmts {
		st.Close()
	}
	tx.stmts = nil
}

// write runs fn in a write transaction and commits it.
func (db *DB) write(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer sqlTx.Rollback()
	tx := &Tx{tx: sqlTx, db: db}
	defer tx.close()
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = tx.db.rebind(q)
	if st, err := tx.prepared(ctx, q); err != nil {
		return nil, err
	} else if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, q, args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = tx.db.rebind(q)
	if st, err := tx.prepared(ctx, q); err != nil {
		return nil, err
	} else if st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, q, args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = tx.db.rebind(q)
	if st, err := tx.prepared(ctx, q); err == nil && st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, q, args...)
}

// query and queryRow on the read pool, outside any write transaction.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.r.QueryContext(ctx, db.rebind(q), args...)
}

func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.r.QueryRowContext(ctx, db.rebind(q), args...)
}

// newUUIDv7 returns a time-ordered UUID. uuid.NewV7 fails only when the
// system's random source does, which the process cannot survive anyway.
func newUUIDv7() string {
	return uuid.Must(uuid.NewV7()).String()
}

// rebind turns ? placeholders into $1, $2… for PostgreSQL. Queries in this
// package never contain a literal question mark.
func (db *DB) rebind(q string) string {
	if db.dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// timeLayout is the stored form of every timestamp: UTC, microseconds,
// fixed width, so text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ts encodes t for storage; the zero time becomes NULL.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// tsText encodes t as text, never NULL (for NOT NULL columns).
func tsText(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime scans a nullable timestamp column.
type nullTime struct{ t *time.Time }

func (n nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.t = time.Time{}
		return nil
	case string:
		return n.parse(v)
	case []byte:
		return n.parse(string(v))
	case time.Time:
		*n.t = v.UTC()
		return nil
	}
	return fmt.Errorf("timestamp: unexpected %T", src)
}

func (n nullTime) parse(s string) error {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, err)
	}
	*n.t = t
	return nil
}

// tm wraps a *time.Time destination for Scan.
func tm(t *time.Time) nullTime { return nullTime{t} }

// boolInt stores a bool as 0 or 1, the portable form.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// notFound maps sql.ErrNoRows to an ENOTFOUND error naming what was missing.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return visitor.Errorf(visitor.ENOTFOUND, "%s not found", what)
	}
	return err
}

// isUniqueViolation reports whether err is a unique-constraint failure on
// either engine.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") // PostgreSQL unique_violation
}

// page limits: DESIGN.md pins a default of 100 and a maximum of 1000.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// clampLimit applies the default and maximum page size.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}
