package ledger_test

import (
	"context"
	"errors"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/ledger"
)

func TestPostRunningBalances(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	// alice is touched twice in one entry: her postings chain within it.
	e := mustPost(t, l, ledger.EntryInput{
		Description: "swap back and forth",
		Metadata:    map[string]any{"ref": "x", "n": 1},
		Postings: []ledger.PostingInput{
			{Account: alice, Direction: ledger.Debit, Amount: dec("10")},
			{Account: bob, Direction: ledger.Credit, Amount: dec("10")},
			{Account: alice, Direction: ledger.Credit, Amount: dec("3")},
			{Account: bob, Direction: ledger.Debit, Amount: dec("3")},
		},
	})
	want := []struct {
		acct          string
		seq           int64
		before, after string
	}{{alice, 2, "100", "90"}, {bob, 1, "0", "10"}, {alice, 3, "90", "93"}, {bob, 2, "10", "7"}}
	if len(e.Postings) != len(want) {
		t.Fatalf("%d postings", len(e.Postings))
	}
	for i, w := range want {
		p := e.Postings[i]
		if p.Account != w.acct || p.Seq != w.seq || !p.BalanceBefore.Equal(dec(w.before)) || !p.BalanceAfter.Equal(dec(w.after)) ||
			p.EntryID != e.ID || p.Asset != "USDT" || p.ID == 0 {
			t.Fatalf("posting %d: %+v, want %+v", i, p, w)
		}
		if i > 0 && p.ID <= e.Postings[i-1].ID {
			t.Fatalf("posting ids not ascending: %+v", e.Postings)
		}
	}
	got, err := l.Entry(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("Entry() = %+v\nPost() = %+v", got, e)
	}
	// The world account is debit-normal: a debit raises its balance.
	wantBalance(t, l, world, "100", "0", "100")
	wantBalance(t, l, alice, "93", "0", "93")
	wantBalance(t, l, bob, "7", "0", "7")
	if _, err := l.Entry(ctx, "je_nope"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown entry: %v", err)
	}
	mustVerify(t, l)
}

func TestPostMultiAssetEntry(t *testing.T) {
	l, _ := setup(t)
	mustPost(t, l, ledger.EntryInput{Postings: []ledger.PostingInput{
		{Account: world, Direction: ledger.Debit, Amount: dec("5")},
		{Account: bob, Direction: ledger.Credit, Amount: dec("5")},
		{Account: worldBTC, Direction: ledger.Debit, Amount: dec("0.00000001")},
		{Account: carolBTC, Direction: ledger.Credit, Amount: dec("0.00000001")},
	}})
	wantBalance(t, l, carolBTC, "0.00000001", "0", "0.00000001")
	mustVerify(t, l)
}

