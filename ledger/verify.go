package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/uptrace/bun"
)

// Problem kinds Verify reports.
const (
	// ProblemPosted: an account's posted counters differ from the sums of its postings.
	ProblemPosted = "posted_mismatch"
	// ProblemPending: an account's pending counters differ from the sums of its pending holds.
	ProblemPending = "pending_mismatch"
	// ProblemSequence: an account's postings are not numbered 1..n, or its seq is not n.
	ProblemSequence = "sequence"
	// ProblemRunningBalance: a posting's balance_before is not the previous posting's
	// balance_after, its balance_after is not balance_before moved by its amount, or the last
	// balance_after is not the account's posted balance.
	ProblemRunningBalance = "running_balance"
	// ProblemNegative: a balance counter or a posting amount is negative (or zero, for amounts).
	ProblemNegative = "negative"
	// ProblemOverdraft: a NoOverdraft account's available balance is below zero.
	ProblemOverdraft = "overdraft"
	// ProblemAssetImbalance: an asset's debits and credits, posted or pending, do not sum to zero.
	ProblemAssetImbalance = "asset_imbalance"
	// ProblemEntry: an entry has fewer than two postings or does not balance per asset.
	ProblemEntry = "entry"
	// ProblemHold: a hold's row is inconsistent (asset, captured amount, status, entry).
	ProblemHold = "hold"
	// ProblemReversal: a reversal's postings do not mirror its original's (same accounts and
	// amounts, opposite directions), or it reverses a reversal.
	ProblemReversal = "reversal"
	// ProblemChain: the hash chain is broken: an entry's hash does not match its content, a
	// posting does not link to the hash of its account's previous entry, or an account's head is
	// not the hash of its last entry (see Entry.Hash).
	ProblemChain = "hash_chain"
)

// maxProblems caps a Report's Problems.
const maxProblems = 1000

// Problem is one invariant violation found by Verify.
type Problem struct {
	Kind    string // one of the Problem… constants
	Account string // account code, if the problem is an account's
	Asset   string
	Detail  string
}

// Report is the result of Verify.
type Report struct {
	Problems []Problem
	// Truncated is set when more than 1000 problems were found and the rest left out.
	Truncated bool
	// What was checked.
	Accounts, Entries, Postings, Holds int
	CheckedAt                          time.Time
}

// OK reports whether Verify found no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 && !r.Truncated }

func (r *Report) add(kind, account, asset, format string, args ...any) {
	if len(r.Problems) >= maxProblems {
		r.Truncated = true
		return
	}
	r.Problems = append(r.Problems, Problem{Kind: kind, Account: account, Asset: asset, Detail: fmt.Sprintf(format, args...)})
}

type verifyAcct struct {
	*accountRow
	sumD, sumC   units // postings
	pendD, pendC units // pending holds
	n, lastSeq   int64
	lastAfter    units
	// The hash chain as walked so far: the last posting's entry, its prev_hash and its entry's hash.
	lastEntry          string
	lastPrev, lastHash []byte
}

// Verify checks the ledger's invariants over one consistent snapshot of the whole ledger (a
// read-only repeatable-read transaction on PostgreSQL, a read transaction on SQLite) and reports
// every violation it finds (up to 1000):
//
//   - each account's posted counters equal the sums of its postings, and its pending counters the
//     sums of its pending holds; no counter is negative;
//   - each account's postings are numbered 1..n with n its seq, and their running balances chain:
//     the first starts at zero, each balance_before is the previous balance_after, each
//     balance_after is balance_before moved by the amount, the last is the posted balance;
//   - no NoOverdraft account's available balance is below zero;
//   - for each asset, posted debits equal posted credits and pending debits equal pending credits;
//   - every entry has at least two postings and balances per asset; holds are self-consistent;
//   - every posting belongs to an existing entry and account, every reversal reverses an existing
//     entry;
//   - every reversal's postings mirror its original's exactly, and no reversal reverses a reversal;
//   - the hash chain holds: every entry's hash is the SHA-256 of its content, its postings and
//     their running balances, and the previous hash of each of its accounts; every posting links
//     to the hash of its account's previous entry; every account's head is its last entry's hash.
//     An entry changed, removed or inserted after the fact therefore shows up here, unless every
//     later hash on its accounts was recomputed too, which Checkpoint and VerifyCheckpoint detect.
//
// It reads every posting, so it costs time proportional to the ledger's size. Errors: a database
// error (the ledger's problems are in the Report, not the error).
func (l *Ledger) Verify(ctx context.Context) (Report, error) {
	var rep Report
	err := l.snapshot(ctx, func(ctx context.Context, tx bun.IDB) error {
		rep = Report{CheckedAt: l.now()}
		return l.verify(ctx, tx, &rep)
	})
	if err != nil {
		return Report{}, err
	}
	return rep, nil
}

