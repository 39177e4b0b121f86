package ledger_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/ledger"
)

func TestReverse(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t) // alice has 100
	orig := mustPost(t, l, ledger.EntryInput{
		Description: "split",
		Postings: []ledger.PostingInput{
			{Account: alice, Direction: ledger.Debit, Amount: dec("30")},
			{Account: bob, Direction: ledger.Credit, Amount: dec("25")},
			{Account: world, Direction: ledger.Credit, Amount: dec("5")},
		},
	})
	wantBalance(t, l, alice, "70", "0", "70")
	rev, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{IdempotencyKey: "rev-1", Description: "refund",
		Metadata: map[string]any{"reason": "dispute"}})
	if err != nil {
		t.Fatal(err)
	}
	if rev.Reverses != orig.ID || rev.ID == orig.ID || rev.Description != "refund" || rev.IdempotencyKey != "rev-1" ||
		rev.Metadata["reason"] != "dispute" || len(rev.Postings) != 3 {
		t.Fatalf("reversal %+v", rev)
	}
	for i, p := range rev.Postings {
		o := orig.Postings[i]
		if p.Account != o.Account || !p.Amount.Equal(o.Amount) || p.Direction == o.Direction || p.EntryID != rev.ID {
			t.Fatalf("posting %d: %+v mirrors %+v badly", i, p, o)
		}
	}
	wantBalance(t, l, alice, "100", "0", "100")
	wantBalance(t, l, bob, "0", "0", "0")
	wantBalance(t, l, world, "100", "0", "100")

	got, err := l.Entry(ctx, orig.ID)
	if err != nil || got.ReversedBy != rev.ID || got.Reverses != "" {
		t.Fatalf("original after reversal: %+v, %v", got, err)
	}
	gotRev, err := l.Entry(ctx, rev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotRev, rev) {
		t.Fatalf("Entry(reversal) = %+v\nReverse() = %+v", gotRev, rev)
	}
	// The same key and request returns the first reversal.
	again, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{IdempotencyKey: "rev-1", Description: "refund",
		Metadata: map[string]any{"reason": "dispute"}})
	if err != nil || again.ID != rev.ID {
		t.Fatalf("replay: %+v, %v", again, err)
	}
	mustVerify(t, l)
}

func TestReverseErrors(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t) // alice has 100
	orig := mustPost(t, l, ledger.Transfer("", alice, bob, dec("40"), "pay bob"))
	rev, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	// bob spends what he got: reversing the funding of bob would overdraw him.
	spend := mustPost(t, l, ledger.Transfer("", world, bob, dec("10"), "fund bob"))
	mustPost(t, l, ledger.Transfer("", bob, alice, dec("10"), "bob pays"))
	other := mustPost(t, l, ledger.Transfer("", world, alice, dec("1"), ""))

	cases := []struct {
		name string
		act  func() error
		want error
	}{
		{"unknown entry", func() error { _, err := l.Reverse(ctx, "je_nope", ledger.ReverseInput{}); return err }, ledger.ErrNotFound},
		{"twice", func() error { _, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{}); return err }, ledger.ErrAlreadyReversed},
		{"twice, another key", func() error {
			_, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{IdempotencyKey: "k2"})
			return err
		}, ledger.ErrAlreadyReversed},
		{"reversal of reversal", func() error { _, err := l.Reverse(ctx, rev.ID, ledger.ReverseInput{}); return err }, ledger.ErrReversalOfReversal},
		{"overdraft", func() error { _, err := l.Reverse(ctx, spend.ID, ledger.ReverseInput{}); return err }, ledger.ErrInsufficientFunds},
		{"key reused for another entry", func() error {
			_, err := l.Reverse(ctx, other.ID, ledger.ReverseInput{IdempotencyKey: "k1"})
			return err
		}, ledger.ErrIdempotencyConflict},
		{"bad metadata", func() error {
			_, err := l.Reverse(ctx, other.ID, ledger.ReverseInput{Metadata: map[string]any{"f": func() {}}})
			return err
		}, ledger.ErrInvalidEntry},
		{"bad description", func() error {
			_, err := l.Reverse(ctx, other.ID, ledger.ReverseInput{Description: "\xff"})
			return err
		}, ledger.ErrInvalidEntry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, l)
			if err := c.act(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if after := snapshot(t, l); after != before {
				t.Fatalf("failed reversal wrote:\n%s\nwas:\n%s", after, before)
			}
		})
	}
	if got, err := l.Entry(ctx, spend.ID); err != nil || got.ReversedBy != "" {
		t.Fatalf("refused reversal linked: %+v, %v", got, err)
	}
	mustVerify(t, l)
}

