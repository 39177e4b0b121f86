package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/ledger"
)

// checkChain checks that the postings of each account in entries number seq consecutively and
// chain their running balances, in the order given.
func checkChain(t *testing.T, entries []ledger.Entry) {
	t.Helper()
	type last struct {
		seq   int64
		after decimal.Decimal
	}
	seen := map[string]last{}
	for _, e := range entries {
		for _, p := range e.Postings {
			if l, ok := seen[p.Account]; ok {
				if p.Seq != l.seq+1 || !p.BalanceBefore.Equal(l.after) {
					t.Fatalf("entry %s: %s seq %d before %s follows seq %d after %s", e.ID, p.Account, p.Seq,
						p.BalanceBefore, l.seq, l.after)
				}
			}
			seen[p.Account] = last{p.Seq, p.BalanceAfter}
		}
	}
}

func samePosting(a, b ledger.Posting) bool {
	return a.ID == b.ID && a.EntryID == b.EntryID && a.Account == b.Account && a.Direction == b.Direction &&
		a.Amount.Equal(b.Amount) && a.Seq == b.Seq && a.BalanceBefore.Equal(b.BalanceBefore) &&
		a.BalanceAfter.Equal(b.BalanceAfter) && a.CreatedAt.Equal(b.CreatedAt)
}

func TestPostBatchAllOrNothing(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	before := snapshot(t, l)
	_, err := l.PostBatch(ctx, []ledger.EntryInput{
		ledger.Transfer("a1", world, alice, dec("10"), "in"),
		ledger.Transfer("a2", alice, bob, dec("1000"), "too much"),
		ledger.Transfer("a3", alice, bob, dec("5"), "out"),
	}, ledger.AllOrNothing)
	var be *ledger.BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("err = %v, want BatchError at 1 with ErrInsufficientFunds", err)
	}
	if got := snapshot(t, l); got != before {
		t.Fatalf("failed batch wrote:\n%s\nwant\n%s", got, before)
	}
	// A shape error is reported with its index too, before any database access.
	_, err = l.PostBatch(ctx, []ledger.EntryInput{
		ledger.Transfer("", world, alice, dec("1"), ""),
		{Postings: []ledger.PostingInput{{Account: alice, Direction: ledger.Debit, Amount: dec("1")}}},
	}, ledger.AllOrNothing)
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Fatalf("err = %v, want BatchError at 1 with ErrInvalidEntry", err)
	}
	if got := snapshot(t, l); got != before {
		t.Fatal("failed batch wrote")
	}
	res, err := l.PostBatch(ctx, []ledger.EntryInput{
		ledger.Transfer("a1", world, alice, dec("10"), "in"),
		ledger.Transfer("a3", alice, bob, dec("5"), "out"),
	}, ledger.AllOrNothing)
	if err != nil || len(res) != 2 || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("PostBatch = %+v, %v", res, err)
	}
	wantBalance(t, l, alice, "105", "0", "105")
	wantBalance(t, l, bob, "5", "0", "5")
	mustVerify(t, l)
	if res, err := l.PostBatch(ctx, nil, ledger.AllOrNothing); err != nil || len(res) != 0 {
		t.Fatalf("empty batch = %v, %v", res, err)
	}
	if _, err := l.PostBatch(ctx, res2Inputs(), ledger.BatchMode(7)); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Fatalf("unknown mode: %v", err)
	}
}

func res2Inputs() []ledger.EntryInput {
	return []ledger.EntryInput{ledger.Transfer("", world, alice, dec("1"), "")}
}