// snapshot runs fn in a read-only transaction that sees one consistent state of the ledger
// (REPEATABLE READ on PostgreSQL; SQLite's read transactions always do).
func (l *Ledger) snapshot(ctx context.Context, fn func(ctx context.Context, tx bun.IDB) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if l.isPG {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return l.db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
}

func (l *Ledger) verify(ctx context.Context, tx bun.IDB, rep *Report) error {
	now := rep.CheckedAt
	accts := map[string]*verifyAcct{}
	rows, err := tx.QueryContext(ctx, "SELECT "+accountCols+accountFrom+" ORDER BY a.id")
	if err != nil {
		return err
	}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			rows.Close()
			return err
		}
		accts[a.ID] = &verifyAcct{accountRow: a}
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	rep.Accounts = len(accts)

	if err := verifyPostings(ctx, tx, rep, accts); err != nil {
		return err
	}
	if err := verifyEntries(ctx, tx, rep); err != nil {
		return err
	}
	if err := verifyReversals(ctx, tx, rep); err != nil {
		return err
	}
	if err := verifyEntryHashes(ctx, tx, rep); err != nil {
		return err
	}
	if err := verifyReferences(ctx, tx, rep); err != nil {
		return err
	}
	if err := verifyHolds(ctx, tx, rep, accts, now); err != nil {
		return err
	}

	type assetSum struct{ d, c, dp, cp units }
	sums := map[string]*assetSum{}
	prec := map[string]int32{}
	ids := make([]string, 0, len(accts))
	for id := range accts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := accts[id]
		p := a.Precision
		dec := func(u units) string { return u.decimal(p).String() }
		for _, c := range []struct {
			name string
			v    units
		}{{"debits_posted", a.DebitsPosted}, {"credits_posted", a.CreditsPosted}, {"debits_pending", a.DebitsPending}, {"credits_pending", a.CreditsPending}} {
			if c.v.sign() < 0 {
				rep.add(ProblemNegative, a.Code, a.Asset, "%s is %s", c.name, dec(c.v))
			}
		}
		if a.DebitsPosted.cmp(a.sumD) != 0 || a.CreditsPosted.cmp(a.sumC) != 0 {
			rep.add(ProblemPosted, a.Code, a.Asset, "counters debits %s credits %s, postings debits %s credits %s",
				dec(a.DebitsPosted), dec(a.CreditsPosted), dec(a.sumD), dec(a.sumC))
		}
		if a.Seq != a.n {
			rep.add(ProblemSequence, a.Code, a.Asset, "seq is %d, account has %d postings", a.Seq, a.n)
		}
		if !bytes.Equal(a.Head, a.lastHash) {
			rep.add(ProblemChain, a.Code, a.Asset, "head is %s, the hash of its last entry is %s", orNone(a.Head), orNone(a.lastHash))
		}
		if a.n > 0 && a.lastAfter.cmp(a.posted()) != 0 {
			rep.add(ProblemRunningBalance, a.Code, a.Asset, "last balance_after %s, posted balance %s", dec(a.lastAfter), dec(a.posted()))
		}
		if a.DebitsPending.cmp(a.pendD) != 0 || a.CreditsPending.cmp(a.pendC) != 0 {
			rep.add(ProblemPending, a.Code, a.Asset, "counters debits %s credits %s pending, holds debits %s credits %s",
				dec(a.DebitsPending), dec(a.CreditsPending), dec(a.pendD), dec(a.pendC))
		}
		if a.Flags&NoOverdraft != 0 && a.available().sign() < 0 {
			rep.add(ProblemOverdraft, a.Code, a.Asset, "available %s (posted %s, held %s)", dec(a.available()), dec(a.posted()), dec(a.held()))
		}
		s := sums[a.Asset]
		if s == nil {
			s = &assetSum{}
			sums[a.Asset] = s
		}
		s.d, s.c, s.dp, s.cp = s.d.add(a.DebitsPosted), s.c.add(a.CreditsPosted), s.dp.add(a.DebitsPending), s.cp.add(a.CreditsPending)
		prec[a.Asset] = p
	}
	assets := make([]string, 0, len(sums))
	for a := range sums {
		assets = append(assets, a)
	}
	sort.Strings(assets)
	for _, asset := range assets {
		s, p := sums[asset], prec[asset]
		if s.d.cmp(s.c) != 0 {
			rep.add(ProblemAssetImbalance, "", asset, "posted debits %s, credits %s", s.d.decimal(p), s.c.decimal(p))
		}
		if s.dp.cmp(s.cp) != 0 {
			rep.add(ProblemAssetImbalance, "", asset, "pending debits %s, credits %s", s.dp.decimal(p), s.cp.decimal(p))
		}
	}
	return nil
}

