// Package ledger is settle's double-entry ledger: assets, accounts, immutable journal entries and
// their postings with running balances, reversals (Reverse), holds (two-phase transfers), balances
// now and in the past (BalanceAt, BalanceAsOf), filtered and paged history (History, Entries), a
// hash chain that makes the journal tamper-evident (Entry.Hash, Checkpoint, VerifyCheckpoint) and
// an invariant check (Verify), all in its own ledger_ tables on PostgreSQL or SQLite.
//
// Amounts are decimal.Decimal at the API and exact integers in base units inside and in storage;
// an amount with more fractional digits than its asset allows is refused (ErrInvalidAmount), never
// rounded. Every write validates first and writes nothing when it fails. Each write method has a
// ...Tx variant that runs inside the caller's transaction, so that a flow can write its own rows, the
// ledger entry and its outbox event in one database transaction.
//
// Concurrency: a write locks the balance rows of the accounts it touches in one statement, in id
// order (SELECT … FOR UPDATE on PostgreSQL), so opposite transfers cannot deadlock; SQLite
// serializes writers. A caller that posts several entries in one transaction of its own should touch
// accounts in a consistent order too, or be ready to retry on a deadlock. Transactions passed to the
// ...Tx methods on PostgreSQL should use READ COMMITTED, its default: under REPEATABLE READ or
// SERIALIZABLE a concurrent write to the same accounts makes the caller's transaction fail with a
// serialization error, which the caller must retry. The ledger's own transactions retry such
// transient conflicts (and SQLite's busy errors) by themselves.
//
// Throughput: on PostgreSQL a transaction of the ledger's own takes two round trips, BEGIN riding
// on the lock and COMMIT on the write (see pipeline.go). PostBatch posts many entries in one
// transaction, locking the union of their accounts once (same order) and writing them in one
// statement; Config.GroupCommit makes Post gather concurrent callers' entries into such batches
// (one commit for many entries, which matters most on a hot account whose row lock is otherwise
// held across every commit's flush).
package ledger

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
)

// Config configures a Ledger. The zero value is usable.
type Config struct {
	// Logger receives the ledger's few log lines (retries, expired holds). Default: discard.
	Logger *slog.Logger
	// Now returns the current time; tests inject a clock. Default: time.Now.
	Now func() time.Time
	// GroupCommit, when Enabled, makes Post hand its entry to a committer goroutine that gathers
	// concurrent callers' entries and commits them together with PostBatch(Independent): one
	// database transaction (one flush, one round of row locks) for many entries, which raises
	// throughput when many goroutines post at once, above all on a hot account. Each caller gets
	// its own result, and an entry that fails its checks fails alone; a transaction-level error
	// (retries exhausted, commit failure) fails every entry of that batch, and none of them is
	// written. PostTx and the other methods are unaffected. Call Close when done. Default: off.
	GroupCommit GroupCommitConfig
}

// Ledger is the double-entry ledger on one database. It is safe for concurrent use.
type Ledger struct {
	db     *bun.DB
	log    *slog.Logger
	nowFn  func() time.Time
	isPG   bool
	maxTry int
	gc     *committer    // nil unless Config.GroupCommit.Enabled
	closed atomic.Bool   // set by Close
	pipe   pipeline      // whether transactions can be pipelined (see pipeline.go)
	writer chan struct{} // SQLite: one token, the turn to write (see writerTurn)
	// precisions caches each asset's precision (string → int32; see precision).
	precisions sync.Map
}

// New returns a Ledger on db, which must have been migrated with Migrate. With
// Config.GroupCommit enabled it starts the committer goroutine, which Close stops.
func New(db *bun.DB, cfg Config) *Ledger {
	l := &Ledger{db: db, log: cfg.Logger, nowFn: cfg.Now, maxTry: 8, writer: make(chan struct{}, 1)}
	if l.log == nil {
		l.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if l.nowFn == nil {
		l.nowFn = time.Now
	}
	l.isPG = database.IsPostgres(db)
	if cfg.GroupCommit.Enabled {
		l.gc = newCommitter(l, cfg.GroupCommit)
	}
	return l
}

// DB returns the database the ledger writes to, for callers that open a transaction and pass it
// to the ...Tx methods.
func (l *Ledger) DB() *bun.DB { return l.db }

// now returns the injected clock's time in UTC, truncated to the microsecond that both stores keep.
func (l *Ledger) now() time.Time { return l.nowFn().UTC().Truncate(time.Microsecond) }

// write runs fn in the caller's transaction tx, or, when tx is a *bun.DB (no transaction), in a
// transaction of the ledger's own on that database with retries.
func (l *Ledger) write(ctx context.Context, tx bun.IDB, fn func(ctx context.Context, tx bun.IDB) error) error {
	if db, ok := tx.(*bun.DB); ok {
		return l.runTx(ctx, db, fn)
	}
	if tx == nil {
		return l.runTx(ctx, l.db, fn)
	}
	return fn(ctx, tx)
}
