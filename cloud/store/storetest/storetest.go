// Package storetest opens real cloud stores for tests: SQLite in a
// temporary directory, and PostgreSQL in a fresh database on the server
// named by VISITOR_TEST_POSTGRES_URL (scripts/with-postgres starts one).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/internal/testenv"
	"os"
)

// PostgresEnv names the variable holding the administrator URL of the
// PostgreSQL server tests may create databases on.
const PostgresEnv = "VISITOR_TEST_POSTGRES_URL"

// Engine is a database engine a test runs on.
type Engine string

// The engines of the store suite.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Engines are the engines every store test runs on.
func Engines() []Engine { return []Engine{SQLite, Postgres} }

// URL returns a DATABASE_URL for a new, empty database on engine, removed
// when the test ends. For PostgreSQL without a server, the test is skipped
// (failed under CI=true).
func URL(t testing.TB, engine Engine) string {
	t.Helper()
	switch engine {
	case SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "cloud.db")
	case Postgres:
		return postgresURL(t)
	}
	t.Fatalf("unknown engine %q", engine)
	return ""
}

// Open opens a migrated store on a new database of engine, closed when the
// test ends. opts may set the clock and id source.
func Open(t testing.TB, engine Engine, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), URL(t, engine), opts)
	if err != nil {
		t.Fatalf("open %s store: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn as a subtest on every engine.
func Each(t *testing.T, fn func(t *testing.T, engine Engine)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

func postgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		testenv.Need(t, "PostgreSQL", "set "+PostgresEnv+" or run the tests with `make test`, which starts a throwaway server")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "visitor_test_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	u.Path = "/" + name
	return u.String()
}
