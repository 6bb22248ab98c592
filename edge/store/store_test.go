package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/syncproto"
)

func TestOpenSetsDurablePragmas(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	var sync int
	if err := db.Read().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := db.Read().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}

func TestMetaSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *sql.Tx) error { return store.SetMeta(ctx, tx, "cursor", "42") }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Meta(ctx, "cursor"); err != nil || v != "42" {
		t.Errorf("cursor after reopen = %q, %v", v, err)
	}
	if v, err := db.Meta(ctx, "missing"); err != nil || v != "" {
		t.Errorf("missing key = %q, %v", v, err)
	}
}

func TestCorruptDatabaseIsMovedAside(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	// A file that is not a database at all, and one whose pages are damaged.
	for name, damage := range map[string]func(){
		"garbage": func() { os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600) },
		"damaged pages": func() {
			db, err := store.Open(ctx, dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db.Write(ctx, func(tx *sql.Tx) error {
				for i := 0; i < 500; i++ {
					if err := store.SetMeta(ctx, tx, strings.Repeat("k", 50)+string(rune('a'+i%26))+time.Duration(i).String(), strings.Repeat("v", 200)); err != nil {
						return err
					}
				}
				return nil
			})
			db.Close()
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			f.WriteAt(bytes.Repeat([]byte{0xA5}, 8192), 4096)
			f.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			os.RemoveAll(dir)
			os.MkdirAll(dir, 0o700)
			damage()
			var logs bytes.Buffer
			db, err := store.Open(ctx, dir, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("open after damage: %v", err)
			}
			defer db.Close()
			if !strings.Contains(logs.String(), "integrity check") {
				t.Errorf("no log line about the damaged file: %s", logs.String())
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) == 0 {
				t.Error("damaged file was not kept")
			}
			if err := db.Write(ctx, func(tx *sql.Tx) error { return store.SetMeta(ctx, tx, "k", "v") }); err != nil {
				t.Errorf("new database not writable: %v", err)
			}
		})
	}
}

func TestApplyChangesIsAtomicWithCursor(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	items := []syncproto.Change{
		{Entity: syncproto.EntityHost, ID: "h1", Op: syncproto.ChangeUpsert, Data: json.RawMessage(`{"name":"Ada","active":true}`)},
		{Entity: syncproto.EntityHost, ID: "h2", Op: syncproto.ChangeUpsert, Data: json.RawMessage(`{"name":2}`)},
	}
	if err := db.ApplyChanges(ctx, items, "c1"); err == nil {
		t.Fatal("a broken item was applied")
	}
	var n int
	db.Read().QueryRowContext(ctx, `SELECT count(*) FROM hosts`).Scan(&n)
	if cur, _ := db.Cursor(ctx); n != 0 || cur != "" {
		t.Errorf("after a failed frame: %d hosts, cursor %q; want none of it", n, cur)
	}
	if err := db.ApplyChanges(ctx, items[:1], "c1"); err != nil {
		t.Fatal(err)
	}
	db.Read().QueryRowContext(ctx, `SELECT count(*) FROM hosts`).Scan(&n)
	if cur, _ := db.Cursor(ctx); n != 1 || cur != "c1" {
		t.Errorf("after a good frame: %d hosts, cursor %q", n, cur)
	}
}

func TestVisitStateFromTheCloudNeverReopens(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	state := func(status string, out int64) syncproto.Change {
		raw, _ := json.Marshal(syncproto.VisitState{ID: "v1", LocationID: "loc", Visitor: syncproto.PersonPayload{Name: "Desk Dora"},
			Status: status, CheckedInMs: at.UnixMilli(), CheckedOutMs: out})
		return syncproto.Change{Entity: syncproto.EntityVisit, ID: "v1", Op: syncproto.ChangeUpsert, Data: raw}
	}
	status := func() string {
		var s string
		if err := db.Read().QueryRowContext(ctx, `SELECT status FROM visits WHERE id = 'v1'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		change syncproto.Change
		want   string
	}{
		{state("checked_in", 0), "checked_in"},                               // a staff check-in appears
		{state("checked_out", at.Add(time.Hour).UnixMilli()), "checked_out"}, // a console check-out ends it
		{state("checked_in", 0), "checked_out"},                              // a stale state never reopens it
		{syncproto.Change{Entity: syncproto.EntityVisit, ID: "v1", Op: syncproto.ChangeDelete}, "checked_out"},
	}
	for i, st := range steps {
		if err := db.ApplyChanges(ctx, []syncproto.Change{st.change}, fmt.Sprintf("c1.%d", i+1)); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != st.want {
			t.Errorf("step %d: status %s, want %s", i, got, st.want)
		}
	}
}
