package merchants

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/settle-go/settle/internal/database"
)

// Migrate creates or upgrades the package's tables (merchants, merchant_api_keys) on PostgreSQL
// or SQLite. It is versioned (table settle_merchants_migrations) and safe to call on every start.
// Errors: the failing step's error.
func Migrate(ctx context.Context, db *bun.DB) error {
	ms := migrate.NewMigrations()
	ms.Add(database.Step("20261121020000", "merchants_initial", func(ctx context.Context, tx bun.IDB) error {
		return database.Exec(ctx, tx, initialSchema(database.IsPostgres(tx))...)
	}))
	return database.Migrate(ctx, db, "merchants", ms)
}

func initialSchema(pg bool) []string {
	ts := "TIMESTAMP" // bun writes UTC text of one fixed layout on SQLite
	if pg {
		ts = "TIMESTAMPTZ"
	}
	return []string{
		`CREATE TABLE merchants (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL,
			created_at ` + ts + ` NOT NULL
		)`,
		`CREATE TABLE merchant_api_keys (
			id TEXT PRIMARY KEY,
			merchant_id TEXT NOT NULL REFERENCES merchants (id),
			mode TEXT NOT NULL CHECK (mode IN ('live', 'test')),
			prefix TEXT NOT NULL,
			key_hash TEXT NOT NULL,
			created_at ` + ts + ` NOT NULL,
			revoked_at ` + ts + `,
			last_used_at ` + ts + `
		)`,
		`CREATE UNIQUE INDEX merchant_api_keys_hash ON merchant_api_keys (key_hash)`,
		`CREATE INDEX merchant_api_keys_merchant ON merchant_api_keys (merchant_id, mode, created_at)`,
	}
}
