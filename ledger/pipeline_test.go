package ledger_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/ledger"
)

// pgLedger returns a migrated ledger on a fresh PostgreSQL database opened with the DSN parameter
// param (such as "default_query_exec_mode=cache_statement"; "" for none) added to
// its DSN, with USDT and the accounts world (unlimited), alice and bob (NoOverdraft), alice funded
// with 100. It skips without PostgreSQL.
func pgLedger(t *testing.T, param string) *ledger.Ledger {
	t.Helper()
	if os.Getenv(dbtest.EnvPostgresDSN) == "" {
		t.Skipf("%s is not set: PostgreSQL-only test skipped (CI runs it)", dbtest.EnvPostgresDSN)
	}
	ctx := context.Background()
	dsn := dbtest.DSN(t)
	if param != "" {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + param
	}
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := ledger.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(db, ledger.Config{})
	if err := l.EnsureAsset(ctx, ledger.Asset{Code: "USDT", Precision: 6}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []ledger.AccountSpec{
		{Code: world, Asset: "USDT", Normal: ledger.Debit},
		{Code: alice, Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft},
		{Code: bob, Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft},
	} {
		if _, err := l.EnsureAccount(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	mustPost(t, l, ledger.Transfer("", world, alice, dec("100"), "funding"))
	return l
}

// exercise runs writes that succeed, fail their checks, replay or conflict, and checks their
// outcomes; then no connection of the pool may be left inside a transaction.
func exercise(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	ctx := context.Background()
	e := mustPost(t, l, ledger.Transfer("k1", alice, bob, dec("10"), ""))
	if again := mustPost(t, l, ledger.Transfer("k1", alice, bob, dec("10"), "")); again.ID != e.ID {
		t.Fatalf("replay gave %s, want %s", again.ID, e.ID)
	}
	if _, err := l.Post(ctx, ledger.Transfer("k1", alice, bob, dec("11"), "")); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("reused key: %v", err)
	}
	if _, err := l.Post(ctx, ledger.Transfer("", alice, bob, dec("1000"), "")); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("overdraft: %v", err)
	}
	if _, err := l.Post(ctx, ledger.Transfer("", alice, "nobody:USDT", dec("1"), "")); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := l.Reverse(ctx, e.ID, ledger.ReverseInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reverse(ctx, e.ID, ledger.ReverseInput{}); !errors.Is(err, ledger.ErrAlreadyReversed) {
		t.Fatalf("second reversal: %v", err)
	}
	res, err := l.PostBatch(ctx, []ledger.EntryInput{
		ledger.Transfer("k1", alice, bob, dec("10"), ""), // replay of e
		ledger.Transfer("k2", alice, bob, dec("5"), ""),
		ledger.Transfer("", alice, bob, dec("1000"), ""),
	}, ledger.Independent)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Entry.ID != e.ID || res[1].Err != nil || !errors.Is(res[2].Err, ledger.ErrInsufficientFunds) {
		t.Fatalf("batch results %+v", res)
	}
	wantBalance(t, l, alice, "95", "0", "95")
	wantBalance(t, l, bob, "5", "0", "5")
	mustVerify(t, l)
	var open int
	if err := l.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
	WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Fatalf("%d pooled connections left inside a transaction", open)
	}
}

// TestPipelinedTransactions runs the ledger's writes with BEGIN and COMMIT riding on their
// statements (the default with database.Open's simple protocol).
func TestPipelinedTransactions(t *testing.T) {
	exercise(t, pgLedger(t, ""))
}

// TestUnpipelinedTransactions runs the same writes on a driver configured for the extended
// protocol, which refuses multi-statement queries: the ledger falls back to ordinary transactions.
func TestUnpipelinedTransactions(t *testing.T) {
	exercise(t, pgLedger(t, "default_query_exec_mode=cache_statement"))
}
