package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/ids"
)

// maxPostings caps the postings of one entry.
const maxPostings = 1000

// Post posts entry in, in a transaction of its own, and returns it with its postings and their
// running balances. With an IdempotencyKey, posting the same request again returns the first entry
// (even if its postings would no longer be allowed), and a different request under the same key
// fails. Nothing is written when it fails.
//
// Errors: ErrInvalidEntry (fewer than two postings, more than 1000, a bad direction, account code
// or metadata), ErrInvalidAmount (an amount not positive, with more decimals than its asset's
// precision, or above 2^256-1 base units), ErrNotFound (an unknown account), ErrUnbalanced (debits
// and credits differ for some asset; with ErrAssetMismatch too when the entry mixes assets),
// ErrInsufficientFunds (a NoOverdraft account would end below zero), ErrIdempotencyConflict, or a
// database error; ErrClosed after Close.
//
// With Config.GroupCommit enabled, the entry is committed in one transaction with other callers'
// entries (see PostBatch, Independent mode): the checks and results are the same, but a
// transaction-level error fails the whole group (nothing of it is written, so a retry with the same
// idempotency key is safe). If ctx ends while Post waits for the group, Post returns ctx's error at
// once, but the entry may still commit; post it again with the same IdempotencyKey to learn its
// outcome (the retry returns the committed entry, or posts it if it was not).
func (l *Ledger) Post(ctx context.Context, in EntryInput) (Entry, error) {
	if l.closed.Load() {
		return Entry{}, ErrClosed
	}
	if l.gc != nil {
		return l.gc.post(ctx, in)
	}
	return l.PostTx(ctx, l.db, in)
}

// PostTx is Post inside the caller's transaction tx: the entry commits or rolls back with it. It
// locks the touched accounts' rows until tx ends. Given a *bun.DB instead of a transaction, it runs
// in a transaction of its own. Errors: as Post; on error it has written nothing in tx.
func (l *Ledger) PostTx(ctx context.Context, tx bun.IDB, in EntryInput) (Entry, error) {
	if err := validateEntry(in); err != nil {
		return Entry{}, err
	}
	hash := entryHash(in)
	var out Entry
	err := l.write(ctx, tx, func(ctx context.Context, tx bun.IDB) error {
		e, err := l.post(ctx, tx, in, hash)
		out = e
		return err
	})
	if err != nil {
		return Entry{}, err
	}
	return out, nil
}

// validateEntry checks an entry's shape before any database access.
func validateEntry(in EntryInput) error {
	if len(in.Postings) < 2 {
		return fmt.Errorf("%w: %d postings, need at least 2", ErrInvalidEntry, len(in.Postings))
	}
	if len(in.Postings) > maxPostings {
		return fmt.Errorf("%w: %d postings, at most %d", ErrInvalidEntry, len(in.Postings), maxPostings)
	}
	for i, p := range in.Postings {
		if err := validateCode(p.Account); err != nil {
			return fmt.Errorf("%w: posting %d: %w", ErrInvalidEntry, i, err)
		}
		if p.Direction != Debit && p.Direction != Credit {
			return fmt.Errorf("%w: posting %d: direction %q is neither debit nor credit", ErrInvalidEntry, i, p.Direction)
		}
		if p.Amount.Sign() <= 0 {
			return fmt.Errorf("%w: posting %d: %s is not positive", ErrInvalidAmount, i, fmtAmount(p.Amount))
		}
	}
	if err := validateKey(in.IdempotencyKey, ErrInvalidEntry); err != nil {
		return err
	}
	return validateText(in.Description, in.Metadata, ErrInvalidEntry)
}

// leg is a validated posting on a locked account.
type leg struct {
	acct   *accountRow
	dir    Side
	amount units
}

// postingRow is a posting to insert, or as loaded.
type postingRow struct {
	acct          *accountRow
	dir           Side
	amount        units
	seq           int64
	before, after units
	prev          []byte // the account's chain head before the entry (set by chain)
	// amount, before and after in decimal, computed once by chain for the hash and the write.
	amountS, beforeS, afterS string
}

func (l *Ledger) post(ctx context.Context, tx bun.IDB, in EntryInput, hash string) (Entry, error) {
	return l.postEntry(ctx, tx, in, hash, "")
}