// ReverseTx inside a caller's transaction rolls back with it, and then the entry can be reversed.
func TestReverseTxRollback(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	orig := mustPost(t, l, ledger.Transfer("", alice, bob, dec("40"), ""))
	before := snapshot(t, l)
	tx, err := l.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReverseTx(ctx, tx, orig.ID, ledger.ReverseInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReverseTx(ctx, tx, orig.ID, ledger.ReverseInput{}); !errors.Is(err, ledger.ErrAlreadyReversed) {
		t.Fatalf("second reversal in the same transaction: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if snapshot(t, l) != before {
		t.Fatal("rolled-back reversal left rows")
	}
	if _, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{}); err != nil {
		t.Fatal(err)
	}
	wantBalance(t, l, alice, "100", "0", "100")
	mustVerify(t, l)
}

// 20 goroutines reverse the same entry at once: exactly one reversal is posted, the others get
// ErrAlreadyReversed.
func TestConcurrentReverse(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	orig := mustPost(t, l, ledger.Transfer("", alice, bob, dec("40"), ""))
	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
		got   = make([]ledger.Entry, n)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = l.Reverse(ctx, orig.ID, ledger.ReverseInput{Description: "race"})
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			if got[i].Reverses != orig.ID {
				t.Fatalf("reversal %+v", got[i])
			}
		case errors.Is(err, ledger.ErrAlreadyReversed):
		default:
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d reversals succeeded, want 1", ok)
	}
	var count int
	if err := l.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger_entries WHERE reverses_entry_id = ?", orig.ID).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Fatalf("%d reversal rows", count)
	}
	wantBalance(t, l, alice, "100", "0", "100")
	wantBalance(t, l, bob, "0", "0", "0")
	mustVerify(t, l)
}

// The database refuses a second reversal row even if the ledger's own checks were bypassed.
func TestReversalUniqueIndex(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	orig := mustPost(t, l, ledger.Transfer("", alice, bob, dec("1"), ""))
	a := mustPost(t, l, ledger.Transfer("", alice, bob, dec("1"), ""))
	b := mustPost(t, l, ledger.Transfer("", alice, bob, dec("1"), ""))
	if _, err := l.DB().ExecContext(ctx, "UPDATE ledger_entries SET reverses_entry_id = ? WHERE id = ?", orig.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DB().ExecContext(ctx, "UPDATE ledger_entries SET reverses_entry_id = ? WHERE id = ?", orig.ID, b.ID); err == nil {
		t.Fatal("second reversal row accepted")
	}
}

// Verify reports a reversal whose postings do not mirror its original's.
func TestVerifyReversal(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	orig := mustPost(t, l, ledger.Transfer("", alice, bob, dec("10"), ""))
	if _, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, l)
	// Tamper: an ordinary entry claims to reverse another one it does not mirror.
	x := mustPost(t, l, ledger.Transfer("", alice, bob, dec("3"), ""))
	y := mustPost(t, l, ledger.Transfer("", alice, bob, dec("3"), ""))
	if _, err := l.DB().ExecContext(ctx, "UPDATE ledger_entries SET reverses_entry_id = ? WHERE id = ?", x.ID, y.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The edit changed y's content, so the hash chain reports it too.
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	if kinds[ledger.ProblemReversal] == 0 || kinds[ledger.ProblemChain] == 0 || len(kinds) != 2 {
		t.Fatalf("want reversal and hash_chain problems, got %+v", rep.Problems)
	}
}

// Verify reports a reversal of a reversal, even one whose postings mirror it.
func TestVerifyReversalOfReversal(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	e := mustPost(t, l, ledger.Transfer("", alice, bob, dec("10"), ""))
	r, err := l.Reverse(ctx, e.ID, ledger.ReverseInput{})
	if err != nil {
		t.Fatal(err)
	}
	f := mustPost(t, l, ledger.Transfer("", alice, bob, dec("10"), "")) // mirrors r
	if _, err := l.DB().ExecContext(ctx, "UPDATE ledger_entries SET reverses_entry_id = ? WHERE id = ?", r.ID, f.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The edit changed f's content, so the hash chain reports it too.
	if len(rep.Problems) != 2 || rep.Problems[0].Kind != ledger.ProblemReversal || rep.Problems[1].Kind != ledger.ProblemChain {
		t.Fatalf("problems %+v", rep.Problems)
	}
}

// TestConcurrentReverseSameKey: a client retries a Reverse (same key, same request) while the first
// call is still committing; the retry waits for the accounts' locks and must return the first
// reversal, not ErrAlreadyReversed. A trigger slows the first call's write so that the retry
// arrives in time (PostgreSQL only).
func TestConcurrentReverseSameKey(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	if !database.IsPostgres(l.DB()) {
		t.Skip("the slowing trigger is PostgreSQL's")
	}
	e := mustPost(t, l, ledger.Transfer("", alice, bob, dec("5"), ""))
	for _, q := range []string{
		`CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$`,
		`CREATE TRIGGER test_slow AFTER INSERT ON ledger_postings FOR EACH STATEMENT EXECUTE FUNCTION test_slow()`,
	} {
		if _, err := l.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	got := make([]ledger.Entry, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 100 * time.Millisecond) // the retry comes second
			got[i], errs[i] = l.Reverse(ctx, e.ID, ledger.ReverseInput{IdempotencyKey: "rev-1", Description: "undo"})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || got[0].ID != got[1].ID {
		t.Fatalf("first %s %v, retry %s %v: want one reversal for both", got[0].ID, errs[0], got[1].ID, errs[1])
	}
	mustVerify(t, l)
}
