package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/dbtest"
)

func TestRunTxRetriesTransientConflicts(t *testing.T) {
	ctx := context.Background()
	l := New(dbtest.OpenSQLite(t), Config{})
	calls := 0
	err := l.runTx(ctx, l.db, func(ctx context.Context, tx bun.IDB) error {
		calls++
		if calls < 3 {
			return fakePG("40P01")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("runTx = %v after %d calls, want success after 3", err, calls)
	}

	calls = 0
	err = l.runTx(ctx, l.db, func(ctx context.Context, tx bun.IDB) error { calls++; return fakeLite(5) })
	if !errors.Is(err, fakeLite(5)) || calls != l.maxTry {
		t.Fatalf("runTx = %v after %d calls, want busy after %d", err, calls, l.maxTry)
	}

	calls = 0
	err = l.runTx(ctx, l.db, func(ctx context.Context, tx bun.IDB) error { calls++; return ErrInsufficientFunds })
	if !errors.Is(err, ErrInsufficientFunds) || calls != 1 {
		t.Fatalf("runTx = %v after %d calls, want no retry", err, calls)
	}
}
