package ledger

import (
	"context"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/internal/dbtest"
)

// chainLedger returns a migrated ledger with USDT, a debit-normal world account and the
// credit-normal accounts a and b.
func chainLedger(t *testing.T) *Ledger {
	t.Helper()
	ctx := context.Background()
	db := dbtest.Open(t)
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	l := New(db, Config{})
	if err := l.EnsureAsset(ctx, Asset{Code: "USDT", Precision: 6}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []AccountSpec{
		{Code: "world", Asset: "USDT", Normal: Debit},
		{Code: "a", Asset: "USDT", Normal: Credit, Flags: NoOverdraft},
		{Code: "b", Asset: "USDT", Normal: Credit, Flags: NoOverdraft},
	} {
		if _, err := l.EnsureAccount(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func post(t *testing.T, l *Ledger, from, to, amount, desc string) Entry {
	t.Helper()
	e, err := l.Post(context.Background(), Transfer("", from, to, decimal.RequireFromString(amount), desc))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func kinds(rep Report) map[string][]string {
	out := map[string][]string{}
	for _, p := range rep.Problems {
		out[p.Kind] = append(out[p.Kind], p.Account)
	}
	return out
}

// TestCheckpointDetectsRewrittenHistory forges an entry and then recomputes the whole hash chain,
// as an attacker with write access to the database could: Verify cannot tell, a checkpoint taken
// before the forgery can.
func TestCheckpointDetectsRewrittenHistory(t *testing.T) {
	ctx := context.Background()
	l := chainLedger(t)
	post(t, l, "world", "a", "100", "funding")
	victim := post(t, l, "a", "b", "10", "rent")
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Heads) != 3 || len(cp.Digest) != 64 {
		t.Fatalf("checkpoint %+v", cp)
	}
	post(t, l, "b", "a", "3", "later")
	if rep, err := l.VerifyCheckpoint(ctx, cp); err != nil || !rep.OK() {
		t.Fatalf("untouched ledger: %v %+v", err, rep.Problems)
	}

	if _, err := l.DB().ExecContext(ctx, "UPDATE ledger_entries SET description = 'forged' WHERE id = ?", victim.ID); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.Verify(ctx); err != nil || kinds(rep)[ProblemChain] == nil {
		t.Fatalf("Verify before the chain is recomputed: %v %+v", err, rep.Problems)
	}
	if err := rechain(ctx, l.DB()); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("a recomputed chain should fool Verify: %v %+v", err, rep.Problems)
	}
	rep, err := l.VerifyCheckpoint(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(kinds(rep)[ProblemCheckpoint], ",")
	if got != "a,b" {
		t.Fatalf("checkpoint problems for %q, want a and b: %+v", got, rep.Problems)
	}
}

// TestCheckpointDigest: a checkpoint whose heads were edited no longer matches its digest.
func TestCheckpointDigest(t *testing.T) {
	ctx := context.Background()
	l := chainLedger(t)
	post(t, l, "world", "a", "100", "")
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp.Heads[1].Seq = 0
	cp.Heads[1].Head = ""
	rep, err := l.VerifyCheckpoint(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemCheckpoint || !strings.Contains(rep.Problems[0].Detail, "digest") {
		t.Fatalf("problems %+v", rep.Problems)
	}
}

// TestRechainJoinsOldEntries: entries written before the chain existed (no hashes) join it when
// the schema step runs rechain, and then verify.
func TestRechainJoinsOldEntries(t *testing.T) {
	ctx := context.Background()
	l := chainLedger(t)
	post(t, l, "world", "a", "100", "")
	post(t, l, "a", "b", "10", "")
	if _, err := l.PostBatch(ctx, []EntryInput{
		Transfer("", "b", "a", decimal.RequireFromString("1"), ""),
		Transfer("", "a", "b", decimal.RequireFromString("2"), ""),
	}, AllOrNothing); err != nil {
		t.Fatal(err)
	}
	want, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"UPDATE ledger_entries SET hash = NULL", "UPDATE ledger_postings SET prev_hash = NULL", "UPDATE ledger_accounts SET head = NULL"} {
		if _, err := l.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if rep, _ := l.Verify(ctx); rep.OK() {
		t.Fatal("Verify accepted entries without hashes")
	}
	if err := rechain(ctx, l.DB()); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.VerifyCheckpoint(ctx, want); err != nil || !rep.OK() {
		t.Fatalf("after rechain: %v %+v", err, rep.Problems)
	}
}