// verifyPostings streams every posting in (account, seq) order, summing and chaining them.
func verifyPostings(ctx context.Context, tx bun.IDB, rep *Report, accts map[string]*verifyAcct) error {
	rows, err := tx.QueryContext(ctx, `SELECT p.id, p.account_id, p.seq, p.direction, p.amount, p.balance_before,
	p.balance_after, p.entry_id, p.prev_hash, e.hash
	FROM ledger_postings p LEFT JOIN ledger_entries e ON e.id = p.entry_id ORDER BY p.account_id, p.seq`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			id, seq            int64
			acct, dir          string
			amt, before, after units
			entry              string
			prev, hash         []byte
		)
		if err := rows.Scan(&id, &acct, &seq, &dir, &amt, &before, &after, &entry, &prev, &hash); err != nil {
			rows.Close()
			return err
		}
		rep.Postings++
		a := accts[acct]
		if a == nil {
			rep.add(ProblemPosted, acct, "", "posting %d belongs to no account", id)
			continue
		}
		p := a.Precision
		if amt.sign() <= 0 {
			rep.add(ProblemNegative, a.Code, a.Asset, "posting %d amount is %s", id, amt.decimal(p))
		}
		if seq != a.lastSeq+1 {
			rep.add(ProblemSequence, a.Code, a.Asset, "posting %d has seq %d after seq %d", id, seq, a.lastSeq)
		}
		if before.cmp(a.lastAfter) != 0 {
			rep.add(ProblemRunningBalance, a.Code, a.Asset, "posting %d (seq %d) balance_before %s, previous balance_after %s",
				id, seq, before.decimal(p), a.lastAfter.decimal(p))
		}
		var want units
		switch {
		case Side(dir) == Debit:
			a.sumD = a.sumD.add(amt)
			want = before.sub(amt)
			if a.Normal == Debit {
				want = before.add(amt)
			}
		case Side(dir) == Credit:
			a.sumC = a.sumC.add(amt)
			want = before.add(amt)
			if a.Normal == Debit {
				want = before.sub(amt)
			}
		default:
			rep.add(ProblemPosted, a.Code, a.Asset, "posting %d has direction %q", id, dir)
			want = after
		}
		if after.cmp(want) != 0 {
			rep.add(ProblemRunningBalance, a.Code, a.Asset, "posting %d (seq %d) moves %s to %s by %s %s",
				id, seq, before.decimal(p), after.decimal(p), dir, amt.decimal(p))
		}
		a.link(rep, id, entry, prev, hash)
		a.n++
		a.lastSeq, a.lastAfter = seq, after
	}
	return closeRows(rows)
}

// link checks a posting's place in its account's hash chain: its prev_hash is the hash of the
// entry of the account's previous posting (nil for the first), or, when the previous posting is
// of the same entry, that posting's prev_hash.
func (a *verifyAcct) link(rep *Report, id int64, entry string, prev, hash []byte) {
	want := a.lastHash
	if a.n > 0 && entry == a.lastEntry {
		want = a.lastPrev
	}
	if !bytes.Equal(prev, want) {
		rep.add(ProblemChain, a.Code, a.Asset, "posting %d (seq %d) of entry %s links to %s, the previous entry's hash is %s",
			id, a.lastSeq+1, entry, orNone(prev), orNone(want))
	}
	a.lastEntry, a.lastPrev, a.lastHash = entry, prev, hash
}

func orNone(b []byte) string {
	if len(b) == 0 {
		return "none"
	}
	return hexHash(b)
}

