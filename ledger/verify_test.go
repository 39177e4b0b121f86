package ledger_test

import (
	"context"
	"testing"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/ledger"
)

// TestVerifyFindsCorruption corrupts stored rows with raw SQL and checks that Verify names the
// problem.
func TestVerifyFindsCorruption(t *testing.T) {
	cases := []struct {
		name    string
		sql     string
		args    []any
		kind    string
		account string
		pgOnly  bool // SQLite's foreign keys refuse the corruption
	}{
		{name: "balance counter", sql: "UPDATE ledger_accounts SET credits_posted = '999' WHERE code = ?", args: []any{bob},
			kind: ledger.ProblemPosted, account: bob},
		{name: "counter breaks asset sum", sql: "UPDATE ledger_accounts SET credits_posted = '999' WHERE code = ?", args: []any{bob},
			kind: ledger.ProblemAssetImbalance},
		{name: "overdrawn account", sql: "UPDATE ledger_accounts SET debits_posted = '500000000' WHERE code = ?", args: []any{alice},
			kind: ledger.ProblemOverdraft, account: alice},
		{name: "pending counter", sql: "UPDATE ledger_accounts SET debits_pending = '1' WHERE code = ?", args: []any{alice},
			kind: ledger.ProblemPending, account: alice},
		{name: "posting amount", sql: "UPDATE ledger_postings SET amount = '1' WHERE seq = 2 AND account_id = (SELECT id FROM ledger_accounts WHERE code = ?)", args: []any{alice},
			kind: ledger.ProblemRunningBalance, account: alice},
		{name: "posting amount unbalances its entry", sql: "UPDATE ledger_postings SET amount = '1' WHERE seq = 2 AND account_id = (SELECT id FROM ledger_accounts WHERE code = ?)", args: []any{alice},
			kind: ledger.ProblemEntry},
		{name: "running balance", sql: "UPDATE ledger_postings SET balance_before = '7' WHERE seq = 2 AND account_id = (SELECT id FROM ledger_accounts WHERE code = ?)", args: []any{bob},
			kind: ledger.ProblemRunningBalance, account: bob},
		{name: "missing posting", sql: "DELETE FROM ledger_postings WHERE seq = 1 AND account_id = (SELECT id FROM ledger_accounts WHERE code = ?)", args: []any{bob},
			kind: ledger.ProblemSequence, account: bob},
		{name: "account seq", sql: "UPDATE ledger_accounts SET seq = 9 WHERE code = ?", args: []any{bob},
			kind: ledger.ProblemSequence, account: bob},
		{name: "posting of no entry", sql: "UPDATE ledger_postings SET entry_id = 'je_gone' WHERE seq = 2 AND account_id = (SELECT id FROM ledger_accounts WHERE code = ?)", args: []any{bob},
			kind: ledger.ProblemEntry, pgOnly: true},
		{name: "reversal of no entry", sql: "UPDATE ledger_entries SET reverses_entry_id = 'je_gone' WHERE id = (SELECT entry_id FROM ledger_postings WHERE seq = 2 AND account_id = (SELECT id FROM ledger_accounts WHERE code = ?))", args: []any{bob},
			kind: ledger.ProblemReversal, pgOnly: true},
		{name: "hold amount", sql: "UPDATE ledger_holds SET amount = '2000000'", kind: ledger.ProblemPending, account: alice},
		{name: "hold status", sql: "UPDATE ledger_holds SET status = 'voided'", kind: ledger.ProblemPending, account: alice},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l, _ := setup(t)
			if tc.pgOnly && !database.IsPostgres(l.DB()) {
				t.Skip("SQLite's foreign keys refuse this corruption")
			}
			mustPost(t, l, ledger.Transfer("", alice, bob, dec("10"), ""))
			mustPost(t, l, ledger.Transfer("", alice, bob, dec("5"), ""))
			if _, err := l.Hold(ctx, ledger.HoldInput{Debit: alice, Credit: bob, Amount: dec("1")}); err != nil {
				t.Fatal(err)
			}
			mustVerify(t, l)
			if _, err := l.DB().ExecContext(ctx, tc.sql, tc.args...); err != nil {
				t.Fatal(err)
			}
			rep, err := l.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("Verify found nothing")
			}
			for _, p := range rep.Problems {
				if p.Kind == tc.kind && (tc.account == "" || p.Account == tc.account) {
					return
				}
			}
			t.Fatalf("no %s problem for %q in %+v", tc.kind, tc.account, rep.Problems)
		})
	}
}

func TestVerifyCountsWhatItChecked(t *testing.T) {
	l, _ := setup(t)
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Accounts != 7 || rep.Entries != 1 || rep.Postings != 2 || rep.Holds != 0 {
		t.Fatalf("report %+v", rep)
	}
}
