package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settle-go/settle/ledger"
)

// TestConcurrentRandomWrites runs 16 goroutines posting random transfers, multi-leg entries,
// holds, captures, voids and sweeps between NoOverdraft accounts funded from a debit-normal
// custody account, then checks every invariant with Verify.
func TestConcurrentRandomWrites(t *testing.T) {
	ctx := context.Background()
	base, clk := setup(t)
	retries := &countingHandler{}
	l := ledger.New(base.DB(), ledger.Config{Now: clk.Now, Logger: slog.New(retries)})
	const custody = "custody:TEST:USDT"
	accts := []string{"m1:USDT", "m2:USDT", "m3:USDT", "m4:USDT"}
	if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: custody, Asset: "USDT", Normal: ledger.Debit}); err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: a, Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft}); err != nil {
			t.Fatal(err)
		}
		mustPost(t, l, ledger.Transfer("", custody, a, dec("50"), "fund"))
	}

	const workers, ops = 16, 60
	var (
		mu    sync.Mutex
		holds []string
		wg    sync.WaitGroup
	)
	amount := func(r *rand.Rand) string { return fmt.Sprintf("%d.%06d", r.IntN(20), r.IntN(1_000_000)+1) }
	pick := func(r *rand.Rand) (string, string) {
		i := r.IntN(len(accts))
		j := (i + 1 + r.IntN(len(accts)-1)) % len(accts)
		return accts[i], accts[j]
	}
	takeHold := func(r *rand.Rand) string {
		mu.Lock()
		defer mu.Unlock()
		if len(holds) == 0 {
			return ""
		}
		return holds[r.IntN(len(holds))]
	}
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; i < ops; i++ {
				var err error
				from, to := pick(r)
				switch op := r.IntN(10); op {
				case 0, 1, 2:
					_, err = l.Post(ctx, ledger.Transfer("", from, to, dec(amount(r)), "transfer"))
				case 3:
					// A multi-leg entry touching both accounts in both directions.
					a, b := dec(amount(r)), dec(amount(r))
					_, err = l.Post(ctx, ledger.EntryInput{Postings: []ledger.PostingInput{
						{Account: from, Direction: ledger.Debit, Amount: a},
						{Account: to, Direction: ledger.Credit, Amount: a},
						{Account: to, Direction: ledger.Debit, Amount: b},
						{Account: from, Direction: ledger.Credit, Amount: b},
					}})
				case 4:
					_, err = l.Post(ctx, ledger.Transfer("", custody, to, dec(amount(r)), "deposit"))
				case 5, 6:
					in := ledger.HoldInput{Debit: from, Credit: to, Amount: dec(amount(r))}
					if r.IntN(2) == 0 {
						in.Credit = custody
					}
					if r.IntN(3) == 0 {
						in.ExpiresAt = clk.Now().Add(time.Duration(1+r.IntN(3)) * time.Second)
					}
					var h ledger.Hold
					h, err = l.Hold(ctx, in)
					if err != nil && !in.ExpiresAt.IsZero() && errors.Is(err, ledger.ErrInvalidEntry) {
						err = nil // another worker moved the clock past the deadline first
					} else if err == nil {
						mu.Lock()
						holds = append(holds, h.ID)
						mu.Unlock()
					}
				case 7:
					if id := takeHold(r); id != "" {
						amt := dec("0")
						if r.IntN(2) == 0 {
							amt = dec("0.000001")
						}
						_, _, err = l.Capture(ctx, id, amt, "")
					}
				case 8:
					if id := takeHold(r); id != "" {
						_, err = l.Void(ctx, id)
					}
				case 9:
					if r.IntN(4) == 0 {
						clk.Advance(time.Second)
						_, err = l.ExpireHolds(ctx)
					} else {
						_, err = l.Balance(ctx, from)
					}
				}
				if err != nil && !errors.Is(err, ledger.ErrInsufficientFunds) && !errors.Is(err, ledger.ErrHoldNotPending) {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("unexpected error: %v", err)
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %+v", rep.Problems)
	}
	if rep.Postings < 200 || rep.Holds == 0 {
		t.Fatalf("too little happened: %+v", rep)
	}
	for _, a := range accts {
		if b := mustBalance(t, l, a); b.Available.IsNegative() {
			t.Fatalf("%s available %s", a, b.Available)
		}
	}
	t.Logf("%d accounts, %d entries, %d postings, %d holds; %d log records (retries)",
		rep.Accounts, rep.Entries, rep.Postings, rep.Holds, retries.n.Load())
}

// countingHandler counts the debug records the ledger logs (one per transaction retry).
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(_ context.Context, lvl slog.Level) bool {
	return lvl == slog.LevelDebug
}
func (h *countingHandler) Handle(context.Context, slog.Record) error { h.n.Add(1); return nil }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h *countingHandler) WithGroup(string) slog.Handler             { return h }
