package ledger

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"
)

// runTx runs fn in a transaction of its own on db and commits it. A transaction that fails with a
// transient conflict (PostgreSQL serialization failure or deadlock, SQLite busy or locked) is rolled
// back and retried from the start, a bounded number of times with a small jittered backoff; fn must
// therefore keep no state between attempts.
func (l *Ledger) runTx(ctx context.Context, db *bun.DB, fn func(ctx context.Context, tx bun.IDB) error) error {
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
		if err == nil || !retryable(err) || attempt >= l.maxTry || ctx.Err() != nil {
			return err
		}
		l.log.LogAttrs(ctx, slog.LevelDebug, "ledger: retrying transaction after a transient conflict",
			slog.Int("attempt", attempt), slog.String("error", err.Error()))
		wait := backoff/2 + rand.N(backoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

// retryable reports whether err is a transient conflict worth retrying the whole transaction for:
// SQLSTATE 40001 (serialization_failure) or 40P01 (deadlock_detected) on PostgreSQL,
// SQLITE_BUSY (5) or SQLITE_LOCKED (6), including extended codes, on SQLite.
func retryable(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "40001", "40P01":
			return true
		}
		return false
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case 5, 6:
			return true
		}
	}
	return false
}