func TestDecimalPrecision(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	if _, err := l.Post(ctx, ledger.Transfer("", world, bob, dec("1.0000001"), "")); !errors.Is(err, ledger.ErrInvalidAmount) {
		t.Fatalf("7 decimals of USDT: %v", err)
	}
	e := mustPost(t, l, ledger.Transfer("", world, bob, dec("0.000001"), ""))
	if !e.Postings[1].Amount.Equal(dec("0.000001")) {
		t.Fatalf("amount %s", e.Postings[1].Amount)
	}
	wantBalance(t, l, bob, "0.000001", "0", "0.000001")
	// Trailing zeros beyond the precision are not extra decimals.
	mustPost(t, l, ledger.Transfer("", world, bob, dec("1.000000000"), ""))

	// 18-decimal ETH.
	eth := dec("1.123456789012345678")
	e = mustPost(t, l, ledger.Transfer("", worldETH, daveETH, eth, ""))
	if got := e.Postings[1].Amount; !got.Equal(eth) || got.String() != "1.123456789012345678" {
		t.Fatalf("ETH amount %s", got)
	}
	if _, err := l.Post(ctx, ledger.Transfer("", worldETH, daveETH, dec("0.0000000000000000001"), "")); !errors.Is(err, ledger.ErrInvalidAmount) {
		t.Fatalf("19 decimals of ETH: %v", err)
	}

	// The largest uint256, in wei, round-trips exactly; one more is refused.
	maxU := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	huge := decimal.NewFromBigInt(maxU, -18)
	e = mustPost(t, l, ledger.Transfer("", worldETH, daveETH, huge, "uint256"))
	got, err := l.Entry(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Postings[1].Amount.Equal(huge) || got.Postings[1].Amount.Coefficient().Cmp(maxU) != 0 {
		t.Fatalf("uint256 amount came back as %s", got.Postings[1].Amount)
	}
	wantSum := huge.Add(eth)
	if b := mustBalance(t, l, daveETH); !b.Posted.Equal(wantSum) {
		t.Fatalf("balance %s, want %s", b.Posted, wantSum)
	}
	ps, _, err := l.History(ctx, ledger.PostingFilter{Account: daveETH})
	if err != nil || len(ps) != 2 || !ps[1].BalanceAfter.Equal(wantSum) {
		t.Fatalf("history %v %+v", err, ps)
	}
	over := decimal.NewFromBigInt(new(big.Int).Add(maxU, big.NewInt(1)), -18)
	if _, err := l.Post(ctx, ledger.Transfer("", worldETH, daveETH, over, "")); !errors.Is(err, ledger.ErrInvalidAmount) {
		t.Fatalf("2^256 wei: %v", err)
	}

	// Absurd exponents are refused at once, without building huge numbers.
	start := time.Now()
	for _, d := range []decimal.Decimal{decimal.New(1, 1_000_000_000), decimal.New(1, -1_000_000_000), decimal.New(7, -1_000_000)} {
		if _, err := l.Post(ctx, ledger.Transfer("", worldETH, daveETH, d, "")); !errors.Is(err, ledger.ErrInvalidAmount) {
			t.Fatalf("exponent %d: %v", d.Exponent(), err)
		}
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("refusing absurd exponents took %s", time.Since(start))
	}
	mustVerify(t, l)
}

// Counters stay within NUMERIC(78,0): a post that would overflow one is refused.
func TestCounterOverflowRefused(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	maxU := decimal.NewFromBigInt(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)), -18)
	for i := 0; i < 8; i++ { // 8 × (2^256−1) < 10^78
		mustPost(t, l, ledger.Transfer("", worldETH, daveETH, maxU, ""))
	}
	before := snapshot(t, l)
	if _, err := l.Post(ctx, ledger.Transfer("", worldETH, daveETH, maxU, "")); !errors.Is(err, ledger.ErrInvalidAmount) {
		t.Fatalf("9th post: %v", err)
	}
	if snapshot(t, l) != before {
		t.Fatal("refused post wrote")
	}
	mustVerify(t, l)
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	for _, s := range []ledger.AccountSpec{
		{Code: "m_1:USDT", Asset: "USDT", Normal: ledger.Credit},
		{Code: "mx1:USDT", Asset: "USDT", Normal: ledger.Credit},
		{Code: "M_1:USDT", Asset: "USDT", Normal: ledger.Credit},
	} {
		if _, err := l.EnsureAccount(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		mustPost(t, l, ledger.Transfer("", world, "m_1:USDT", dec("1"), ""))
	}
	mustPost(t, l, ledger.Transfer("", world, "mx1:USDT", dec("1"), ""))
	mustPost(t, l, ledger.Transfer("", world, "M_1:USDT", dec("1"), ""))
	mustPost(t, l, ledger.Transfer("", worldBTC, carolBTC, dec("1"), ""))

	// Page through m_1 two at a time.
	var all []ledger.Posting
	var after int64
	pages := 0
	for {
		ps, next, err := l.History(ctx, ledger.PostingFilter{Account: "m_1:USDT", After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, ps...)
		if next == 0 {
			break
		}
		if next != ps[len(ps)-1].ID {
			t.Fatalf("next %d, last id %d", next, ps[len(ps)-1].ID)
		}
		after = next
	}
	if len(all) != 5 || pages != 3 {
		t.Fatalf("%d postings in %d pages", len(all), pages)
	}
	for i, p := range all {
		if p.Seq != int64(i+1) || !p.BalanceAfter.Equal(decimal.NewFromInt(int64(i+1))) || p.Account != "m_1:USDT" {
			t.Fatalf("posting %d: %+v", i, p)
		}
	}
	// The prefix is literal ('_' is no wildcard) and case-sensitive.
	ps, _, err := l.History(ctx, ledger.PostingFilter{AccountPrefix: "m_"})
	if err != nil || len(ps) != 5 {
		t.Fatalf("prefix m_: %v, %d postings", err, len(ps))
	}
	ps, _, err = l.History(ctx, ledger.PostingFilter{Asset: "BTC"})
	if err != nil || len(ps) != 2 {
		t.Fatalf("asset BTC: %v, %d postings", err, len(ps))
	}
	ps, next, err := l.History(ctx, ledger.PostingFilter{})
	if err != nil || len(ps) != 18 || next != 0 {
		t.Fatalf("all: %v, %d postings, next %d", err, len(ps), next)
	}
	if _, _, err := l.History(ctx, ledger.PostingFilter{Account: "nobody"}); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}

func TestEnsureAccountIsIdempotent(t *testing.T) {
	ctx := context.Background()
	l, clk := setup(t)
	spec := ledger.AccountSpec{Code: "merchant:mch_1:api:USDT", Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft,
		Metadata: map[string]any{"merchant": "mch_1"}}
	a1, err := l.EnsureAccount(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	spec.Metadata = map[string]any{"other": true}
	a2, err := l.EnsureAccount(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if a1.ID != a2.ID || !a2.CreatedAt.Equal(a1.CreatedAt) || a2.Metadata["merchant"] != "mch_1" {
		t.Fatalf("%+v vs %+v", a1, a2)
	}
	got, err := l.Account(ctx, spec.Code)
	if err != nil || !reflect.DeepEqual(got, a1) {
		t.Fatalf("Account() = %+v, %v; want %+v", got, err, a1)
	}
	if _, err := l.Account(ctx, "nobody"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := l.Asset(ctx, "DOGE"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown asset: %v", err)
	}
	if a, err := l.Asset(ctx, "ETH"); err != nil || a.Precision != 18 {
		t.Fatalf("ETH: %+v %v", a, err)
	}
	// EnsureAccountTx inside a caller's transaction that rolls back creates nothing.
	tx, err := l.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.EnsureAccountTx(ctx, tx, ledger.AccountSpec{Code: "tmp:USDT", Asset: "USDT", Normal: ledger.Credit}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Account(ctx, "tmp:USDT"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("rolled-back account exists: %v", err)
	}
}

func TestConcurrentEnsureAccount(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	ids := make(chan string, 20)
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func() {
			a, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "race:USDT", Asset: "USDT", Normal: ledger.Credit})
			ids <- a.ID
			errs <- err
		}()
	}
	first := ""
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		id := <-ids
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("two accounts: %s, %s", first, id)
		}
	}
}