// postEntry is the one posting path: it locks the entry's accounts in id order, checks the entry
// against them and writes it. reverses, if not empty, is the ID of the entry this one reverses; a
// reversal committed meanwhile makes the write conflict (ErrAlreadyReversed).
//
// An idempotency key is not looked up before the work but only when it matters: when the write
// conflicts on the key (a replay, or a concurrent writer that won), or when a check fails (a
// replay of an entry whose postings would no longer pass returns the first entry, as it always
// has). The write's ON CONFLICT makes this exact: PostgreSQL makes a concurrent insert of the same
// key wait for the other transaction and then conflict.
func (l *Ledger) postEntry(ctx context.Context, tx bun.IDB, in EntryInput, hash, reverses string) (Entry, error) {
	e, err := l.tryPost(ctx, tx, in, hash, reverses)
	if err == nil || in.IdempotencyKey == "" || !isCheckFailure(err) {
		return e, err
	}
	id, kerr := entryByKey(ctx, tx, in.IdempotencyKey, hash)
	if kerr != nil {
		return Entry{}, kerr
	}
	if id != "" {
		return loadEntry(ctx, tx, id)
	}
	return Entry{}, err
}

// isCheckFailure reports whether err is one of the checks an entry fails before anything is
// written (the transaction is still usable), as opposed to a database error.
func isCheckFailure(err error) bool {
	for _, s := range []error{ErrNotFound, ErrInsufficientFunds, ErrInvalidAmount, ErrUnbalanced, ErrInvalidEntry} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func (l *Ledger) tryPost(ctx context.Context, tx bun.IDB, in EntryInput, hash, reverses string) (Entry, error) {
	codes := make([]string, len(in.Postings))
	for i, p := range in.Postings {
		codes[i] = p.Account
	}
	accts, err := l.lockAccounts(ctx, tx, "code", codes)
	if err != nil {
		return Entry{}, err
	}
	if reverses != "" {
		// A concurrent reversal of the same entry may have committed while this one waited for the
		// locks; it takes precedence over whatever the checks below would say. If it was this very
		// request under the same key (a client's retry), that reversal is the answer.
		if in.IdempotencyKey != "" {
			id, err := entryByKey(ctx, tx, in.IdempotencyKey, hash)
			if err != nil {
				return Entry{}, err
			}
			if id != "" {
				return loadEntry(ctx, tx, id)
			}
		}
		if err := notReversed(ctx, tx, reverses); err != nil {
			return Entry{}, err
		}
	}
	legs, err := entryLegs(accts, in)
	if err != nil {
		return Entry{}, err
	}
	now := l.now()
	if err := loadExpired(ctx, tx, now, accts); err != nil {
		return Entry{}, err
	}
	rows, err := applyEntry(legs)
	if err != nil {
		return Entry{}, err
	}
	e, _, err := l.writeEntry(ctx, tx, entryHead{
		key: in.IdempotencyKey, hash: hash, description: in.Description, metadata: in.Metadata, now: now,
		reverses: reverses,
	}, accts, rows, true) // the entry is the transaction's last write
	return e, err
}

// entryLegs resolves in's postings against the locked accounts (ErrNotFound for one missing from
// accts) and converts their amounts to base units, then checks that they balance.
func entryLegs(accts map[string]*accountRow, in EntryInput) ([]leg, error) {
	legs := make([]leg, len(in.Postings))
	for i, p := range in.Postings {
		a := accts[p.Account]
		if a == nil {
			return nil, fmt.Errorf("%w: account %q", ErrNotFound, p.Account)
		}
		amt, err := toUnits(p.Amount, a.Precision)
		if err != nil {
			return nil, fmt.Errorf("posting %d to %s: %w", i, a.Code, err)
		}
		legs[i] = leg{acct: a, dir: p.Direction, amount: amt}
	}
	if err := checkBalanced(legs); err != nil {
		return nil, err
	}
	return legs, nil
}

// applyEntry applies one entry's checked legs to their locked accounts (applyLegs) and checks the
// result: no NoOverdraft account newly below zero (ErrInsufficientFunds), no balance or counter out
// of range (ErrInvalidAmount). When a check fails it restores the accounts as they were, so that a
// batch can go on with its next entry. It returns the postings to insert.
func applyEntry(legs []leg) ([]postingRow, error) {
	type saved struct {
		dp, cp units
		seq    int64
		dirty  bool
	}
	touched := make(map[string]*accountRow, len(legs))
	prev := make(map[*accountRow]saved, len(legs))
	for _, g := range legs {
		touched[g.acct.ID] = g.acct
		prev[g.acct] = saved{g.acct.DebitsPosted, g.acct.CreditsPosted, g.acct.Seq, g.acct.dirty}
	}
	before := availableOf(touched)
	rows := applyLegs(legs)
	err := checkOverdraft(touched, before)
	for i := 0; err == nil && i < len(rows); i++ {
		r := rows[i]
		if r.before.tooBig() || r.after.tooBig() {
			err = fmt.Errorf("%w: account %s balance out of range", ErrInvalidAmount, r.acct.Code)
		} else if r.acct.DebitsPosted.tooBig() || r.acct.CreditsPosted.tooBig() {
			err = fmt.Errorf("%w: account %s balance counter out of range", ErrInvalidAmount, r.acct.Code)
		}
	}
	if err != nil {
		for a, p := range prev {
			a.DebitsPosted, a.CreditsPosted, a.Seq, a.dirty = p.dp, p.cp, p.seq, p.dirty
		}
		return nil, err
	}
	return rows, nil
}

// checkBalanced returns ErrUnbalanced if debits and credits differ for some asset, wrapping
// ErrAssetMismatch as well when the entry spans several assets.
func checkBalanced(legs []leg) error {
	net := map[string]units{}
	prec := map[string]int32{}
	for _, g := range legs {
		if g.dir == Debit {
			net[g.acct.Asset] = net[g.acct.Asset].add(g.amount)
		} else {
			net[g.acct.Asset] = net[g.acct.Asset].sub(g.amount)
		}
		prec[g.acct.Asset] = g.acct.Precision
	}
	assets := make([]string, 0, len(net))
	for a := range net {
		assets = append(assets, a)
	}
	sort.Strings(assets)
	var off []string
	for _, a := range assets {
		if net[a].sign() != 0 {
			off = append(off, fmt.Sprintf("%s debits exceed credits by %s", a, net[a].decimal(prec[a])))
		}
	}
	if len(off) == 0 {
		return nil
	}
	if len(assets) > 1 {
		return fmt.Errorf("%w: %w: entry mixes %s: %s", ErrAssetMismatch, ErrUnbalanced,
			strings.Join(assets, ", "), strings.Join(off, "; "))
	}
	return fmt.Errorf("%w: %s", ErrUnbalanced, strings.Join(off, "; "))
}

// applyLegs applies the legs to their accounts' posted counters in order, numbering each posting
// with its account's next seq and chaining running balances (an account touched twice in one entry
// chains within it). It returns the postings to insert.
func applyLegs(legs []leg) []postingRow {
	rows := make([]postingRow, len(legs))
	for i, g := range legs {
		a := g.acct
		before := a.posted()
		if g.dir == Debit {
			a.DebitsPosted = a.DebitsPosted.add(g.amount)
		} else {
			a.CreditsPosted = a.CreditsPosted.add(g.amount)
		}
		a.Seq++
		a.dirty = true
		rows[i] = postingRow{acct: a, dir: g.dir, amount: g.amount, seq: a.Seq, before: before, after: a.posted()}
	}
	return rows
}

// entryHead is an entry's own row.
type entryHead struct {
	key, hash, description string
	metadata               map[string]any
	metaJSON               string // metadata as encodeMeta wrote it, "" for none (set by writeEntries)
	now                    time.Time
	reverses               string // ID of the entry this one reverses, or ""
}

// writeEntry writes one entry, its postings and the accounts' new state (writeEntries). If
// another transaction committed an entry under the same idempotency key first, it writes nothing
// and returns that entry with inserted false (or ErrIdempotencyConflict if its request differs). For
// a reversal (h.reverses set), a reversal of the same entry committed first is ErrAlreadyReversed.
//
// final is writeEntries': true only when nothing else is written after the entry.
func (l *Ledger) writeEntry(ctx context.Context, tx bun.IDB, h entryHead, accts map[string]*accountRow, rows []postingRow, final bool) (Entry, bool, error) {
	for _, r := range rows {
		if r.before.tooBig() || r.after.tooBig() {
			return Entry{}, false, fmt.Errorf("%w: account %s balance out of range", ErrInvalidAmount, r.acct.Code)
		}
	}
	w := []entryWrite{{id: ids.New("je"), head: h, rows: rows}}
	pids, err := l.writeEntries(ctx, tx, w, accts, final)
	if errors.Is(err, errNotInserted) {
		other, err := entryByKey(ctx, tx, h.key, h.hash)
		if err != nil {
			return Entry{}, false, err
		}
		if other == "" && h.reverses != "" {
			if err := notReversed(ctx, tx, h.reverses); err != nil {
				return Entry{}, false, err
			}
		}
		if other == "" {
			return Entry{}, false, fmt.Errorf("ledger: entry with key %q neither inserted nor found", h.key)
		}
		e, err := loadEntry(ctx, tx, other)
		return e, false, err
	}
	if err != nil {
		return Entry{}, false, err
	}
	return newEntry(w[0].id, w[0].head, rows, pids, w[0].hash), true, nil
}

// postingKey identifies a posting by its account and seq.
type postingKey struct {
	acct string
	seq  int64
}

// newEntry returns the written entry id with head h, postings rows (whose ids are in pids) and
// hash.
func newEntry(id string, h entryHead, rows []postingRow, pids map[postingKey]int64, hash []byte) Entry {
	e := Entry{ID: id, IdempotencyKey: h.key, Description: h.description, Metadata: metaFromJSON(h.metaJSON),
		CreatedAt: h.now, Postings: make([]Posting, len(rows)), Reverses: h.reverses, Hash: hexHash(hash)}
	for i, r := range rows {
		e.Postings[i] = Posting{
			ID: pids[postingKey{r.acct.ID, r.seq}], EntryID: id, Account: r.acct.Code, Asset: r.acct.Asset,
			Direction: r.dir, Amount: r.amount.decimal(r.acct.Precision), Seq: r.seq,
			BalanceBefore: r.before.decimal(r.acct.Precision), BalanceAfter: r.after.decimal(r.acct.Precision),
			CreatedAt: h.now,
		}
	}
	sort.SliceStable(e.Postings, func(i, j int) bool { return e.Postings[i].ID < e.Postings[j].ID })
	return e
}

// Entry returns the journal entry with id and its postings in posting order. Errors: ErrNotFound,
// or a database error.
func (l *Ledger) Entry(ctx context.Context, id string) (Entry, error) {
	return loadEntry(ctx, l.db, id)
}

func loadEntry(ctx context.Context, db bun.IDB, id string) (Entry, error) {
	es, err := loadEntries(ctx, db, []string{id})
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("%w: entry %q", ErrNotFound, id)
	}
	return es[0], nil
}

