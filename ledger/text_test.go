package ledger_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settle-go/settle/ledger"
)

// TestUnstorableTextFailsAlone: neither store can hold a NUL character, and PostgreSQL cannot index
// an idempotency key of several kilobytes. Such an entry is refused with ErrInvalidEntry before
// any write; caught by the database instead, it failed every other entry of its
// PostBatch(Independent) and, with group commit, every other caller's Post in its batch (found by
// review: before the fix, 3 to 10 of 10 valid Posts failed).
func TestUnstorableTextFailsAlone(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)

	if _, err := l.Post(ctx, ledger.Transfer("", world, bob, dec("1"), "a\x00b")); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Errorf("Post with a NUL in its description: %v; want ErrInvalidEntry", err)
	}
	if _, err := l.Post(ctx, ledger.Transfer("k\x00", world, bob, dec("1"), "")); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Errorf("Post with a NUL in its idempotency key: %v; want ErrInvalidEntry", err)
	}
	if _, err := l.Post(ctx, ledger.Transfer(strings.Repeat("k", ledger.MaxKeyBytes+1), world, bob, dec("1"), "")); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Errorf("Post with a %d-byte idempotency key: %v; want ErrInvalidEntry", ledger.MaxKeyBytes+1, err)
	}
	if _, err := l.Post(ctx, ledger.Transfer(strings.Repeat("k", ledger.MaxKeyBytes), world, bob, dec("1"), "")); err != nil {
		t.Errorf("Post with a %d-byte idempotency key: %v", ledger.MaxKeyBytes, err)
	}
	nested := ledger.Transfer("", world, bob, dec("1"), "")
	nested.Metadata = map[string]any{"order": map[string]any{"lines": []any{"ok", "bad\x00"}}}
	if _, err := l.Post(ctx, nested); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Errorf("Post with a NUL deep in its metadata: %v; want ErrInvalidEntry", err)
	}
	if _, err := l.Hold(ctx, ledger.HoldInput{Debit: alice, Credit: bob, Amount: dec("1"), Description: "x\x00"}); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Errorf("Hold with a NUL in its description: %v; want ErrInvalidEntry", err)
	}
	if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "meta:nul", Asset: "USDT", Normal: ledger.Credit,
		Metadata: map[string]any{"k\x00": 1}}); !errors.Is(err, ledger.ErrInvalidAccount) {
		t.Errorf("EnsureAccount with a NUL in a metadata key: %v; want ErrInvalidAccount", err)
	}
	b := mustBalance(t, l, bob)
	if !b.Posted.Equal(dec("1")) {
		t.Errorf("bob's balance after one valid post: %s; the refused ones must write nothing", b.Posted)
	}

	res, err := l.PostBatch(ctx, []ledger.EntryInput{
		ledger.Transfer("", world, bob, dec("1"), "fine"),
		ledger.Transfer("", world, bob, dec("1"), "a\x00b"),
	}, ledger.Independent)
	if err != nil {
		t.Errorf("Independent batch failed as a whole because of entry 1's description: %v", err)
	} else {
		if res[0].Err != nil {
			t.Errorf("entry 0 of the Independent batch: %v", res[0].Err)
		}
		if !errors.Is(res[1].Err, ledger.ErrInvalidEntry) {
			t.Errorf("entry 1 of the Independent batch: %v; want ErrInvalidEntry", res[1].Err)
		}
	}

	g := ledger.New(l.DB(), ledger.Config{GroupCommit: ledger.GroupCommitConfig{Enabled: true, Window: 500 * time.Millisecond}})
	defer g.Close()
	// The committer batches the callers that are inside Post together; a few rounds make it
	// (near) certain that the NUL entry shares a batch with valid ones.
	const good = 10
	failed, rounds := 0, 0
	var first error
	for ; rounds < 5 && failed == 0; rounds++ {
		errs := make([]error, good)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < good; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = g.Post(ctx, ledger.Transfer("", world, bob, dec("1"), "fine"))
			}()
		}
		var evil error
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, evil = g.Post(ctx, ledger.Transfer("", world, bob, dec("1"), "evil\x00"))
		}()
		close(start)
		wg.Wait()
		if !errors.Is(evil, ledger.ErrInvalidEntry) {
			t.Errorf("group commit: the NUL entry: %v; want ErrInvalidEntry", evil)
		}
		for _, err := range errs {
			if err != nil {
				failed++
				first = err
			}
		}
	}
	if failed > 0 {
		t.Errorf("group commit: %d valid Posts (in %d rounds of %d) failed because another caller's entry had a NUL: %v",
			failed, rounds, good, first)
	}
}
