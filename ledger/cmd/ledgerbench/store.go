package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
)

// sqlitePath returns the file an SQLite DSN names, as database.Open reads it.
func sqlitePath(dsn string) string {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return path
}

// dbSize returns the database's size in bytes: pg_database_size on PostgreSQL; on SQLite the
// main file plus its -wal file, after a best-effort TRUNCATE checkpoint so that the WAL's
// high-water mark does not count.
func dbSize(ctx context.Context, db *bun.DB, dsn string) (int64, error) {
	if database.IsPostgres(db) {
		var n int64
		err := db.QueryRowContext(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
		return n, err
	}
	_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	path := sqlitePath(dsn)
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += st.Size()
	}
	return total, nil
}

// hasLedgerData reports whether db already holds ledger accounts or entries.
func hasLedgerData(ctx context.Context, db *bun.DB) (bool, error) {
	for _, table := range []string{"ledger_accounts", "ledger_entries"} {
		var exists bool
		var err error
		if database.IsPostgres(db) {
			err = db.QueryRowContext(ctx, "SELECT to_regclass(?) IS NOT NULL", table).Scan(&exists)
		} else {
			err = db.QueryRowContext(ctx,
				"SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)", table).Scan(&exists)
		}
		if err != nil {
			return false, fmt.Errorf("look for %s: %w", table, err)
		}
		if !exists {
			continue
		}
		var rows bool
		if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+")").Scan(&rows); err != nil {
			return false, fmt.Errorf("look into %s: %w", table, err)
		}
		if rows {
			return true, nil
		}
	}
	return false, nil
}