// entrySelect reads an entry's row, the entry it reverses and the entry that reverses it.
const entrySelect = `SELECT e.id, e.idempotency_key, e.description, e.metadata, e.created_at, e.reverses_entry_id,
	(SELECT r.id FROM ledger_entries r WHERE r.reverses_entry_id = e.id), e.hash
	FROM ledger_entries e`

// loadEntries loads the entries with the given ids, with their postings, in the order of ids;
// unknown ids are left out.
func loadEntries(ctx context.Context, db bun.IDB, ids []string) ([]Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, entrySelect+" WHERE e.id IN (?)", bun.In(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[string]*Entry, len(ids))
	for rows.Next() {
		var (
			e                             Entry
			key, meta, reverses, reversed sql.NullString
			created                       dbTime
			hash                          []byte
		)
		if err := rows.Scan(&e.ID, &key, &e.Description, &meta, &created, &reverses, &reversed, &hash); err != nil {
			return nil, err
		}
		e.Hash = hexHash(hash)
		e.IdempotencyKey, e.CreatedAt, e.Reverses, e.ReversedBy = key.String, created.t, reverses.String, reversed.String
		if e.Metadata, err = decodeMeta(meta); err != nil {
			return nil, fmt.Errorf("ledger: entry %s: %w", e.ID, err)
		}
		byID[e.ID] = &e
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	ps, err := queryPostings(ctx, db, "p.entry_id IN (?)", []any{bun.In(ids)}, "")
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if e := byID[p.EntryID]; e != nil {
			e.Postings = append(e.Postings, p)
		}
	}
	out := make([]Entry, 0, len(byID))
	for _, id := range ids {
		if e := byID[id]; e != nil {
			out = append(out, *e)
			delete(byID, id) // a repeated id is returned once
		}
	}
	return out, nil
}

const postingSelect = `SELECT p.id, p.entry_id, a.code, a.asset, p.direction, p.amount, p.seq, p.balance_before,
	p.balance_after, p.created_at, s.precision
	FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id JOIN ledger_assets s ON s.code = a.asset`

func queryPostings(ctx context.Context, db bun.IDB, where string, args []any, limit string) ([]Posting, error) {
	rows, err := db.QueryContext(ctx, postingSelect+" WHERE "+where+" ORDER BY p.id"+limit, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Posting
	for rows.Next() {
		var (
			p                  Posting
			dir                string
			amt, before, after units
			created            dbTime
			precision          int32
		)
		if err := rows.Scan(&p.ID, &p.EntryID, &p.Account, &p.Asset, &dir, &amt, &p.Seq, &before, &after,
			&created, &precision); err != nil {
			return nil, err
		}
		p.Direction, p.CreatedAt = Side(dir), created.t
		p.Amount, p.BalanceBefore, p.BalanceAfter = amt.decimal(precision), before.decimal(precision), after.decimal(precision)
		out = append(out, p)
	}
	return out, rows.Err()
}
