package webhooks

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/settle-go/settle/internal/database"
)

// Migrate creates or upgrades the package's tables (webhook_endpoints, webhook_events,
// webhook_deliveries, webhook_attempts) on PostgreSQL or SQLite. It is versioned (table
// settle_webhooks_migrations) and safe to call on every start. Errors: the failing step's error.
func Migrate(ctx context.Context, db *bun.DB) error {
	ms := migrate.NewMigrations()
	ms.Add(database.Step("20261121010000", "webhooks_initial", func(ctx context.Context, tx bun.IDB) error {
		return database.Exec(ctx, tx, initialSchema(database.IsPostgres(tx))...)
	}))
	return database.Migrate(ctx, db, "webhooks", ms)
}

func initialSchema(pg bool) []string {
	// Times are timestamptz on PostgreSQL. On SQLite bun writes them as UTC text of one fixed
	// layout, which orders correctly as text.
	ts, js := "TIMESTAMP", "TEXT"
	if pg {
		ts, js = "TIMESTAMPTZ", "JSON" // json keeps the marshalled text byte for byte
	}
	return []string{
		`CREATE TABLE webhook_endpoints (
			merchant_id TEXT PRIMARY KEY,
			url TEXT NOT NULL,
			secret TEXT NOT NULL,
			previous_secret TEXT,
			previous_secret_expires_at ` + ts + `,
			created_at ` + ts + ` NOT NULL,
			updated_at ` + ts + ` NOT NULL
		)`,
		`CREATE TABLE webhook_events (
			id TEXT PRIMARY KEY,
			merchant_id TEXT NOT NULL,
			type TEXT NOT NULL,
			data ` + js + ` NOT NULL,
			dedup_key TEXT,
			created_at ` + ts + ` NOT NULL
		)`,
		// NULL keys never conflict, on both stores.
		`CREATE UNIQUE INDEX webhook_events_dedup_key ON webhook_events (merchant_id, dedup_key)`,
		`CREATE INDEX webhook_events_merchant_created ON webhook_events (merchant_id, created_at)`,
		`CREATE TABLE webhook_deliveries (
			id TEXT PRIMARY KEY,
			event_id TEXT NOT NULL UNIQUE REFERENCES webhook_events (id),
			merchant_id TEXT NOT NULL,
			event_type TEXT NOT NULL,
			status TEXT NOT NULL CHECK (status IN ('pending', 'success', 'failed')),
			attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
			next_attempt_at ` + ts + ` NOT NULL,
			lease_token TEXT,
			last_attempt_at ` + ts + `,
			last_status_code INTEGER,
			last_error TEXT,
			delivered_at ` + ts + `,
			created_at ` + ts + ` NOT NULL,
			updated_at ` + ts + ` NOT NULL
		)`,
		`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
		`CREATE INDEX webhook_deliveries_merchant_created ON webhook_deliveries (merchant_id, created_at)`,
		`CREATE TABLE webhook_attempts (
			id TEXT PRIMARY KEY,
			delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
			number INTEGER NOT NULL CHECK (number >= 1),
			url TEXT NOT NULL,
			attempted_at ` + ts + ` NOT NULL,
			status_code INTEGER,
			duration_ms BIGINT NOT NULL,
			error TEXT,
			response_body TEXT,
			UNIQUE (delivery_id, number)
		)`,
	}
}