func TestPostBatchIndependent(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	res, err := l.PostBatch(ctx, []ledger.EntryInput{
		ledger.Transfer("i1", world, alice, dec("10"), "in"),
		ledger.Transfer("i2", alice, bob, dec("1000"), "too much"),
		ledger.Transfer("i3", alice, "nobody:USDT", dec("1"), "unknown account"),
		{Postings: []ledger.PostingInput{{Account: alice, Direction: ledger.Debit, Amount: dec("1")}}},
		{Postings: []ledger.PostingInput{ // unbalanced
			{Account: world, Direction: ledger.Debit, Amount: dec("2")},
			{Account: alice, Direction: ledger.Credit, Amount: dec("1")},
		}},
		ledger.Transfer("i6", alice, bob, dec("5"), "out"),
		ledger.Transfer("i7", bob, alice, dec("5.5"), "more than bob has"),
		ledger.Transfer("i8", bob, alice, dec("2"), "back"),
	}, ledger.Independent)
	if err != nil || len(res) != 8 {
		t.Fatalf("PostBatch: %v (%d results)", err, len(res))
	}
	for i, want := range []error{nil, ledger.ErrInsufficientFunds, ledger.ErrNotFound, ledger.ErrInvalidEntry,
		ledger.ErrUnbalanced, nil, ledger.ErrInsufficientFunds, nil} {
		if want == nil && res[i].Err != nil || want != nil && !errors.Is(res[i].Err, want) {
			t.Fatalf("result %d: %v, want %v", i, res[i].Err, want)
		}
		if want != nil && res[i].Entry.ID != "" {
			t.Fatalf("failed result %d has entry %s", i, res[i].Entry.ID)
		}
	}
	wantBalance(t, l, alice, "107", "0", "107")
	wantBalance(t, l, bob, "3", "0", "3")
	ok := []ledger.Entry{res[0].Entry, res[5].Entry, res[7].Entry}
	for _, e := range ok {
		got, err := l.Entry(ctx, e.ID)
		if err != nil || len(got.Postings) != 2 || !samePosting(got.Postings[0], e.Postings[0]) || !samePosting(got.Postings[1], e.Postings[1]) {
			t.Fatalf("stored %+v (%v), returned %+v", got, err, e)
		}
	}
	// alice: funding (seq 1, 0→100), +10 (seq 2), -5 (seq 3), +2 (seq 4).
	p := res[5].Entry.Postings[0]
	if p.Account != alice || p.Seq != 3 || !p.BalanceBefore.Equal(dec("110")) || !p.BalanceAfter.Equal(dec("105")) {
		t.Fatalf("alice posting of entry 5: %+v", p)
	}
	checkChain(t, ok)
	mustVerify(t, l)
}

func TestPostBatchSameKey(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	in := ledger.Transfer("k", alice, bob, dec("7"), "pay")
	res, err := l.PostBatch(ctx, []ledger.EntryInput{in, in, ledger.Transfer("k", alice, bob, dec("8"), "other")},
		ledger.Independent)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[1].Err != nil || res[1].Entry.ID != res[0].Entry.ID {
		t.Fatalf("same key twice: %+v / %+v", res[0], res[1])
	}
	if !errors.Is(res[2].Err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("same key, other request: %v", res[2].Err)
	}
	wantBalance(t, l, bob, "7", "0", "7")
	// Seen earlier: the first entry, from Post and from a later batch (both modes).
	if e, err := l.Post(ctx, in); err != nil || e.ID != res[0].Entry.ID {
		t.Fatalf("Post again: %s, %v", e.ID, err)
	}
	for _, mode := range []ledger.BatchMode{ledger.AllOrNothing, ledger.Independent} {
		again, err := l.PostBatch(ctx, []ledger.EntryInput{in}, mode)
		if err != nil || again[0].Err != nil || again[0].Entry.ID != res[0].Entry.ID || len(again[0].Entry.Postings) != 2 {
			t.Fatalf("mode %d again: %+v, %v", mode, again, err)
		}
	}
	_, err = l.PostBatch(ctx, []ledger.EntryInput{ledger.Transfer("k", alice, bob, dec("9"), "x")}, ledger.AllOrNothing)
	if !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("conflict in AllOrNothing: %v", err)
	}
	wantBalance(t, l, bob, "7", "0", "7")
	mustVerify(t, l)
}

// TestPostBatchSameKeyFirstFails: a key's first entry in the batch fails, which writes nothing and
// does not use the key (as with Post one at a time): a later identical entry is checked on its own
// and, after a top-up, written; a different request under the key then conflicts with it.
func TestPostBatchSameKeyFirstFails(t *testing.T) {
	l, _ := setup(t) // alice has 100
	ctx := context.Background()
	big := ledger.Transfer("k", alice, bob, dec("150"), "pay")
	res, err := l.PostBatch(ctx, []ledger.EntryInput{
		big,
		ledger.Transfer("", world, alice, dec("100"), "top up"),
		big,
		ledger.Transfer("k", alice, bob, dec("1"), "other"),
	}, ledger.Independent)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, ledger.ErrInsufficientFunds) || res[1].Err != nil || res[2].Err != nil ||
		!errors.Is(res[3].Err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("results %v / %v / %v / %v", res[0].Err, res[1].Err, res[2].Err, res[3].Err)
	}
	if e, err := l.Post(ctx, big); err != nil || e.ID != res[2].Entry.ID {
		t.Fatalf("replay after the batch: %s %v, want %s", e.ID, err, res[2].Entry.ID)
	}
	wantBalance(t, l, alice, "50", "0", "50")
	wantBalance(t, l, bob, "150", "0", "150")
	mustVerify(t, l)
}

