package perf

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/theonestack/visitor/cloud/store"
)

// Ceilings measures the machine's raw limits the product's figures are
// compared with: durable SQLite commits per second (WAL, synchronous=FULL,
// one row per transaction) and WebSocket round trips per second on
// loopback.
func Ceilings(ctx context.Context, dir string, size Size) ([]Result, error) {
	commits, err := sqliteCommits(ctx, filepath.Join(dir, "ceiling.db"), size.CeilingSeconds)
	if err != nil {
		return nil, err
	}
	rtt, err := wsRoundTrips(size.CeilingSeconds)
	if err != nil {
		return nil, err
	}
	return []Result{
		{"ceiling_sqlite_durable_commits_per_s", commits, "commits/s"},
		{"ceiling_ws_roundtrips_per_s", rtt, "roundtrips/s"},
	}, nil
}

func sqliteCommits(ctx context.Context, path string, seconds float64) (float64, error) {
	db, err := sql.Open("sqlite", store.SQLiteDSN(path, false))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	start, n := time.Now(), 0
	for time.Now().Before(deadline) {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, "0123456789abcdef0123456789abcdef"); err != nil {
			return 0, fmt.Errorf("commit: %w", err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func wsRoundTrips(seconds float64) (float64, error) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msg := []byte(strings.Repeat("x", 300))
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	start, n := time.Now(), 0
	for time.Now().Before(deadline) {
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return 0, err
		}
		if _, _, err := c.ReadMessage(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
