package ledger

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
)

// runTx runs fn in a transaction of its own on db and commits it, running it again from the start
// after a transient conflict (database.RunInTx), at most l.maxTry times; fn must therefore keep no
// state between attempts.
//
// On the ledger's own PostgreSQL database the transaction is pipelined (runPiped) when the driver
// allows it.
func (l *Ledger) runTx(ctx context.Context, db *bun.DB, fn func(ctx context.Context, tx bun.IDB) error) error {
	if db == l.db && l.pipelined(ctx) {
		return l.runPiped(ctx, fn)
	}
	return database.RunInTx(ctx, db, l.maxTry, l.log, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
}

// retryable reports whether err is a transient conflict; see database.Retryable.
func retryable(err error) bool { return database.Retryable(err) }
