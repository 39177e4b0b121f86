package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

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

func ExampleLedger_Reverse() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}
	// A deposit credited by mistake (say, a reorganised block): reverse it.
	e, err := l.Post(ctx, ledger.Transfer("deposit:MATIC_MAINNET:0xabc:0",
		"custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT", decimal.RequireFromString("100"), "deposit"))
	if err != nil {
		fmt.Println(err)
		return
	}
	rev, err := l.Reverse(ctx, e.ID, ledger.ReverseInput{IdempotencyKey: "reorg:0xabc", Description: "reorg"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("reverses the deposit:", rev.Reverses == e.ID)
	for _, p := range rev.Postings {
		fmt.Println(p.Account, p.Direction, p.Amount, "balance", p.BalanceBefore, "->", p.BalanceAfter)
	}
	orig, _ := l.Entry(ctx, e.ID)
	fmt.Println("deposit reversed by it:", orig.ReversedBy == rev.ID)

	// An entry is reversed once, and a reversal is not reversed.
	_, err = l.Reverse(ctx, e.ID, ledger.ReverseInput{})
	fmt.Println(errors.Is(err, ledger.ErrAlreadyReversed))
	_, err = l.Reverse(ctx, rev.ID, ledger.ReverseInput{})
	fmt.Println(errors.Is(err, ledger.ErrReversalOfReversal))
	// Output:
	// reverses the deposit: true
	// custody:MATIC_MAINNET:USDT credit 100 balance 100 -> 0
	// merchant:mch_1:api:USDT debit 100 balance 100 -> 0
	// deposit reversed by it: true
	// true
	// true
}

func ExampleLedger_Entries() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, amt := range []string{"10", "20", "30"} {
		in := ledger.Transfer("", "custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT", decimal.RequireFromString(amt), "deposit")
		in.Metadata = map[string]any{"network": "MATIC_MAINNET", "invoice": fmt.Sprintf("inv_%d", i%2)}
		if _, err := l.Post(ctx, in); err != nil {
			fmt.Println(err)
			return
		}
	}
	// The API account's entries for invoice inv_0, one per page.
	f := ledger.EntryFilter{
		Account:  "merchant:mch_1:api:USDT",
		Metadata: map[string]string{"invoice": "inv_0"},
		Limit:    1,
	}
	for page := 1; ; page++ {
		es, next, err := l.Entries(ctx, f)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, e := range es {
			fmt.Printf("page %d: %s %s, %d postings\n", page, e.Metadata["invoice"], e.Postings[1].Amount, len(e.Postings))
		}
		if next == "" {
			break
		}
		f.After = next
	}
	// The same filter on History gives the postings, here only the custody side.
	ps, _, err := l.History(ctx, ledger.PostingFilter{
		Account:  "custody:MATIC_MAINNET:USDT",
		Metadata: map[string]string{"invoice": "inv_0"},
		From:     time.Now().Add(-time.Hour), // [From, To); a zero To leaves the end open
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range ps {
		fmt.Println(p.Account, p.Direction, p.Amount, "balance after", p.BalanceAfter)
	}
	// Output:
	// page 1: inv_0 10, 2 postings
	// page 2: inv_0 30, 2 postings
	// custody:MATIC_MAINNET:USDT debit 10 balance after 10
	// custody:MATIC_MAINNET:USDT debit 30 balance after 60
}

func ExampleLedger_PostBatch() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}
	const custody, api = "custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT"
	usdt := decimal.RequireFromString
	entries := []ledger.EntryInput{
		ledger.Transfer("deposit:1", custody, api, usdt("50"), "deposit"),
		ledger.Transfer("payout:1", api, custody, usdt("80"), "payout"), // more than the merchant has
		ledger.Transfer("deposit:2", custody, api, usdt("40"), "deposit"),
	}

	// All or nothing: the payout fails, so nothing is written.
	_, err = l.PostBatch(ctx, entries, ledger.AllOrNothing)
	var be *ledger.BatchError
	if errors.As(err, &be) {
		fmt.Println("all or nothing: entry", be.Index, "failed:", errors.Is(err, ledger.ErrInsufficientFunds))
	}

	// Independent: each entry has its own result; the deposits commit, in one transaction.
	res, err := l.PostBatch(ctx, entries, ledger.Independent)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, r := range res {
		if r.Err != nil {
			fmt.Println(i, "failed:", errors.Is(r.Err, ledger.ErrInsufficientFunds))
			continue
		}
		p := r.Entry.Postings[1]
		fmt.Println(i, p.Account, p.Direction, p.Amount, "balance", p.BalanceBefore, "->", p.BalanceAfter)
	}
	// Output:
	// all or nothing: entry 1 failed: true
	// 0 merchant:mch_1:api:USDT credit 50 balance 0 -> 50
	// 1 failed: true
	// 2 merchant:mch_1:api:USDT credit 40 balance 50 -> 90
}

func ExampleLedger_VerifyCheckpoint() {
	ctx := context.Background()
	l, cleanup, err := exampleLedger()
	defer cleanup()
	if err != nil {
		fmt.Println(err)
		return
	}
	const custody, api = "custody:MATIC_MAINNET:USDT", "merchant:mch_1:api:USDT"
	first, err := l.Post(ctx, ledger.Transfer("deposit:1", custody, api, decimal.RequireFromString("100"), "deposit"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Every entry carries its hash; each links to the previous entry of each of its accounts.
	fmt.Println("entry hash:", len(first.Hash), "hex digits")

	// Keep a checkpoint (or only its digest) somewhere the database's writers cannot change it.
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := l.Post(ctx, ledger.Transfer("payout:1", api, custody, decimal.RequireFromString("30"), "payout")); err != nil {
		fmt.Println(err)
		return
	}

	// Later: the chain is intact, and nothing before the checkpoint was rewritten.
	rep, err := l.VerifyCheckpoint(ctx, cp)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", rep.OK(), "entries:", rep.Entries)

	// Someone edits history directly in the database.
	if _, err := l.DB().ExecContext(ctx, "UPDATE ledger_entries SET description = 'refund' WHERE id = ?", first.ID); err != nil {
		fmt.Println(err)
		return
	}
	rep, err = l.Verify(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range rep.Problems {
		fmt.Println(p.Kind)
	}
	// Output:
	// entry hash: 64 hex digits
	// verified: true entries: 2
	// hash_chain
}