func TestPostBatchHotAccount(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	var ins []ledger.EntryInput
	for i := range 300 {
		if i%3 == 2 {
			ins = append(ins, ledger.Transfer(fmt.Sprintf("h%d", i), bob, alice, dec("1.5"), "back"))
		} else {
			ins = append(ins, ledger.Transfer(fmt.Sprintf("h%d", i), alice, bob, dec("1"), "out"))
		}
	}
	res, err := l.PostBatch(ctx, ins, ledger.Independent)
	if err != nil {
		t.Fatal(err)
	}
	var es []ledger.Entry
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("entry %d: %v", i, r.Err)
		}
		es = append(es, r.Entry)
	}
	checkChain(t, es)
	// alice: 100 - 200×1 + 100×1.5 = 50; bob: 200 - 150 = 50.
	wantBalance(t, l, alice, "50", "0", "50")
	wantBalance(t, l, bob, "50", "0", "50")
	last := es[len(es)-1].Postings
	if last[0].Seq != 301 && last[1].Seq != 301 {
		t.Fatalf("last entry's seqs: %+v", last)
	}
	h, _, err := l.History(ctx, ledger.PostingFilter{Account: alice, Limit: 1000})
	if err != nil || len(h) != 301 {
		t.Fatalf("history: %d, %v", len(h), err)
	}
	// Overdraft within the batch: the running balance, not the starting one, decides.
	res, err = l.PostBatch(ctx, []ledger.EntryInput{
		ledger.Transfer("", alice, bob, dec("30"), ""),
		ledger.Transfer("", alice, bob, dec("30"), ""), // alice has 20 left
		ledger.Transfer("", alice, bob, dec("20"), ""),
	}, ledger.Independent)
	if err != nil || res[0].Err != nil || !errors.Is(res[1].Err, ledger.ErrInsufficientFunds) || res[2].Err != nil {
		t.Fatalf("running overdraft: %+v, %v", res, err)
	}
	wantBalance(t, l, alice, "0", "0", "0")
	mustVerify(t, l)
}

func TestPostBatchTx(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	tx, err := l.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.PostBatchTx(ctx, tx, []ledger.EntryInput{ledger.Transfer("", alice, bob, dec("1"), "")}, ledger.AllOrNothing)
	if err != nil || res[0].Err != nil {
		t.Fatal(res, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wantBalance(t, l, bob, "0", "0", "0")
	mustVerify(t, l)
}

// groupLedger returns a second Ledger on l's database with group commit on.
func groupLedger(t *testing.T, l *ledger.Ledger, window time.Duration) *ledger.Ledger {
	t.Helper()
	g := ledger.New(l.DB(), ledger.Config{GroupCommit: ledger.GroupCommitConfig{Enabled: true, Window: window, MaxEntries: 64}})
	t.Cleanup(func() { _ = g.Close() })
	return g
}

func TestGroupCommit(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	const accounts, workers, per = 8, 50, 20
	codes := make([]string, accounts)
	for i := range codes {
		codes[i] = fmt.Sprintf("gc%d:USDT", i)
		if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: codes[i], Asset: "USDT", Normal: ledger.Credit,
			Flags: ledger.NoOverdraft}); err != nil {
			t.Fatal(err)
		}
		mustPost(t, l, ledger.Transfer("", world, codes[i], dec("20"), "funding"))
	}
	rep0, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := groupLedger(t, l, 2*time.Millisecond)
	type result struct {
		in  ledger.EntryInput
		e   ledger.Entry
		err error
	}
	results := make([][]result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for n := range per {
				i, j := rng.IntN(accounts), rng.IntN(accounts-1)
				if j >= i {
					j++
				}
				in := ledger.Transfer(fmt.Sprintf("gc-%d-%d", w, n), codes[i], codes[j],
					decimal.NewFromInt(1+rng.Int64N(8)), fmt.Sprintf("w%d n%d", w, n))
				e, err := g.Post(ctx, in)
				results[w] = append(results[w], result{in, e, err})
			}
		})
	}
	wg.Wait()
	net := map[string]decimal.Decimal{}
	ok, short := 0, 0
	for _, rs := range results {
		for _, r := range rs {
			if r.err != nil {
				if !errors.Is(r.err, ledger.ErrInsufficientFunds) {
					t.Fatalf("%s: %v", r.in.IdempotencyKey, r.err)
				}
				short++
				continue
			}
			ok++
			if r.e.IdempotencyKey != r.in.IdempotencyKey || r.e.Description != r.in.Description || len(r.e.Postings) != 2 {
				t.Fatalf("%s: got entry %+v", r.in.IdempotencyKey, r.e)
			}
			for k, p := range r.e.Postings {
				want := r.in.Postings[k]
				if p.Account != want.Account || p.Direction != want.Direction || !p.Amount.Equal(want.Amount) {
					t.Fatalf("%s: posting %+v, want %+v", r.in.IdempotencyKey, p, want)
				}
			}
			amt := r.in.Postings[0].Amount
			net[r.in.Postings[0].Account] = net[r.in.Postings[0].Account].Sub(amt)
			net[r.in.Postings[1].Account] = net[r.in.Postings[1].Account].Add(amt)
			// The result is the caller's own: the key finds the same entry.
			if again, err := l.Post(ctx, r.in); err != nil || again.ID != r.e.ID {
				t.Fatalf("%s: again %s, %v; first %s", r.in.IdempotencyKey, again.ID, err, r.e.ID)
			}
		}
	}
	if ok == 0 || short == 0 {
		t.Fatalf("%d posted, %d short of funds: want some of each", ok, short)
	}
	total := decimal.Zero
	for _, c := range codes {
		b := mustBalance(t, l, c)
		if want := dec("20").Add(net[c]); !b.Posted.Equal(want) {
			t.Fatalf("%s: %s, want %s", c, b.Posted, want)
		}
		total = total.Add(b.Posted)
	}
	if !total.Equal(decimal.NewFromInt(20 * accounts)) {
		t.Fatalf("total %s", total)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep.Problems, err)
	}
	if rep.Entries != rep0.Entries+ok {
		t.Fatalf("%d entries, want %d + %d", rep.Entries, rep0.Entries, ok)
	}
	t.Logf("%d posted, %d short of funds", ok, short)
}

