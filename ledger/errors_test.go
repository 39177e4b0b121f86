package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/settle-go/settle/ledger"
)

// TestWriteErrors checks every write error: errors.Is matches the sentinel, and the failed write
// left balances, postings, entries and holds exactly as they were.
func TestWriteErrors(t *testing.T) {
	ctx := context.Background()
	holdOf := func(t *testing.T, e *env, amount string, exp time.Duration) {
		t.Helper()
		in := ledger.HoldInput{Debit: alice, Credit: world, Amount: dec(amount)}
		if exp > 0 {
			in.ExpiresAt = e.clk.Now().Add(exp)
		}
		h, err := e.l.Hold(ctx, in)
		if err != nil {
			t.Fatalf("hold: %v", err)
		}
		e.hold = h.ID
	}
	post := func(in ledger.EntryInput) func(*env) error {
		return func(e *env) error { _, err := e.l.Post(ctx, in); return err }
	}
	hold := func(in ledger.HoldInput) func(*env) error {
		return func(e *env) error { _, err := e.l.Hold(ctx, in); return err }
	}
	capture := func(amount, key string) func(*env) error {
		return func(e *env) error { _, _, err := e.l.Capture(ctx, e.hold, dec(amount), key); return err }
	}
	void := func(e *env) error { _, err := e.l.Void(ctx, e.hold); return err }
	legs := func(ps ...ledger.PostingInput) ledger.EntryInput { return ledger.EntryInput{Postings: ps} }
	D := func(acct, amount string) ledger.PostingInput {
		return ledger.PostingInput{Account: acct, Direction: ledger.Debit, Amount: dec(amount)}
	}
	C := func(acct, amount string) ledger.PostingInput {
		return ledger.PostingInput{Account: acct, Direction: ledger.Credit, Amount: dec(amount)}
	}

	cases := []struct {
		name string
		prep func(t *testing.T, e *env)
		act  func(e *env) error
		want []error
	}{
		// Post
		{name: "post zero amount", act: post(ledger.Transfer("", world, alice, dec("0"), "")), want: []error{ledger.ErrInvalidAmount}},
		{name: "post negative amount", act: post(ledger.Transfer("", world, alice, dec("-1"), "")), want: []error{ledger.ErrInvalidAmount}},
		{name: "post too many decimals", act: post(ledger.Transfer("", world, alice, dec("1.0000001"), "")), want: []error{ledger.ErrInvalidAmount}},
		{name: "post unbalanced", act: post(legs(D(world, "10"), C(alice, "9"))), want: []error{ledger.ErrUnbalanced}},
		{name: "post all debits", act: post(legs(D(world, "10"), D(alice, "10"))), want: []error{ledger.ErrUnbalanced}},
		{name: "post one posting", act: post(legs(D(world, "10"))), want: []error{ledger.ErrInvalidEntry}},
		{name: "post no postings", act: post(ledger.EntryInput{}), want: []error{ledger.ErrInvalidEntry}},
		{name: "post bad direction", act: post(legs(D(world, "1"), ledger.PostingInput{Account: alice, Direction: "sideways", Amount: dec("1")})), want: []error{ledger.ErrInvalidEntry}},
		{name: "post empty account", act: post(legs(D(world, "1"), C("", "1"))), want: []error{ledger.ErrInvalidEntry}},
		{name: "post unknown account", act: post(ledger.Transfer("", world, "nobody:USDT", dec("1"), "")), want: []error{ledger.ErrNotFound}},
		{name: "post asset mismatch", act: post(ledger.Transfer("", world, carolBTC, dec("1"), "")), want: []error{ledger.ErrAssetMismatch, ledger.ErrUnbalanced}},
		{name: "post insufficient funds", act: post(ledger.Transfer("", alice, bob, dec("100.000001"), "")), want: []error{ledger.ErrInsufficientFunds}},
		{name: "post insufficient funds after a hold",
			prep: func(t *testing.T, e *env) { holdOf(t, e, "60", 0) },
			act:  post(ledger.Transfer("", alice, bob, dec("40.000001"), "")), want: []error{ledger.ErrInsufficientFunds}},
		{name: "post second leg overdraws",
			act:  post(legs(D(alice, "100"), C(bob, "100"), D(bob, "100.5"), C(world, "100.5"))),
			want: []error{ledger.ErrInsufficientFunds}},
		{name: "post idempotency conflict",
			prep: func(t *testing.T, e *env) { mustPost(t, e.l, ledger.Transfer("k1", alice, bob, dec("1"), "")) },
			act:  post(ledger.Transfer("k1", alice, bob, dec("2"), "")), want: []error{ledger.ErrIdempotencyConflict}},
		{name: "post unencodable metadata",
			act:  post(ledger.EntryInput{Metadata: map[string]any{"c": make(chan int)}, Postings: []ledger.PostingInput{D(world, "1"), C(alice, "1")}}),
			want: []error{ledger.ErrInvalidEntry}},

		// Hold
		{name: "hold zero", act: hold(ledger.HoldInput{Debit: alice, Credit: world, Amount: dec("0")}), want: []error{ledger.ErrInvalidAmount}},
		{name: "hold too many decimals", act: hold(ledger.HoldInput{Debit: alice, Credit: world, Amount: dec("0.0000001")}), want: []error{ledger.ErrInvalidAmount}},
		{name: "hold unknown account", act: hold(ledger.HoldInput{Debit: "nobody:USDT", Credit: world, Amount: dec("1")}), want: []error{ledger.ErrNotFound}},
		{name: "hold asset mismatch", act: hold(ledger.HoldInput{Debit: alice, Credit: worldBTC, Amount: dec("1")}), want: []error{ledger.ErrAssetMismatch}},
		{name: "hold insufficient funds", act: hold(ledger.HoldInput{Debit: alice, Credit: world, Amount: dec("100.01")}), want: []error{ledger.ErrInsufficientFunds}},
		{name: "hold insufficient after another hold",
			prep: func(t *testing.T, e *env) { holdOf(t, e, "99", 0) },
			act:  hold(ledger.HoldInput{Debit: alice, Credit: world, Amount: dec("1.01")}), want: []error{ledger.ErrInsufficientFunds}},
		{name: "hold to itself", act: hold(ledger.HoldInput{Debit: alice, Credit: alice, Amount: dec("1")}), want: []error{ledger.ErrInvalidEntry}},
		{name: "hold already expired",
			act: func(e *env) error {
				_, err := e.l.Hold(ctx, ledger.HoldInput{Debit: alice, Credit: world, Amount: dec("1"), ExpiresAt: e.clk.Now()})
				return err
			}, want: []error{ledger.ErrInvalidEntry}},
		{name: "hold idempotency conflict",
			prep: func(t *testing.T, e *env) {
				if _, err := e.l.Hold(ctx, ledger.HoldInput{IdempotencyKey: "h1", Debit: alice, Credit: world, Amount: dec("1")}); err != nil {
					t.Fatal(err)
				}
			},
			act: hold(ledger.HoldInput{IdempotencyKey: "h1", Debit: alice, Credit: world, Amount: dec("1.5")}), want: []error{ledger.ErrIdempotencyConflict}},

		// Capture
		{name: "capture unknown hold", act: func(e *env) error { _, _, err := e.l.Capture(ctx, "hold_nope", dec("0"), ""); return err }, want: []error{ledger.ErrNotFound}},
		{name: "capture more than held", prep: func(t *testing.T, e *env) { holdOf(t, e, "10", 0) }, act: capture("10.000001", ""), want: []error{ledger.ErrInvalidAmount}},
		{name: "capture negative", prep: func(t *testing.T, e *env) { holdOf(t, e, "10", 0) }, act: capture("-1", ""), want: []error{ledger.ErrInvalidAmount}},
		{name: "capture too many decimals", prep: func(t *testing.T, e *env) { holdOf(t, e, "10", 0) }, act: capture("1.0000001", ""), want: []error{ledger.ErrInvalidAmount}},
		{name: "capture twice",
			prep: func(t *testing.T, e *env) {
				holdOf(t, e, "10", 0)
				if _, _, err := e.l.Capture(ctx, e.hold, dec("0"), ""); err != nil {
					t.Fatal(err)
				}
			},
			act: capture("0", ""), want: []error{ledger.ErrHoldNotPending}},
		{name: "capture voided",
			prep: func(t *testing.T, e *env) {
				holdOf(t, e, "10", 0)
				if _, err := e.l.Void(ctx, e.hold); err != nil {
					t.Fatal(err)
				}
			},
			act: capture("0", ""), want: []error{ledger.ErrHoldNotPending}},
		{name: "capture expired",
			prep: func(t *testing.T, e *env) { holdOf(t, e, "10", time.Minute); e.clk.Advance(time.Minute) },
			act:  capture("0", ""), want: []error{ledger.ErrHoldNotPending}},
		{name: "capture key used by a post",
			prep: func(t *testing.T, e *env) {
				holdOf(t, e, "10", 0)
				mustPost(t, e.l, ledger.Transfer("k2", alice, bob, dec("1"), ""))
			},
			act: capture("0", "k2"), want: []error{ledger.ErrIdempotencyConflict}},

		// Void
		{name: "void unknown hold", act: func(e *env) error { _, err := e.l.Void(ctx, "hold_nope"); return err }, want: []error{ledger.ErrNotFound}},
		{name: "void twice",
			prep: func(t *testing.T, e *env) {
				holdOf(t, e, "10", 0)
				if _, err := e.l.Void(ctx, e.hold); err != nil {
					t.Fatal(err)
				}
			},
			act: void, want: []error{ledger.ErrHoldNotPending}},
		{name: "void captured",
			prep: func(t *testing.T, e *env) {
				holdOf(t, e, "10", 0)
				if _, _, err := e.l.Capture(ctx, e.hold, dec("4"), ""); err != nil {
					t.Fatal(err)
				}
			},
			act: void, want: []error{ledger.ErrHoldNotPending}},
		{name: "void expired",
			prep: func(t *testing.T, e *env) { holdOf(t, e, "10", time.Second); e.clk.Advance(time.Hour) },
			act:  void, want: []error{ledger.ErrHoldNotPending}},

		// Accounts and assets
		{name: "account other asset", act: ensureAccount(ledger.AccountSpec{Code: alice, Asset: "USDC", Normal: ledger.Credit, Flags: ledger.NoOverdraft}), want: []error{ledger.ErrAccountConflict}},
		{name: "account other side", act: ensureAccount(ledger.AccountSpec{Code: alice, Asset: "USDT", Normal: ledger.Debit, Flags: ledger.NoOverdraft}), want: []error{ledger.ErrAccountConflict}},
		{name: "account other flags", act: ensureAccount(ledger.AccountSpec{Code: alice, Asset: "USDT", Normal: ledger.Credit}), want: []error{ledger.ErrAccountConflict}},
		{name: "account unknown asset", act: ensureAccount(ledger.AccountSpec{Code: "x:DOGE", Asset: "DOGE", Normal: ledger.Credit}), want: []error{ledger.ErrNotFound}},
		{name: "account bad side", act: ensureAccount(ledger.AccountSpec{Code: "x:USDT", Asset: "USDT", Normal: "up"}), want: []error{ledger.ErrInvalidAccount}},
		{name: "account bad flags", act: ensureAccount(ledger.AccountSpec{Code: "x:USDT", Asset: "USDT", Normal: ledger.Credit, Flags: 1 << 7}), want: []error{ledger.ErrInvalidAccount}},
		{name: "account empty code", act: ensureAccount(ledger.AccountSpec{Asset: "USDT", Normal: ledger.Credit}), want: []error{ledger.ErrInvalidAccount}},
		{name: "account code with space", act: ensureAccount(ledger.AccountSpec{Code: "a b", Asset: "USDT", Normal: ledger.Credit}), want: []error{ledger.ErrInvalidAccount}},
		{name: "asset other precision", act: func(e *env) error { return e.l.EnsureAsset(ctx, ledger.Asset{Code: "USDT", Precision: 18}) }, want: []error{ledger.ErrAssetConflict}},
		{name: "asset bad code", act: func(e *env) error { return e.l.EnsureAsset(ctx, ledger.Asset{Code: "usdt", Precision: 6}) }, want: []error{ledger.ErrInvalidAsset}},
		{name: "asset bad precision", act: func(e *env) error { return e.l.EnsureAsset(ctx, ledger.Asset{Code: "XYZ", Precision: 31}) }, want: []error{ledger.ErrInvalidAsset}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, clk := setup(t)
			e := &env{l: l, clk: clk}
			if tc.prep != nil {
				tc.prep(t, e)
			}
			before := snapshot(t, l)
			err := tc.act(e)
			if err == nil {
				t.Fatalf("no error, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("error %q does not match %q", err, w)
				}
			}
			if after := snapshot(t, l); after != before {
				t.Fatalf("failed write changed the ledger:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			mustVerify(t, l)
		})
	}
}

// env is what a TestWriteErrors case works on.
type env struct {
	l    *ledger.Ledger
	clk  *clock
	hold string // a hold id prepared by prep
}

func ensureAccount(spec ledger.AccountSpec) func(e *env) error {
	return func(e *env) error { _, err := e.l.EnsureAccount(context.Background(), spec); return err }
}
