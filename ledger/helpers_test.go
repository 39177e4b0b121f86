package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/ledger"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Test chart: world:* are debit-normal sources without limits; alice, bob, carol are credit-normal
// NoOverdraft accounts.
const (
	world    = "world:USDT"
	alice    = "alice:USDT"
	bob      = "bob:USDT"
	worldBTC = "world:BTC"
	carolBTC = "carol:BTC"
	worldETH = "world:ETH"
	daveETH  = "dave:ETH"
)

// setup returns a migrated ledger with the default assets, the test chart, and alice funded with
// 100 USDT.
func setup(t testing.TB) (*ledger.Ledger, *clock) {
	t.Helper()
	ctx := context.Background()
	db := dbtest.Open(t)
	if err := ledger.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	clk := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	l := ledger.New(db, ledger.Config{Now: clk.Now})
	for _, a := range ledger.DefaultAssets() {
		if err := l.EnsureAsset(ctx, a); err != nil {
			t.Fatalf("ensure asset %s: %v", a.Code, err)
		}
	}
	for _, s := range []ledger.AccountSpec{
		{Code: world, Asset: "USDT", Normal: ledger.Debit},
		{Code: alice, Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft},
		{Code: bob, Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft},
		{Code: worldBTC, Asset: "BTC", Normal: ledger.Debit},
		{Code: carolBTC, Asset: "BTC", Normal: ledger.Credit, Flags: ledger.NoOverdraft},
		{Code: worldETH, Asset: "ETH", Normal: ledger.Debit},
		{Code: daveETH, Asset: "ETH", Normal: ledger.Credit, Flags: ledger.NoOverdraft},
	} {
		if _, err := l.EnsureAccount(ctx, s); err != nil {
			t.Fatalf("ensure account %s: %v", s.Code, err)
		}
	}
	mustPost(t, l, ledger.Transfer("", world, alice, dec("100"), "funding"))
	return l, clk
}

func mustPost(t testing.TB, l *ledger.Ledger, in ledger.EntryInput) ledger.Entry {
	t.Helper()
	e, err := l.Post(context.Background(), in)
	if err != nil {
		t.Fatalf("post %+v: %v", in, err)
	}
	return e
}

func mustBalance(t testing.TB, l *ledger.Ledger, code string) ledger.Balance {
	t.Helper()
	b, err := l.Balance(context.Background(), code)
	if err != nil {
		t.Fatalf("balance %s: %v", code, err)
	}
	return b
}

// wantBalance asserts an account's posted, held and available balances.
func wantBalance(t testing.TB, l *ledger.Ledger, code, posted, held, available string) {
	t.Helper()
	b := mustBalance(t, l, code)
	if !b.Posted.Equal(dec(posted)) || !b.Held.Equal(dec(held)) || !b.Available.Equal(dec(available)) {
		t.Fatalf("%s: posted %s held %s available %s; want %s %s %s", code, b.Posted, b.Held, b.Available, posted, held, available)
	}
}

// snapshot renders everything the ledger stores that a failed write must leave alone.
func snapshot(t testing.TB, l *ledger.Ledger) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	rows, err := l.DB().QueryContext(ctx, `SELECT code, debits_posted, credits_posted, debits_pending, credits_pending, seq
	FROM ledger_accounts ORDER BY code`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, dp, cp, dq, cq string
		var seq int64
		if err := rows.Scan(&code, &dp, &cp, &dq, &cq, &seq); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s %s %s %d\n", code, dp, cp, dq, cq, seq)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"ledger_assets", "ledger_accounts", "ledger_entries", "ledger_postings", "ledger_holds"} {
		var n int
		if err := l.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n", table, n)
	}
	hs, err := l.DB().QueryContext(ctx, "SELECT id, status, captured FROM ledger_holds ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	for hs.Next() {
		var id, st, c string
		if err := hs.Scan(&id, &st, &c); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s\n", id, st, c)
	}
	return b.String()
}

func mustVerify(t testing.TB, l *ledger.Ledger) {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("verify found problems: %+v", rep.Problems)
	}
}
