package ledger

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/settle-go/settle/internal/database"
)

// Migrate creates or upgrades the ledger's tables (ledger_assets, ledger_accounts, ledger_entries,
// ledger_postings, ledger_holds). It is versioned and safe to call on every start. It does not create
// any asset: call EnsureAsset (for example with DefaultAssets) after it. Errors: the database's.
func Migrate(ctx context.Context, db *bun.DB) error {
	return database.Migrate(ctx, db, "ledger", migrations())
}

func migrations() *migrate.Migrations {
	ms := migrate.NewMigrations()
	ms.Add(database.Step("20261121000100", "ledger_tables", func(ctx context.Context, tx bun.IDB) error {
		return database.Exec(ctx, tx, schemaV1(database.IsPostgres(tx))...)
	}))
	ms.Add(database.Step("20261121000200", "ledger_reversals", func(ctx context.Context, tx bun.IDB) error {
		return database.Exec(ctx, tx, schemaV2()...)
	}))
	ms.Add(database.Step("20261121000300", "ledger_hash_chain", func(ctx context.Context, tx bun.IDB) error {
		if err := database.Exec(ctx, tx, schemaV3(database.IsPostgres(tx))...); err != nil {
			return err
		}
		return rechain(ctx, tx)
	}))
	ms.Add(database.Step("20261121000400", "ledger_pg_functions", func(ctx context.Context, tx bun.IDB) error {
		if !database.IsPostgres(tx) {
			return nil
		}
		return database.Exec(ctx, tx, pgFunctions()...)
	}))
	ms.Add(database.Step("20261121000500", "ledger_lean_indexes", func(ctx context.Context, tx bun.IDB) error {
		return database.Exec(ctx, tx, schemaV5(database.IsPostgres(tx))...)
	}))
	return ms
}

// schemaV1 is the first schema. Amounts are exact integers in base units: NUMERIC(78,0) on
// PostgreSQL (a uint256 fits), decimal text on SQLite. Times are TIMESTAMPTZ on PostgreSQL and
// fixed-width UTC text on SQLite (see dbTime).
func schemaV1(pg bool) []string {
	amount, signed, ts, jsonT, autoID, bigint := "TEXT", "TEXT", "TEXT", "TEXT", "INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"
	nonNeg := func(string) string { return "" }
	if pg {
		amount, signed, ts, jsonT, autoID, bigint = "NUMERIC(78,0)", "NUMERIC(78,0)", "TIMESTAMPTZ", "JSONB", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BIGINT"
		nonNeg = func(col string) string { return " CHECK (" + col + " >= 0)" }
	}
	r := strings.NewReplacer("{amount}", amount, "{signed}", signed, "{ts}", ts, "{json}", jsonT,
		"{autoid}", autoID, "{bigint}", bigint)
	stmts := []string{
		`CREATE TABLE ledger_assets (
	code TEXT PRIMARY KEY,
	precision INTEGER NOT NULL CHECK (precision >= 0 AND precision <= 30),
	created_at {ts} NOT NULL
)`,
		`CREATE TABLE ledger_accounts (
	id TEXT PRIMARY KEY,
	code TEXT NOT NULL UNIQUE,
	asset TEXT NOT NULL REFERENCES ledger_assets (code),
	normal TEXT NOT NULL CHECK (normal IN ('debit', 'credit')),
	flags {bigint} NOT NULL DEFAULT 0,
	metadata {json},
	debits_posted {amount} NOT NULL` + nonNeg("debits_posted") + `,
	credits_posted {amount} NOT NULL` + nonNeg("credits_posted") + `,
	debits_pending {amount} NOT NULL` + nonNeg("debits_pending") + `,
	credits_pending {amount} NOT NULL` + nonNeg("credits_pending") + `,
	seq {bigint} NOT NULL DEFAULT 0,
	created_at {ts} NOT NULL
)`,
		`CREATE TABLE ledger_entries (
	id TEXT PRIMARY KEY,
	idempotency_key TEXT UNIQUE,
	request_hash TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	metadata {json},
	created_at {ts} NOT NULL
)`,
		`CREATE TABLE ledger_postings (
	id {autoid},
	entry_id TEXT NOT NULL REFERENCES ledger_entries (id),
	account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
	seq {bigint} NOT NULL,
	direction TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
	amount {amount} NOT NULL` + nonNeg("amount") + `,
	balance_before {signed} NOT NULL,
	balance_after {signed} NOT NULL,
	created_at {ts} NOT NULL,
	UNIQUE (account_id, seq)
)`,
		`CREATE INDEX ledger_postings_account_id_idx ON ledger_postings (account_id, id)`,
		`CREATE INDEX ledger_postings_entry_idx ON ledger_postings (entry_id)`,
		`CREATE TABLE ledger_holds (
	id TEXT PRIMARY KEY,
	idempotency_key TEXT UNIQUE,
	request_hash TEXT NOT NULL,
	debit_account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
	credit_account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
	asset TEXT NOT NULL REFERENCES ledger_assets (code),
	amount {amount} NOT NULL` + nonNeg("amount") + `,
	captured {amount} NOT NULL` + nonNeg("captured") + `,
	status TEXT NOT NULL CHECK (status IN ('pending', 'captured', 'voided', 'expired')),
	expires_at {ts},
	available_before {signed} NOT NULL,
	available_after {signed} NOT NULL,
	entry_id TEXT REFERENCES ledger_entries (id),
	description TEXT NOT NULL DEFAULT '',
	metadata {json},
	created_at {ts} NOT NULL,
	updated_at {ts} NOT NULL
)`,
		`CREATE INDEX ledger_holds_status_idx ON ledger_holds (status, expires_at)`,
		`CREATE INDEX ledger_holds_debit_idx ON ledger_holds (debit_account_id, status)`,
		`CREATE INDEX ledger_holds_credit_idx ON ledger_holds (credit_account_id, status)`,
	}
	for i, s := range stmts {
		stmts[i] = r.Replace(s)
	}
	return stmts
}

