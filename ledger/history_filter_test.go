package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/settle-go/settle/ledger"
)

// historyFixture posts, an hour apart from t0 (setup's funding), entries with metadata:
//
//	t0+1h  e1 world->bob 1   {"order": "o1", "n": 1}
//	t0+2h  e2 alice->bob 2   {"order": "o2"}
//	t0+3h  e3 world->bob 3   {"order": "o1", "kind": "x"}
//	t0+4h  e4 bob<->alice    four legs, no metadata
func historyFixture(t *testing.T) (*ledger.Ledger, time.Time, []ledger.Entry) {
	t.Helper()
	l, clk := setup(t)
	t0 := clk.Now()
	var es []ledger.Entry
	post := func(in ledger.EntryInput, meta map[string]any) {
		clk.Advance(time.Hour)
		in.Metadata = meta
		es = append(es, mustPost(t, l, in))
	}
	post(ledger.Transfer("", world, bob, dec("1"), ""), map[string]any{"order": "o1", "n": 1})
	post(ledger.Transfer("", alice, bob, dec("2"), ""), map[string]any{"order": "o2"})
	post(ledger.Transfer("", world, bob, dec("3"), ""), map[string]any{"order": "o1", "kind": "x"})
	post(ledger.EntryInput{Postings: []ledger.PostingInput{
		{Account: bob, Direction: ledger.Debit, Amount: dec("1")},
		{Account: alice, Direction: ledger.Credit, Amount: dec("1")},
		{Account: alice, Direction: ledger.Debit, Amount: dec("0.5")},
		{Account: bob, Direction: ledger.Credit, Amount: dec("0.5")},
	}}, nil)
	return l, t0, es
}

func entryIDs(ps []ledger.Posting) []string {
	var out []string
	for _, p := range ps {
		if len(out) == 0 || out[len(out)-1] != p.EntryID {
			out = append(out, p.EntryID)
		}
	}
	return out
}