func TestMigrateIsRerunnable(t *testing.T) {
	l, _ := setup(t)
	for i := 0; i < 2; i++ {
		if err := ledger.Migrate(context.Background(), l.DB()); err != nil {
			t.Fatal(err)
		}
	}
	wantBalance(t, l, alice, "100", "0", "100")
}

func TestBalanceAt(t *testing.T) {
	ctx := context.Background()
	l, clk := setup(t) // alice funded with 100 at t0
	t0 := clk.Now()
	clk.Advance(time.Hour)
	mustPost(t, l, ledger.Transfer("", alice, bob, dec("30"), ""))
	clk.Advance(time.Hour)
	mustPost(t, l, ledger.Transfer("", alice, bob, dec("20"), ""))
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Second), "0"},
		{t0, "100"},
		{t0.Add(90 * time.Minute), "70"},
		{t0.Add(2 * time.Hour), "50"},
		{t0.Add(24 * time.Hour), "50"},
	} {
		got, err := l.BalanceAt(ctx, alice, c.at)
		if err != nil || !got.Equal(dec(c.want)) {
			t.Fatalf("BalanceAt(%s) = %s, %v; want %s", c.at, got, err, c.want)
		}
	}
	if _, err := l.BalanceAt(ctx, "nobody", t0); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}