func TestGroupCommitCancel(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	g := groupLedger(t, l, time.Millisecond)
	// A cancelled ctx before the call: nothing is handed over.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	in := ledger.Transfer("c1", world, alice, dec("1"), "")
	if _, err := g.Post(cctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// A ctx that ends while the batch waits behind another transaction's locks: Post returns at
	// once, the entry commits later, and a retry with the key returns it.
	tx, err := l.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.PostTx(ctx, tx, ledger.Transfer("", world, alice, dec("2"), "blocker")); err != nil {
		t.Fatal(err)
	}
	tctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := g.Post(tctx, in); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed out: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e, err := g.Post(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := l.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger_entries WHERE idempotency_key = 'c1'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("entries under c1: %d, %v", n, err)
	}
	if got, err := l.Entry(ctx, e.ID); err != nil || got.IdempotencyKey != "c1" {
		t.Fatal(got, err)
	}
	wantBalance(t, l, alice, "103", "0", "103")
	mustVerify(t, l)
}

func TestGroupCommitClose(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	g := groupLedger(t, l, time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = g.Post(ctx, ledger.Transfer(fmt.Sprintf("cl%d", i), world, bob, dec("1"), ""))
		})
	}
	time.Sleep(time.Millisecond)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	posted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			posted++
		case !errors.Is(err, ledger.ErrClosed):
			t.Fatalf("post around Close: %v", err)
		}
	}
	if _, err := g.Post(ctx, ledger.Transfer("", world, bob, dec("1"), "")); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("Post after Close: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The other methods keep working.
	if _, err := g.PostTx(ctx, g.DB(), ledger.Transfer("", world, bob, dec("1"), "")); err != nil {
		t.Fatal(err)
	}
	if _, err := g.PostBatch(ctx, res2Inputs(), ledger.Independent); err != nil {
		t.Fatal(err)
	}
	wantBalance(t, l, bob, fmt.Sprint(posted+1), "0", fmt.Sprint(posted+1))
	mustVerify(t, l)
}

func TestGroupCommitSameKey(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	g := groupLedger(t, l, time.Millisecond)
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			e, err := g.Post(ctx, ledger.Transfer("same", alice, bob, dec("3"), "once"))
			if err != nil {
				t.Error(err)
			}
			ids[i] = e.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("ids differ: %s, %s", id, ids[0])
		}
	}
	wantBalance(t, l, bob, "3", "0", "3")
	mustVerify(t, l)
}