// schemaV2 links a reversal to the entry it reverses. The UNIQUE index makes a second reversal of
// one entry fail even when two are posted at once (NULLs, the entries that reverse nothing, never
// conflict). The same statements serve both stores.
func schemaV2() []string {
	return []string{
		`ALTER TABLE ledger_entries ADD COLUMN reverses_entry_id TEXT REFERENCES ledger_entries (id)`,
		`CREATE UNIQUE INDEX ledger_entries_reverses_idx ON ledger_entries (reverses_entry_id)`,
	}
}

// schemaV3 adds the hash chain (see hashchain.go): each entry's hash, each posting's link to its
// account's previous head, and each account's head. NULL is "none": an account with no entry yet,
// a posting that is its account's first. The step then chains the entries written before it
// (rechain).
func schemaV3(pg bool) []string {
	blob := "BLOB"
	if pg {
		blob = "BYTEA"
	}
	return []string{
		`ALTER TABLE ledger_accounts ADD COLUMN head ` + blob,
		`ALTER TABLE ledger_entries ADD COLUMN hash ` + blob,
		`ALTER TABLE ledger_postings ADD COLUMN prev_hash ` + blob,
	}
}

// schemaV5 trims what every entry pays for. The unique index that allows one reversal per entry
// leaves out the entries that reverse nothing (nearly all). On PostgreSQL it drops the foreign keys
// of the entries and postings (postings to entries and to accounts, reversals to entries): each
// costs a lookup and a row lock per posting, about a sixth of a transfer's time in ledgerbench,
// while the ledger writes these rows only together, on locked accounts, and Verify checks every
// reference (an entry without postings, a posting without an entry or an account, a reversal of
// nothing). SQLite keeps them: there they cost little and dropping one means rebuilding the table.
func schemaV5(pg bool) []string {
	stmts := []string{
		`DROP INDEX ledger_entries_reverses_idx`,
		`CREATE UNIQUE INDEX ledger_entries_reverses_idx ON ledger_entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL`,
	}
	if pg {
		stmts = append(stmts,
			`ALTER TABLE ledger_postings DROP CONSTRAINT IF EXISTS ledger_postings_entry_id_fkey`,
			`ALTER TABLE ledger_postings DROP CONSTRAINT IF EXISTS ledger_postings_account_id_fkey`,
			`ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_reverses_entry_id_fkey`)
	}
	return stmts
}
