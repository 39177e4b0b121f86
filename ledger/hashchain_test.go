package ledger_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/settle-go/settle/ledger"
)

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestHashChainCarriedOnEntries checks that every entry has a hash, that reading it back (and
// replaying its idempotency key) gives the same hash, and that metadata numbers in any notation
// verify on both stores (PostgreSQL's JSONB rewrites 1e2 as 100).
func TestHashChainCarriedOnEntries(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	in := ledger.Transfer("k1", alice, bob, dec("1.5"), "with numbers")
	in.Metadata = map[string]any{"n": 1e21, "f": 1.50, "big": map[string]any{"x": []any{1, 2.5, "s"}}, "t": true}
	e := mustPost(t, l, in)
	if !hexHash.MatchString(e.Hash) {
		t.Fatalf("hash %q", e.Hash)
	}
	again := mustPost(t, l, in)
	got, err := l.Entry(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Hash != e.Hash || got.Hash != e.Hash {
		t.Fatalf("hash posted %s, replayed %s, read %s", e.Hash, again.Hash, got.Hash)
	}
	next := mustPost(t, l, ledger.Transfer("", alice, bob, dec("1"), ""))
	if next.Hash == e.Hash {
		t.Fatal("two entries share a hash")
	}
	mustVerify(t, l)
}

// TestHashChainDetectsTampering changes stored history in ways the other invariants cannot see and
// checks that Verify reports a broken hash chain.
func TestHashChainDetectsTampering(t *testing.T) {
	cases := []struct {
		name, sql, detail string
	}{
		{name: "description", sql: "UPDATE ledger_entries SET description = 'edited' WHERE id = ?", detail: "content hashes to"},
		{name: "metadata", sql: `UPDATE ledger_entries SET metadata = '{"order":"other"}' WHERE id = ?`, detail: "content hashes to"},
		{name: "time", sql: "UPDATE ledger_entries SET created_at = (SELECT created_at FROM ledger_accounts LIMIT 1) WHERE id = ?", detail: "content hashes to"},
		{name: "removed hash", sql: "UPDATE ledger_entries SET hash = NULL WHERE id = ?", detail: "has no hash"},
		{name: "link", sql: "UPDATE ledger_postings SET prev_hash = NULL WHERE entry_id = ?", detail: "links to none"},
		{name: "hash replaced", sql: "UPDATE ledger_entries SET hash = (SELECT hash FROM ledger_entries e2 WHERE e2.id <> ledger_entries.id LIMIT 1) WHERE id = ?", detail: "content hashes to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l, clk := setup(t)
			clk.Advance(time.Hour) // the entries are younger than the accounts
			in := ledger.Transfer("", alice, bob, dec("10"), "rent")
			in.Metadata = map[string]any{"order": "o-1"}
			mid := mustPost(t, l, in)
			mustPost(t, l, ledger.Transfer("", alice, bob, dec("5"), "later"))
			mustVerify(t, l)
			if _, err := l.DB().ExecContext(ctx, tc.sql, mid.ID); err != nil {
				t.Fatal(err)
			}
			wantChainProblem(t, l, tc.detail)
		})
	}
}

// TestHashChainDetectsRemovedEntry removes the last entry, its postings and its effect on the
// balances, leaving every balance invariant intact: only the accounts' heads give it away.
func TestHashChainDetectsRemovedEntry(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	mustPost(t, l, ledger.Transfer("", alice, bob, dec("10"), ""))
	type counters struct{ dp, cp string }
	read := func() map[string]counters {
		rows, err := l.DB().QueryContext(ctx, "SELECT id, CAST(debits_posted AS TEXT), CAST(credits_posted AS TEXT) FROM ledger_accounts")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]counters{}
		for rows.Next() {
			var id string
			var c counters
			if err := rows.Scan(&id, &c.dp, &c.cp); err != nil {
				t.Fatal(err)
			}
			out[id] = c
		}
		return out
	}
	before := read()
	last := mustPost(t, l, ledger.Transfer("", alice, bob, dec("5"), ""))
	for _, q := range []string{"DELETE FROM ledger_postings WHERE entry_id = ?", "DELETE FROM ledger_entries WHERE id = ?"} {
		if _, err := l.DB().ExecContext(ctx, q, last.ID); err != nil {
			t.Fatal(err)
		}
	}
	for id, c := range before {
		if _, err := l.DB().ExecContext(ctx, "UPDATE ledger_accounts SET debits_posted = ?, credits_posted = ?, seq = (SELECT COUNT(*) FROM ledger_postings p WHERE p.account_id = ledger_accounts.id) WHERE id = ?", c.dp, c.cp, id); err != nil {
			t.Fatal(err)
		}
	}
	rep := wantChainProblem(t, l, "head is")
	for _, p := range rep.Problems {
		if p.Kind != ledger.ProblemChain {
			t.Errorf("the removal should show only in the chain, got %+v", p)
		}
	}
}

func wantChainProblem(t *testing.T, l *ledger.Ledger, detail string) ledger.Report {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Kind == ledger.ProblemChain && strings.Contains(p.Detail, detail) {
			return rep
		}
	}
	t.Fatalf("no %s problem containing %q in %+v", ledger.ProblemChain, detail, rep.Problems)
	return rep
}
