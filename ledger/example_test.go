package ledger_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/ledger"
)

// exampleLedger opens a ledger on a fresh SQLite file with the default assets and a small chart:
// a debit-normal custody account and a merchant's credit-normal, no-overdraft API account. Call
// the returned cleanup when done (also after an error).
func exampleLedger() (*ledger.Ledger, func(), error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ledger-example")
	if err != nil {
		return nil, func() {}, err
	}
	db, err := database.Open(ctx, "sqlite:"+filepath.Join(dir, "ledger.db"))
	if err != nil {
		return nil, func() { _ = os.RemoveAll(dir) }, err
	}
	cleanup := func() { _ = db.Close(); _ = os.RemoveAll(dir) }
	if err := ledger.Migrate(ctx, db); err != nil {
		return nil, cleanup, err
	}
	l := ledger.New(db, ledger.Config{})
	for _, a := range ledger.DefaultAssets() {
		if err := l.EnsureAsset(ctx, a); err != nil {
			return nil, cleanup, err
		}
	}
	for _, s := range []ledger.AccountSpec{
		{Code: "custody:MATIC_MAINNET:USDT", Asset: "USDT", Normal: ledger.Debit},
		{Code: "merchant:mch_1:api:USDT", Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft},
	} {
		if _, err := l.EnsureAccount(ctx, s); err != nil {
			return nil, cleanup, err
		}
	}
	return l, cleanup, nil
}

func ExampleLedger_Post() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}

	// A confirmed deposit of 100 USDT on Polygon: debit custody, credit the merchant's API account.
	e, err := l.Post(ctx, ledger.Transfer("deposit:MATIC_MAINNET:0xabc:0",
		"custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT", decimal.RequireFromString("100.00"), "deposit"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range e.Postings {
		fmt.Println(p.Account, p.Direction, p.Amount, "balance", p.BalanceBefore, "->", p.BalanceAfter)
	}
	// Output:
	// custody:MATIC_MAINNET:USDT debit 100 balance 0 -> 100
	// merchant:mch_1:api:USDT credit 100 balance 0 -> 100
}

func ExampleLedger_Capture() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := l.Post(ctx, ledger.Transfer("", "custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT",
		decimal.RequireFromString("100"), "deposit")); err != nil {
		fmt.Println(err)
		return
	}

	// A payout: hold 30 USDT of the API account, then capture 29.5 when it confirms on chain.
	h, err := l.Hold(ctx, ledger.HoldInput{
		IdempotencyKey: "payout:pay_1",
		Debit:          "merchant:mch_1:api:USDT",
		Credit:         "custody:MATIC_MAINNET:USDT",
		Amount:         decimal.RequireFromString("30"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Status, h.Amount, "available", h.AvailableBefore, "->", h.AvailableAfter)

	h, e, err := l.Capture(ctx, h.ID, decimal.RequireFromString("29.5"), "payout:pay_1:capture")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Status, h.Captured, "entry postings:", len(e.Postings))
	b, _ := l.Balance(ctx, "merchant:mch_1:api:USDT")
	fmt.Println("available", b.Available)
	// Output:
	// pending 30 available 100 -> 70
	// captured 29.5 entry postings: 2
	// available 70.5
}

func ExampleLedger_Balance() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := l.Post(ctx, ledger.Transfer("", "custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT",
		decimal.RequireFromString("250.5"), "deposit")); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := l.Hold(ctx, ledger.HoldInput{Debit: "merchant:mch_1:api:USDT", Credit: "custody:MATIC_MAINNET:USDT",
		Amount: decimal.RequireFromString("50")}); err != nil {
		fmt.Println(err)
		return
	}
	b, err := l.Balance(ctx, "merchant:mch_1:api:USDT")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s: posted %s, held %s, available %s\n", b.Account, b.Asset, b.Posted, b.Held, b.Available)
	// Output:
	// merchant:mch_1:api:USDT USDT: posted 250.5, held 50, available 200.5
}

func ExampleLedger_History() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, amt := range []string{"10", "20", "30"} {
		if _, err := l.Post(ctx, ledger.Transfer("", "custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT",
			decimal.RequireFromString(amt), "deposit")); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Page through the API account's postings, two at a time.
	f := ledger.PostingFilter{Account: "merchant:mch_1:api:USDT", Limit: 2}
	for page := 1; ; page++ {
		ps, next, err := l.History(ctx, f)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, p := range ps {
			fmt.Printf("page %d: #%d %s %s -> %s\n", page, p.Seq, p.Direction, p.Amount, p.BalanceAfter)
		}
		if next == 0 {
			break
		}
		f.After = next
	}
	// Output:
	// page 1: #1 credit 10 -> 10
	// page 1: #2 credit 20 -> 30
	// page 2: #3 credit 30 -> 60
}
