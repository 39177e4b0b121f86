package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/dbtest"
)

func TestMigrateIsRerunnable(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	ms := migrate.NewMigrations()
	runs := 0
	ms.Add(database.Step("20261121000001", "t_once", func(ctx context.Context, db bun.IDB) error {
		runs++
		return database.Exec(ctx, db, "CREATE TABLE t_once (id INTEGER PRIMARY KEY)")
	}))
	for i := 0; i < 3; i++ {
		if err := database.Migrate(ctx, db, "dbtest", ms); err != nil {
			t.Fatalf("migrate run %d: %v", i, err)
		}
	}
	if runs != 1 {
		t.Fatalf("migration ran %d times, want 1", runs)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t_once (id) VALUES (1)"); err != nil {
		t.Fatalf("table missing after migrate: %v", err)
	}
}

func TestOpenRejectsUnknownDSN(t *testing.T) {
	for _, dsn := range []string{"mysql://x", "sqlite::memory:", ""} {
		if _, err := database.Open(context.Background(), dsn); !errors.Is(err, database.ErrUnsupportedDSN) {
			t.Errorf("Open(%q) = %v, want ErrUnsupportedDSN", dsn, err)
		}
	}
}
