package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/settle-go/settle/ledger"
)

func count(t testing.TB, l *ledger.Ledger, query string, args ...any) int {
	t.Helper()
	var n int
	if err := l.DB().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostIdempotency(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	in := ledger.Transfer("order-1", alice, bob, dec("1.50"), "order 1")
	in.Metadata = map[string]any{"order": "1", "n": 2}
	first, err := l.Post(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	same := ledger.Transfer("order-1", alice, bob, dec("1.5"), "order 1") // 1.50 == 1.5
	same.Metadata = map[string]any{"n": 2, "order": "1"}
	again, err := l.Post(ctx, same)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || len(again.Postings) != 2 || again.Postings[0].ID != first.Postings[0].ID ||
		!again.Postings[1].BalanceAfter.Equal(first.Postings[1].BalanceAfter) || again.IdempotencyKey != "order-1" {
		t.Fatalf("replay %+v\nfirst %+v", again, first)
	}
	if n := count(t, l, "SELECT COUNT(*) FROM ledger_entries WHERE idempotency_key = 'order-1'"); n != 1 {
		t.Fatalf("%d entries", n)
	}
	wantBalance(t, l, bob, "1.5", "0", "1.5")

	for _, diff := range []ledger.EntryInput{
		ledger.Transfer("order-1", alice, bob, dec("2"), "order 1"),
		ledger.Transfer("order-1", alice, bob, dec("1.5"), "order one"),
		ledger.Transfer("order-1", bob, alice, dec("1.5"), "order 1"),
	} {
		if _, err := l.Post(ctx, diff); !errors.Is(err, ledger.ErrIdempotencyConflict) {
			t.Fatalf("different request under the key: %v", err)
		}
	}
	// A replay returns the first entry even when the request could no longer be posted.
	mustPost(t, l, ledger.Transfer("", alice, world, dec("98.5"), "drain"))
	if e, err := l.Post(ctx, same); err != nil || e.ID != first.ID {
		t.Fatalf("replay after drain: %v", err)
	}
	mustVerify(t, l)
}

func TestHoldAndCaptureIdempotency(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	in := ledger.HoldInput{IdempotencyKey: "payout:1", Debit: alice, Credit: world, Amount: dec("10.0"),
		Metadata: map[string]any{"payout_id": "1"}}
	h1, err := l.Hold(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Amount = dec("10")
	h2, err := l.Hold(ctx, in)
	if err != nil || h2.ID != h1.ID || h2.IdempotencyKey != "payout:1" {
		t.Fatalf("hold replay: %v %+v", err, h2)
	}
	wantBalance(t, l, alice, "100", "10", "90")

	c1, e1, err := l.Capture(ctx, h1.ID, dec("0"), "capture:1")
	if err != nil {
		t.Fatal(err)
	}
	c2, e2, err := l.Capture(ctx, h1.ID, dec("0"), "capture:1")
	if err != nil || e2.ID != e1.ID || c2.Status != ledger.HoldCaptured || c2.EntryID != c1.EntryID {
		t.Fatalf("capture replay: %v %+v %+v", err, c2, e2)
	}
	if _, _, err := l.Capture(ctx, h1.ID, dec("10"), "capture:1"); err != nil {
		t.Fatalf("capture replay with the explicit full amount: %v", err)
	}
	if _, _, err := l.Capture(ctx, h1.ID, dec("5"), "capture:1"); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("capture with other amount under the key: %v", err)
	}
	if _, _, err := l.Capture(ctx, h1.ID, dec("0"), "capture:2"); !errors.Is(err, ledger.ErrHoldNotPending) {
		t.Fatalf("capture with a new key: %v", err)
	}
	wantBalance(t, l, alice, "90", "0", "90")
	// The hold key replays the (now captured) hold.
	if h3, err := l.Hold(ctx, in); err != nil || h3.ID != h1.ID || h3.Status != ledger.HoldCaptured {
		t.Fatalf("hold replay after capture: %v %+v", err, h3)
	}
	mustVerify(t, l)
}

func TestConcurrentSameKey(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	const n = 50
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		entries = map[string]int{}
		holds   = map[string]int{}
		errs    []error
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err1 := l.Post(ctx, ledger.Transfer("same-key", alice, bob, dec("1"), "once"))
			h, err2 := l.Hold(ctx, ledger.HoldInput{IdempotencyKey: "same-hold", Debit: alice, Credit: world, Amount: dec("2")})
			mu.Lock()
			defer mu.Unlock()
			if err := errors.Join(err1, err2); err != nil {
				errs = append(errs, err)
				return
			}
			entries[e.ID]++
			holds[h.ID]++
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}
	if len(entries) != 1 || len(holds) != 1 {
		t.Fatalf("entries %v holds %v, want one of each", entries, holds)
	}
	if c := count(t, l, "SELECT COUNT(*) FROM ledger_entries WHERE idempotency_key = 'same-key'"); c != 1 {
		t.Fatalf("%d entries stored", c)
	}
	wantBalance(t, l, alice, "99", "2", "97")

	var hold string
	for id := range holds {
		hold = id
	}
	captures := map[string]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, e, err := l.Capture(ctx, hold, dec("0"), "same-capture")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			captures[e.ID]++
		}()
	}
	wg.Wait()
	if len(errs) > 0 || len(captures) != 1 {
		t.Fatalf("captures %v errors %v", captures, errs)
	}
	wantBalance(t, l, alice, "97", "0", "97")
	mustVerify(t, l)
}

// Different keys for different requests racing on one account: each posts once.
func TestConcurrentDistinctKeys(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		for r := 0; r < 3; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.Post(ctx, ledger.Transfer(fmt.Sprintf("k%d", i), alice, bob, dec("1"), "")); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantBalance(t, l, bob, "20", "0", "20")
	mustVerify(t, l)
}