// verifyEntries checks that every entry has two or more postings and balances per asset.
func verifyEntries(ctx context.Context, tx bun.IDB, rep *Report) error {
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger_entries").Scan(&rep.Entries); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT e.id FROM ledger_entries e
	WHERE NOT EXISTS (SELECT 1 FROM ledger_postings p WHERE p.entry_id = e.id) ORDER BY e.id`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		rep.add(ProblemEntry, "", "", "entry %s has no postings", id)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = tx.QueryContext(ctx, `SELECT p.entry_id, a.asset, p.direction, p.amount
	FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id ORDER BY p.entry_id, p.id`)
	if err != nil {
		return err
	}
	cur, n := "", 0
	net := map[string]units{}
	flush := func() {
		if cur == "" {
			return
		}
		if n < 2 {
			rep.add(ProblemEntry, "", "", "entry %s has %d posting", cur, n)
		}
		for asset, v := range net {
			if v.sign() != 0 {
				rep.add(ProblemEntry, "", asset, "entry %s debits minus credits is %s base units", cur, v)
			}
		}
	}
	for rows.Next() {
		var (
			entry, asset, dir string
			amt               units
		)
		if err := rows.Scan(&entry, &asset, &dir, &amt); err != nil {
			rows.Close()
			return err
		}
		if entry != cur {
			flush()
			cur, n, net = entry, 0, map[string]units{}
		}
		n++
		if Side(dir) == Debit {
			net[asset] = net[asset].add(amt)
		} else {
			net[asset] = net[asset].sub(amt)
		}
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	flush()
	return nil
}

// verifyHolds sums pending holds per account and checks each hold's row.
func verifyHolds(ctx context.Context, tx bun.IDB, rep *Report, accts map[string]*verifyAcct, now time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, debit_account_id, credit_account_id, asset, amount, captured, status,
	expires_at, entry_id FROM ledger_holds ORDER BY id`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			id, debit, credit, asset, status string
			amt, captured                    units
			exp                              dbTime
			entry                            sql.NullString
		)
		if err := rows.Scan(&id, &debit, &credit, &asset, &amt, &captured, &status, &exp, &entry); err != nil {
			rows.Close()
			return err
		}
		rep.Holds++
		d, c := accts[debit], accts[credit]
		if d == nil || c == nil {
			rep.add(ProblemHold, "", asset, "hold %s names an unknown account", id)
			continue
		}
		if d.Asset != asset || c.Asset != asset {
			rep.add(ProblemHold, d.Code, asset, "hold %s in %s between %s (%s) and %s (%s)", id, asset, d.Code, d.Asset, c.Code, c.Asset)
		}
		if amt.sign() <= 0 || captured.sign() < 0 || captured.cmp(amt) > 0 {
			rep.add(ProblemHold, d.Code, asset, "hold %s amount %s captured %s", id, amt, captured)
		}
		switch HoldStatus(status) {
		case HoldPending:
			d.pendD, c.pendC = d.pendD.add(amt), c.pendC.add(amt)
			if !exp.t.IsZero() && !now.Before(exp.t) {
				d.expDebits, c.expCredits = d.expDebits.add(amt), c.expCredits.add(amt)
			}
			if captured.sign() != 0 || entry.Valid {
				rep.add(ProblemHold, d.Code, asset, "pending hold %s has a capture", id)
			}
		case HoldCaptured:
			if !entry.Valid || captured.sign() <= 0 {
				rep.add(ProblemHold, d.Code, asset, "captured hold %s has no capture entry or amount", id)
			}
		case HoldVoided, HoldExpired:
			if captured.sign() != 0 || entry.Valid {
				rep.add(ProblemHold, d.Code, asset, "%s hold %s has a capture", status, id)
			}
		default:
			rep.add(ProblemHold, d.Code, asset, "hold %s has status %q", id, status)
		}
	}
	return closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// verifyReversals checks that each reversal's postings are its original's with directions flipped:
// the same (account, amount) pairs, as many times each, and that no reversal reverses a reversal.
func verifyReversals(ctx context.Context, tx bun.IDB, rep *Report) error {
	rows, err := tx.QueryContext(ctx, `SELECT r.id, o.id FROM ledger_entries r JOIN ledger_entries o ON o.id = r.reverses_entry_id
	WHERE o.reverses_entry_id IS NOT NULL ORDER BY r.id`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r, o string
		if err := rows.Scan(&r, &o); err != nil {
			rows.Close()
			return err
		}
		rep.add(ProblemReversal, "", "", "entry %s reverses entry %s, itself a reversal", r, o)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	// Each reversal's postings (side 1) and its original's (side 0), reversal by reversal.
	rows, err = tx.QueryContext(ctx, `SELECT e.id, 1, p.account_id, p.direction, p.amount
	FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id WHERE e.reverses_entry_id IS NOT NULL
	UNION ALL
	SELECT e.id, 0, p.account_id, p.direction, p.amount
	FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.reverses_entry_id WHERE e.reverses_entry_id IS NOT NULL
	ORDER BY 1`)
	if err != nil {
		return err
	}
	cur := ""
	count := map[string]int{}
	flush := func() {
		if cur == "" {
			return
		}
		keys := make([]string, 0, len(count))
		for k, n := range count {
			if n != 0 {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			rep.add(ProblemReversal, "", "", "reversal %s does not mirror its original: posting %s off by %d", cur, k, count[k])
		}
	}
	for rows.Next() {
		var (
			entry, acct, dir string
			side             int
			amt              units
		)
		if err := rows.Scan(&entry, &side, &acct, &dir, &amt); err != nil {
			rows.Close()
			return err
		}
		if entry != cur {
			flush()
			cur, count = entry, map[string]int{}
		}
		// A reversal's debit cancels its original's credit of the same amount, and vice versa.
		if side == 0 {
			if Side(dir) == Debit {
				dir = string(Credit)
			} else {
				dir = string(Debit)
			}
		}
		k := acct + " " + dir + " " + amt.String()
		if side == 1 {
			count[k]++
		} else {
			count[k]--
		}
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	flush()
	return nil
}
