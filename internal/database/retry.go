package database

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"
)

// DefaultTries is how many times RunInTx runs a transaction that keeps hitting transient
// conflicts before it returns the last error.
const DefaultTries = 8

// RunInTx runs fn in a transaction of its own on db and commits it. A transaction that fails with
// a transient conflict (PostgreSQL serialization failure or deadlock, SQLite busy or locked) is
// rolled back and run again from the start, at most tries times (0 means DefaultTries) with a
// small jittered backoff; fn must therefore keep no state between attempts. log may be nil.
func RunInTx(ctx context.Context, db *bun.DB, tries int, log *slog.Logger, fn func(ctx context.Context, tx bun.Tx) error) error {
	return Retry(ctx, tries, log, func() error { return db.RunInTx(ctx, nil, fn) })
}

// Retry runs attempt, which must run one whole transaction (and roll it back when it fails), until
// it succeeds or fails with an error that is not a transient conflict (Retryable), at most tries
// times (0 means DefaultTries), with a jittered backoff from 2 ms doubling up to 200 ms between
// tries, and not after ctx ends. It returns attempt's last error. log may be nil.
func Retry(ctx context.Context, tries int, log *slog.Logger, attempt func() error) error {
	if tries <= 0 {
		tries = DefaultTries
	}
	backoff := 2 * time.Millisecond
	for n := 1; ; n++ {
		err := attempt()
		if err == nil || !Retryable(err) || n >= tries || ctx.Err() != nil {
			return err
		}
		if log != nil {
			log.LogAttrs(ctx, slog.LevelDebug, "database: retrying transaction after a transient conflict",
				slog.Int("attempt", n), slog.String("error", err.Error()))
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff))
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

// Retryable reports whether err is a transient conflict worth running the whole transaction again
// for: SQLSTATE 40001 (serialization_failure) or 40P01 (deadlock_detected) on PostgreSQL,
// SQLITE_BUSY (5) or SQLITE_LOCKED (6), including extended codes, on SQLite.
func Retryable(err error) bool {
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
