package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/ledger"
)

// EnvStressOps shortens TestStressPostgres (in CI, say); unset, it runs 20,000 operations, and it
// never runs fewer than 2,000.
const EnvStressOps = "SETTLE_LEDGER_STRESS_OPS"

func stressOps(t *testing.T) int {
	n := 20_000
	if s := os.Getenv(EnvStressOps); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", EnvStressOps, err)
		}
		n = max(v, 2_000)
	}
	return n
}

type sHold struct {
	id, debit, credit string
	amount, captured  decimal.Decimal
	exp               time.Time
	state             ledger.HoldStatus // pending, captured or voided as this test saw it
}

// sWorker is one goroutine's record of what it saw succeed.
type sWorker struct {
	debits, credits    map[string]decimal.Decimal // posted, per account
	holds              []*sHold
	entries, postings  int
	keyed              map[string]string // idempotency key -> entry id
	keyedIn            map[string]ledger.EntryInput
	replays            int
	insufficient, hold int
}

// TestStressPostgres runs 32 goroutines doing at least 20,000 random transfers, multi-leg
// entries, deposits, holds (some with deadlines), partial and full captures, voids, idempotent
// replays and expiry sweeps on PostgreSQL, over a few NoOverdraft accounts funded from a
// debit-normal custody account. Insufficient funds is the only error allowed (and, for a hold
// whose deadline the shared clock has passed, the expiry errors). Afterwards Verify must pass,
// every account's posted balance must equal the sum of the movements the goroutines saw succeed,
// its held balance the holds they left pending, and every hold must be in the state they left it.
//
// TODO(reversals): add reversals (and refused reversals of reversals) to the mix once the ledger
// has them.
func TestStressPostgres(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Postgres(t)
	if err := ledger.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	l := ledger.New(db, ledger.Config{Now: clk.Now})
	if err := l.EnsureAsset(ctx, ledger.Asset{Code: "USDT", Precision: 6}); err != nil {
		t.Fatal(err)
	}
	const custody = "custody:USDT"
	accts := []string{"m0:USDT", "m1:USDT", "m2:USDT", "m3:USDT", "m4:USDT", "m5:USDT"}
	if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: custody, Asset: "USDT", Normal: ledger.Debit}); err != nil {
		t.Fatal(err)
	}
	all := append([]string{custody}, accts...)
	funded := map[string]decimal.Decimal{}
	for _, a := range accts {
		if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: a, Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Post(ctx, ledger.Transfer("", custody, a, dec("60"), "fund")); err != nil {
			t.Fatal(err)
		}
		funded[a] = dec("60")
	}

	const workers = 32
	total := stressOps(t)
	seed := rand.Uint64()
	t.Logf("%d operations, %d goroutines, seed %d", total, workers, seed)
	ws := make([]*sWorker, workers)
	var (
		wg       sync.WaitGroup
		sweepMu  sync.Mutex
		sweptSum int
	)
	errc := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		ws[w] = &sWorker{debits: map[string]decimal.Decimal{}, credits: map[string]decimal.Decimal{},
			keyed: map[string]string{}, keyedIn: map[string]ledger.EntryInput{}}
		n := total / workers
		if w < total%workers {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			me := ws[w]
			amount := func() decimal.Decimal { return decimal.New(r.Int64N(40_000_000)+1, -6) }
			pick := func() (string, string) {
				i := r.IntN(len(accts))
				j := (i + 1 + r.IntN(len(accts)-1)) % len(accts)
				return accts[i], accts[j]
			}
			moved := func(e ledger.Entry) {
				for _, p := range e.Postings {
					if p.Direction == ledger.Debit {
						me.debits[p.Account] = me.debits[p.Account].Add(p.Amount)
					} else {
						me.credits[p.Account] = me.credits[p.Account].Add(p.Amount)
					}
				}
				me.entries++
				me.postings += len(e.Postings)
			}
			pending := func() *sHold {
				var ps []*sHold
				for _, h := range me.holds {
					if h.state == ledger.HoldPending {
						ps = append(ps, h)
					}
				}
				if len(ps) == 0 {
					return nil
				}
				return ps[r.IntN(len(ps))]
			}
			// dueNow reports whether h's deadline has passed by now, which excuses a refusal.
			dueNow := func(exp time.Time) bool { return !exp.IsZero() && !clk.Now().Before(exp) }
			for i := range n {
				var err error
				from, to := pick()
				switch op := r.IntN(100); {
				case op < 30: // transfer, half of them keyed
					key := ""
					if r.IntN(2) == 0 {
						key = fmt.Sprintf("w%d-%d", w, i)
					}
					in := ledger.Transfer(key, from, to, amount(), "transfer")
					var e ledger.Entry
					if e, err = l.Post(ctx, in); err == nil {
						moved(e)
						if key != "" {
							me.keyed[key], me.keyedIn[key] = e.ID, in
						}
					}
				case op < 38: // deposit
					var e ledger.Entry
					if e, err = l.Post(ctx, ledger.Transfer("", custody, to, amount().Div(decimal.NewFromInt(4)).Truncate(6).Add(dec("0.000001")), "deposit")); err == nil {
						moved(e)
					}
				case op < 42: // multi-leg
					a, b := amount(), amount()
					var e ledger.Entry
					if e, err = l.Post(ctx, ledger.EntryInput{Postings: []ledger.PostingInput{
						{Account: from, Direction: ledger.Debit, Amount: a},
						{Account: to, Direction: ledger.Credit, Amount: a},
						{Account: to, Direction: ledger.Debit, Amount: b},
						{Account: from, Direction: ledger.Credit, Amount: b},
					}}); err == nil {
						moved(e)
					}
				case op < 46: // replay one of this goroutine's keyed posts: the first entry, no movement
					if len(me.keyed) == 0 {
						continue
					}
					k := fmt.Sprintf("w%d-%d", w, r.IntN(i+1))
					id, ok := me.keyed[k]
					if !ok {
						continue
					}
					var e ledger.Entry
					if e, err = l.Post(ctx, me.keyedIn[k]); err == nil && e.ID != id {
						err = fmt.Errorf("replay of %s returned entry %s, want %s", k, e.ID, id)
					}
					me.replays++
				case op < 66: // hold
					in := ledger.HoldInput{Debit: from, Credit: to, Amount: amount()}
					if r.IntN(3) == 0 {
						in.Credit = custody
					}
					if r.IntN(3) == 0 {
						in.ExpiresAt = clk.Now().Add(time.Duration(1+r.IntN(4000)) * time.Millisecond)
					}
					var h ledger.Hold
					h, err = l.Hold(ctx, in)
					switch {
					case err == nil:
						me.holds = append(me.holds, &sHold{id: h.ID, debit: in.Debit, credit: in.Credit,
							amount: in.Amount, exp: in.ExpiresAt, state: ledger.HoldPending})
						me.hold++
					case errors.Is(err, ledger.ErrInvalidEntry) && dueNow(in.ExpiresAt):
						err = nil // another goroutine moved the clock past the deadline first
					}
				case op < 80: // capture in full or in part
					h := pending()
					if h == nil {
						continue
					}
					amt := decimal.Zero
					if r.IntN(2) == 0 {
						amt = h.amount.Mul(decimal.NewFromInt(int64(1 + r.IntN(9)))).Div(decimal.NewFromInt(10)).Truncate(6)
						if amt.IsZero() {
							amt = h.amount
						}
					}
					var (
						got ledger.Hold
						e   ledger.Entry
					)
					got, e, err = l.Capture(ctx, h.id, amt, "")
					switch {
					case err == nil:
						if amt.IsZero() {
							amt = h.amount
						}
						if !got.Captured.Equal(amt) || len(e.Postings) != 2 || !e.Postings[0].Amount.Equal(amt) {
							err = fmt.Errorf("capture of %s: hold %+v entry %+v", amt, got, e)
						}
						h.state, h.captured = ledger.HoldCaptured, amt
						moved(e)
					case errors.Is(err, ledger.ErrHoldNotPending) && dueNow(h.exp):
						h.state, err = ledger.HoldExpired, nil
					}
				case op < 90: // void
					h := pending()
					if h == nil {
						continue
					}
					_, err = l.Void(ctx, h.id)
					switch {
					case err == nil:
						h.state = ledger.HoldVoided
					case errors.Is(err, ledger.ErrHoldNotPending) && dueNow(h.exp):
						h.state, err = ledger.HoldExpired, nil
					}
				case op < 94: // time passes; sweep
					clk.Advance(time.Duration(r.IntN(1000)) * time.Millisecond)
					var swept int
					swept, err = l.ExpireHolds(ctx)
					sweepMu.Lock()
					sweptSum += swept
					sweepMu.Unlock()
				default:
					var b ledger.Balance
					if b, err = l.Balance(ctx, from); err == nil && b.Available.IsNegative() {
						err = fmt.Errorf("%s available %s", from, b.Available)
					}
				}
				if errors.Is(err, ledger.ErrInsufficientFunds) {
					me.insufficient++
					err = nil
				}
				if err != nil {
					errc <- fmt.Errorf("goroutine %d op %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	final := clk.Now()
	swept, err := l.ExpireHolds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sweptSum += swept

	debits, credits := map[string]decimal.Decimal{}, map[string]decimal.Decimal{}
	for _, a := range accts {
		debits[custody] = debits[custody].Add(funded[a])
		credits[a] = credits[a].Add(funded[a])
	}
	held := map[string]decimal.Decimal{}
	var sum sWorker
	wantEntries, wantPostings := len(accts), 2*len(accts)
	expired := 0
	for _, me := range ws {
		for a, v := range me.debits {
			debits[a] = debits[a].Add(v)
		}
		for a, v := range me.credits {
			credits[a] = credits[a].Add(v)
		}
		wantEntries += me.entries
		wantPostings += me.postings
		sum.replays += me.replays
		sum.insufficient += me.insufficient
		sum.hold += me.hold
		for _, h := range me.holds {
			want := h.state
			if want == ledger.HoldPending || want == ledger.HoldExpired {
				if !h.exp.IsZero() && !final.Before(h.exp) {
					want = ledger.HoldExpired
					expired++
				} else if want == ledger.HoldExpired {
					t.Errorf("hold %s refused as expired before its deadline %v (clock %v)", h.id, h.exp, final)
				} else {
					held[h.debit] = held[h.debit].Add(h.amount)
					if h.credit == custody {
						held[custody] = held[custody].Add(h.amount)
					}
				}
			}
			got, err := l.GetHold(ctx, h.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != want || !got.Captured.Equal(h.captured) {
				t.Errorf("hold %s: %s captured %s, want %s captured %s", h.id, got.Status, got.Captured, want, h.captured)
			}
		}
	}
	if sweptSum != expired {
		t.Errorf("ExpireHolds released %d holds in all, %d expired", sweptSum, expired)
	}
	for _, a := range all {
		b := mustBalance(t, l, a)
		want := credits[a].Sub(debits[a])
		if a == custody {
			want = want.Neg()
		}
		if !b.Posted.Equal(want) || !b.Held.Equal(held[a]) {
			t.Errorf("%s: posted %s held %s; the goroutines saw %s moved and %s left held", a, b.Posted, b.Held, want, held[a])
		}
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %+v", rep.Problems)
	}
	if rep.Entries != wantEntries || rep.Postings != wantPostings {
		t.Errorf("ledger has %d entries and %d postings; the goroutines saw %d and %d succeed", rep.Entries, rep.Postings,
			wantEntries, wantPostings)
	}
	if sum.insufficient == 0 || sum.hold == 0 || expired == 0 || sum.replays == 0 {
		t.Errorf("too little variety: %d insufficient, %d holds, %d expired, %d replays", sum.insufficient, sum.hold,
			expired, sum.replays)
	}
	t.Logf("%d ops in %v (%.0f ops/s): %d entries, %d holds (%d expired), %d replays, %d refused for insufficient funds",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), rep.Entries, sum.hold, expired,
		sum.replays, sum.insufficient)
}