func sameIDs(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestHistoryFilters(t *testing.T) {
	ctx := context.Background()
	l, t0, es := historyFixture(t)
	ids := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, es[i].ID)
		}
		return out
	}
	cases := []struct {
		name  string
		f     ledger.PostingFilter
		n     int      // postings
		wantE []string // their entries, in order
	}{
		{"from inclusive", ledger.PostingFilter{Account: bob, From: t0.Add(2 * time.Hour)}, 4, ids(1, 2, 3)},
		{"to exclusive", ledger.PostingFilter{Account: bob, To: t0.Add(2 * time.Hour)}, 1, ids(0)},
		{"range", ledger.PostingFilter{From: t0.Add(2 * time.Hour), To: t0.Add(3 * time.Hour)}, 2, ids(1)},
		{"empty range", ledger.PostingFilter{From: t0.Add(3 * time.Hour), To: t0.Add(3 * time.Hour)}, 0, nil},
		{"metadata", ledger.PostingFilter{Metadata: map[string]string{"order": "o1"}}, 4, ids(0, 2)},
		{"metadata two keys", ledger.PostingFilter{Metadata: map[string]string{"order": "o1", "kind": "x"}}, 2, ids(2)},
		{"metadata and account", ledger.PostingFilter{Account: world, Metadata: map[string]string{"order": "o1"}}, 2, ids(0, 2)},
		{"metadata number is not a string", ledger.PostingFilter{Metadata: map[string]string{"n": "1"}}, 0, nil},
		{"metadata missing key", ledger.PostingFilter{Metadata: map[string]string{"nope": "o1"}}, 0, nil},
		{"metadata and range", ledger.PostingFilter{Metadata: map[string]string{"order": "o1"}, From: t0.Add(2 * time.Hour)}, 2, ids(2)},
		{"entry", ledger.PostingFilter{EntryID: es[3].ID}, 4, ids(3)},
		{"entry and account", ledger.PostingFilter{EntryID: es[3].ID, Account: alice}, 2, ids(3)},
		{"entry and asset", ledger.PostingFilter{EntryID: es[3].ID, Asset: "BTC"}, 0, nil},
		{"asset and range", ledger.PostingFilter{Asset: "USDT", From: t0.Add(4 * time.Hour)}, 4, ids(3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, next, err := l.History(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != c.n || next != 0 || !sameIDs(entryIDs(ps), c.wantE) {
				t.Fatalf("%d postings of %v (next %d), want %d of %v", len(ps), entryIDs(ps), next, c.n, c.wantE)
			}
		})
	}
	// Pages under a filter: one posting at a time.
	f := ledger.PostingFilter{Metadata: map[string]string{"order": "o1"}, Limit: 1}
	var all []ledger.Posting
	for {
		ps, next, err := l.History(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ps...)
		if next == 0 {
			break
		}
		f.After = next
	}
	if len(all) != 4 || !sameIDs(entryIDs(all), ids(0, 2)) {
		t.Fatalf("paged: %d postings of %v", len(all), entryIDs(all))
	}

	for _, c := range []struct {
		name string
		f    ledger.PostingFilter
		want error
	}{
		{"unknown entry", ledger.PostingFilter{EntryID: "je_nope"}, ledger.ErrNotFound},
		{"unknown account", ledger.PostingFilter{Account: "nobody"}, ledger.ErrNotFound},
		{"key with a dot", ledger.PostingFilter{Metadata: map[string]string{"a.b": "x"}}, ledger.ErrInvalidFilter},
		{"key with a quote", ledger.PostingFilter{Metadata: map[string]string{`a"') OR 1=1 --`: "x"}}, ledger.ErrInvalidFilter},
		{"empty key", ledger.PostingFilter{Metadata: map[string]string{"": "x"}}, ledger.ErrInvalidFilter},
		{"value not UTF-8", ledger.PostingFilter{Metadata: map[string]string{"order": "\xff"}}, ledger.ErrInvalidFilter},
	} {
		if _, _, err := l.History(ctx, c.f); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestEntries(t *testing.T) {
	ctx := context.Background()
	l, t0, es := historyFixture(t)
	// page collects every page of f, checking that entries do not repeat.
	page := func(t *testing.T, f ledger.EntryFilter) ([]ledger.Entry, int) {
		t.Helper()
		var all []ledger.Entry
		seen := map[string]bool{}
		pages := 0
		for {
			got, next, err := l.Entries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range got {
				if seen[e.ID] {
					t.Fatalf("entry %s twice", e.ID)
				}
				seen[e.ID] = true
			}
			all = append(all, got...)
			if next == "" {
				return all, pages
			}
			if f.Limit > 0 && len(got) != f.Limit {
				t.Fatalf("short page %d with a cursor", len(got))
			}
			f.After = next
		}
	}
	idsOf := func(es []ledger.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	ids := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, es[i].ID)
		}
		return out
	}
	// bob: e1..e4, paged one at a time; e4 touches bob twice and comes once, with all its postings.
	got, pages := page(t, ledger.EntryFilter{Account: bob, Limit: 1})
	if !sameIDs(idsOf(got), ids(0, 1, 2, 3)) || pages != 4 {
		t.Fatalf("bob: %v in %d pages", idsOf(got), pages)
	}
	if len(got[3].Postings) != 4 || got[0].Metadata["order"] != "o1" {
		t.Fatalf("entry loaded incompletely: %+v", got[3])
	}
	// Every entry, two per page: the funding entry first.
	got, pages = page(t, ledger.EntryFilter{Limit: 2})
	if len(got) != 5 || !sameIDs(idsOf(got)[1:], ids(0, 1, 2, 3)) || pages != 3 {
		t.Fatalf("all: %v in %d pages", idsOf(got), pages)
	}
	for _, c := range []struct {
		name string
		f    ledger.EntryFilter
		want []string
	}{
		{"alice", ledger.EntryFilter{Account: alice, From: t0.Add(time.Minute)}, ids(1, 3)},
		{"prefix", ledger.EntryFilter{AccountPrefix: "world:"}, nil}, // checked by length below
		{"range", ledger.EntryFilter{From: t0.Add(2 * time.Hour), To: t0.Add(4 * time.Hour)}, ids(1, 2)},
		{"metadata", ledger.EntryFilter{Metadata: map[string]string{"order": "o1"}}, ids(0, 2)},
		{"metadata and account", ledger.EntryFilter{Account: alice, Metadata: map[string]string{"order": "o1"}}, nil},
		{"metadata and range", ledger.EntryFilter{Metadata: map[string]string{"order": "o1"}, To: t0.Add(2 * time.Hour)}, ids(0)},
	} {
		got, _ := page(t, c.f)
		if c.name == "prefix" {
			if len(got) != 3 { // funding, e1, e3
				t.Fatalf("prefix: %v", idsOf(got))
			}
			continue
		}
		if !sameIDs(idsOf(got), c.want) {
			t.Fatalf("%s: %v, want %v", c.name, idsOf(got), c.want)
		}
	}
	for _, c := range []struct {
		name string
		f    ledger.EntryFilter
		want error
	}{
		{"unknown account", ledger.EntryFilter{Account: "nobody"}, ledger.ErrNotFound},
		{"bad cursor", ledger.EntryFilter{After: "x1"}, ledger.ErrInvalidFilter},
		{"negative cursor", ledger.EntryFilter{After: "-4"}, ledger.ErrInvalidFilter},
		{"bad key", ledger.EntryFilter{Metadata: map[string]string{"a b": "x"}}, ledger.ErrInvalidFilter},
	} {
		if _, _, err := l.Entries(ctx, c.f); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// Entries shows reversals linked both ways.
func TestEntriesShowReversals(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	orig := mustPost(t, l, ledger.Transfer("", alice, bob, dec("5"), ""))
	rev, err := l.Reverse(ctx, orig.ID, ledger.ReverseInput{})
	if err != nil {
		t.Fatal(err)
	}
	got, next, err := l.Entries(ctx, ledger.EntryFilter{Account: bob})
	if err != nil || next != "" || len(got) != 2 {
		t.Fatalf("%v %q %+v", err, next, got)
	}
	if got[0].ID != orig.ID || got[0].ReversedBy != rev.ID || got[1].ID != rev.ID || got[1].Reverses != orig.ID {
		t.Fatalf("links: %+v", got)
	}
}

func TestBalanceAsOf(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t) // alice funded with 100
	mustPost(t, l, ledger.Transfer("", alice, bob, dec("30"), ""))
	mustPost(t, l, ledger.Transfer("", bob, alice, dec("5"), ""))
	ps, _, err := l.History(ctx, ledger.PostingFilter{Account: alice})
	if err != nil || len(ps) != 3 {
		t.Fatalf("%v %d", err, len(ps))
	}
	for i, want := range []string{"100", "70", "75"} {
		got, err := l.BalanceAsOf(ctx, alice, ps[i].ID)
		if err != nil || !got.Equal(dec(want)) {
			t.Fatalf("after posting %d: %s, %v; want %s", i, got, err, want)
		}
	}
	bobs, _, err := l.History(ctx, ledger.PostingFilter{Account: bob})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.BalanceAsOf(ctx, alice, bobs[0].ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("bob's posting as alice's: %v", err)
	}
	if _, err := l.BalanceAsOf(ctx, alice, 1_000_000); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown posting: %v", err)
	}
	if _, err := l.BalanceAsOf(ctx, "nobody", ps[0].ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}

// Entries, paged, returns the same entries as History's postings under the same filter, in the
// order of their first matching posting, whatever the page size.
func TestEntriesMatchesHistory(t *testing.T) {
	ctx := context.Background()
	l, clk := setup(t)
	t0 := clk.Now()
	accts := []string{world, alice, bob}
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 40; i++ {
		clk.Advance(time.Minute)
		from, to := accts[r.IntN(3)], accts[r.IntN(3)]
		in := ledger.EntryInput{Metadata: map[string]any{"tag": fmt.Sprintf("t%d", r.IntN(3))}, Postings: []ledger.PostingInput{
			{Account: world, Direction: ledger.Debit, Amount: dec("1")},
			{Account: from, Direction: ledger.Credit, Amount: dec("1")},
			{Account: from, Direction: ledger.Debit, Amount: dec("0.5")},
			{Account: to, Direction: ledger.Credit, Amount: dec("0.5")},
		}}
		mustPost(t, l, in)
	}
	for _, f := range []ledger.PostingFilter{
		{},
		{Account: bob},
		{Account: alice, Metadata: map[string]string{"tag": "t1"}},
		{AccountPrefix: "b", From: t0.Add(10 * time.Minute), To: t0.Add(30 * time.Minute)},
		{Metadata: map[string]string{"tag": "t2"}, From: t0.Add(5 * time.Minute)},
	} {
		var want []string
		seen := map[string]bool{}
		hf := f
		for {
			ps, next, err := l.History(ctx, hf)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if !seen[p.EntryID] {
					seen[p.EntryID] = true
					want = append(want, p.EntryID)
				}
			}
			if next == 0 {
				break
			}
			hf.After = next
		}
		for _, limit := range []int{1, 3, 7, 1000} {
			ef := ledger.EntryFilter{Account: f.Account, AccountPrefix: f.AccountPrefix, From: f.From, To: f.To,
				Metadata: f.Metadata, Limit: limit}
			var got []string
			for {
				es, next, err := l.Entries(ctx, ef)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					got = append(got, e.ID)
				}
				if next == "" {
					break
				}
				ef.After = next
			}
			if !sameIDs(got, want) {
				t.Fatalf("filter %+v limit %d: Entries %v, History %v", f, limit, got, want)
			}
		}
	}
}

