package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/settle-go/settle/ledger"
)

// A write inside an open caller transaction keeps its accounts locked: an opposite transfer waits
// for the commit (row locks on PostgreSQL, the writer lock on SQLite), then sees its result.
func TestCallerTransactionHoldsAccountLocks(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	tx, err := l.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := l.PostTx(ctx, tx, ledger.Transfer("", alice, bob, dec("100"), "all of it")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Post(ctx, ledger.Transfer("", bob, alice, dec("60"), "back"))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("opposite transfer did not wait for the open transaction: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("opposite transfer after commit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("opposite transfer still blocked after commit")
	}
	wantBalance(t, l, alice, "60", "0", "60")
	wantBalance(t, l, bob, "40", "0", "40")
	mustVerify(t, l)
}
