// Package dbtest gives each test a fresh, empty database: a SQLite file in the test's temporary
// directory by default, or, when SETTLE_TEST_POSTGRES_DSN is set, a new PostgreSQL database created
// on that server for the test and dropped after it.
package dbtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/ids"
)

// EnvPostgresDSN names the environment variable that switches tests to PostgreSQL, for example
// "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable". The database it names is used
// only to CREATE and DROP the per-test databases.
const EnvPostgresDSN = "SETTLE_TEST_POSTGRES_DSN"

// Open returns a fresh database for t: PostgreSQL if EnvPostgresDSN is set, else SQLite.
func Open(t testing.TB) *bun.DB {
	t.Helper()
	if dsn := os.Getenv(EnvPostgresDSN); dsn != "" {
		return openPostgres(t, dsn)
	}
	return OpenSQLite(t)
}

// DSN returns a DSN for a fresh database, created for t and dropped after it, in the same way as
// Open; for tests that start a child process or open their own pool.
func DSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(EnvPostgresDSN); dsn != "" {
		return createPostgres(t, dsn)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "settle.db")
}

// OpenSQLite returns a fresh SQLite database in t's temporary directory.
func OpenSQLite(t testing.TB) *bun.DB {
	t.Helper()
	return mustOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "settle.db"))
}

// Postgres returns a fresh PostgreSQL database, or skips t when EnvPostgresDSN is unset. CI sets it.
func Postgres(t testing.TB) *bun.DB {
	t.Helper()
	dsn := os.Getenv(EnvPostgresDSN)
	if dsn == "" {
		t.Skipf("%s is not set: PostgreSQL-only test skipped (CI runs it)", EnvPostgresDSN)
	}
	return openPostgres(t, dsn)
}

func openPostgres(t testing.TB, admin string) *bun.DB {
	t.Helper()
	return mustOpen(t, createPostgres(t, admin))
}

func createPostgres(t testing.TB, admin string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("dbtest: parse %s: %v", EnvPostgresDSN, err)
	}
	name := strings.ReplaceAll(ids.New("settle_test"), "-", "")
	adm, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("dbtest: open admin: %v", err)
	}
	defer adm.Close()
	if _, err := adm.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("dbtest: open admin for drop: %v", err)
			return
		}
		defer a.Close()
		if _, err := a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func mustOpen(t testing.TB, dsn string) *bun.DB {
	t.Helper()
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Name returns "postgres" or "sqlite" for db, for test and benchmark labels.
func Name(db bun.IDB) string {
	if database.IsPostgres(db) {
		return "postgres"
	}
	return "sqlite"
}