// TestEntriesPagingConcurrentWriters pages through entries written by concurrent goroutines, whose
// postings' IDs interleave on PostgreSQL (an entry can have postings on both sides of a page's
// cursor): every entry must be listed exactly once.
func TestEntriesPagingConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t)
	const writers, perWriter, legs = 6, 15, 40
	for w := 0; w < writers; w++ { // each writer its own accounts, so that writers run at once
		for _, s := range []ledger.AccountSpec{
			{Code: fmt.Sprintf("w%d:USDT", w), Asset: "USDT", Normal: ledger.Credit},
			{Code: fmt.Sprintf("src%d:USDT", w), Asset: "USDT", Normal: ledger.Debit},
		} {
			if _, err := l.EnsureAccount(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			acct, src := fmt.Sprintf("w%d:USDT", w), fmt.Sprintf("src%d:USDT", w)
			for i := 0; i < perWriter; i++ {
				in := ledger.EntryInput{}
				for j := 0; j < legs/2; j++ {
					in.Postings = append(in.Postings,
						ledger.PostingInput{Account: src, Direction: ledger.Debit, Amount: dec("1")},
						ledger.PostingInput{Account: acct, Direction: ledger.Credit, Amount: dec("1")})
				}
				if _, err := l.Post(ctx, in); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	after := ""
	for pages := 0; ; pages++ {
		es, next, err := l.Entries(ctx, ledger.EntryFilter{Limit: 7, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			seen[e.ID]++
		}
		if next == "" {
			break
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		after = next
	}
	want := 1 + writers*perWriter // setup's funding entry, too
	if len(seen) != want {
		t.Fatalf("listed %d entries, want %d", len(seen), want)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("entry %s listed %d times", id, n)
		}
	}
}
