package ledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/uptrace/bun"
)

// entryWrite is an entry that passed its checks against the locked accounts, to be written.
type entryWrite struct {
	idx  int // the entry's index in its batch (0 for Post)
	id   string
	head entryHead
	rows []postingRow
	hash []byte               // set by writeEntries
	pids map[postingKey]int64 // the postings' ids, once written (for a lazy BatchResult)
}

// errNotInserted: an entry of the write was not inserted because a unique index of ledger_entries
// conflicted (its idempotency key, or for a reversal its reverses_entry_id): another transaction
// committed it first. See writeEntries for what was written.
var errNotInserted = errors.New("ledger: entry conflicts with a committed entry")

// writeChunk caps the rows of one multi-row statement.
const writeChunk = 1000

// writeEntries links ws into the hash chain in order (chain), then writes their entries, their
// postings and the touched accounts' new counters and heads, and returns the postings' ids.
//
// On PostgreSQL it is one statement whatever the number of entries, a call of
// ledger_write_entries_v1 (pgfuncs.go), which carries a pipelined transaction's COMMIT when final. On SQLite it
// is three statements per chunk of up to writeChunk rows: the entries' INSERT … ON CONFLICT DO
// NOTHING, the postings' INSERT and, after the last chunk, the accounts' UPDATEs (a writer there has
// the database to itself, so statements are cheap).
//
// errNotInserted means an entry conflicted with a committed one and nothing was written; when ws
// holds several entries the caller must nonetheless roll back, as earlier SQLite chunks may have
// been written. errPartialConflict (PostgreSQL, several entries) means the statement failed and
// the transaction with it.
//
// final says that the write is the transaction's last statement, so that a pipelined transaction
// may commit with it (withCommit); a caller that writes more afterwards (Capture updates its hold)
// must pass false, or what follows would run after the commit, outside the transaction.
func (l *Ledger) writeEntries(ctx context.Context, tx bun.IDB, ws []entryWrite, accts map[string]*accountRow, final bool) (map[postingKey]int64, error) {
	for i := range ws {
		// The metadata is encoded once, here: the hash, the row and the returned Entry use it.
		enc, err := encodeMeta(ws[i].head.metadata)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
		}
		if enc != nil {
			ws[i].head.metaJSON = enc.(string)
		}
		ws[i].hash = chain(ws[i].id, ws[i].head, ws[i].rows)
	}
	dirty, err := dirtyAccounts(accts)
	if err != nil {
		return nil, err
	}
	pids := make(map[postingKey]int64)
	if l.isPG {
		return pids, writeEntriesPG(ctx, tx, ws, dirty, pids, final)
	}
	for len(ws) > 0 {
		n, rows := 0, 0
		for n < len(ws) && (n == 0 || rows+len(ws[n].rows) <= writeChunk) {
			rows += len(ws[n].rows)
			n++
		}
		chunk := ws[:n]
		ws = ws[n:]
		var save []*accountRow
		if len(ws) == 0 {
			save = dirty
		}
		if err := writeChunkSQLite(ctx, tx, chunk, save, pids); err != nil {
			return nil, err
		}
	}
	return pids, nil
}

// dirtyAccounts returns the accounts changed in memory, in id order, after checking that their
// counters fit the store (ErrInvalidAmount).
func dirtyAccounts(accts map[string]*accountRow) ([]*accountRow, error) {
	var dirty []*accountRow
	for _, a := range accts {
		if !a.dirty {
			continue
		}
		for _, c := range []units{a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending} {
			if c.sign() < 0 || c.tooBig() {
				return nil, fmt.Errorf("%w: account %s balance counter out of range", ErrInvalidAmount, a.Code)
			}
		}
		dirty = append(dirty, a)
	}
	sort.Slice(dirty, func(i, j int) bool { return dirty[i].ID < dirty[j].ID })
	return dirty, nil
}

// sqlBuf builds one statement with bun's ? placeholders and its arguments.
type sqlBuf struct {
	strings.Builder
	args []any
}

func (b *sqlBuf) row(n int, args ...any) {
	if n > 0 {
		b.WriteString(", ")
	}
	b.args = append(b.args, args...)
}

const entryCols = `(id, idempotency_key, request_hash, description, metadata, created_at, reverses_entry_id, hash)`

func (b *sqlBuf) entryValues(chunk []entryWrite) {
	b.WriteString(" VALUES ")
	for i, w := range chunk {
		b.row(i, w.id, nullKey(w.head.key), w.head.hash, w.head.description, nullKey(w.head.metaJSON),
			dbTime{w.head.now}, nullKey(w.head.reverses), w.hash)
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
	}
}

const postingCols = `(entry_id, account_id, seq, direction, amount, balance_before, balance_after, created_at, prev_hash)`

// postingValues writes the chunk's postings as VALUES rows.
func (b *sqlBuf) postingValues(chunk []entryWrite) {
	b.WriteString(" VALUES ")
	n := 0
	for _, w := range chunk {
		for _, r := range w.rows {
			b.row(n, w.id, r.acct.ID, r.seq, string(r.dir), r.amount, r.before, r.after, dbTime{w.head.now}, r.prev)
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			n++
		}
	}
}

// accountValues writes the accounts' new counters, seq and head as VALUES rows, casting the
// first row's values to the columns' types.
func (b *sqlBuf) accountValues(accts []*accountRow) {
	b.WriteString("VALUES ")
	for i, a := range accts {
		b.row(i, a.ID, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending, a.Seq, a.Head)
		if i == 0 {
			b.WriteString("(?, CAST(? AS NUMERIC), CAST(? AS NUMERIC), CAST(? AS NUMERIC), CAST(? AS NUMERIC), CAST(? AS BIGINT), CAST(? AS BYTEA))")
		} else {
			b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
		}
	}
}

// writeChunkSQLite writes a chunk in three statements (see writeEntries).
func writeChunkSQLite(ctx context.Context, tx bun.IDB, chunk []entryWrite, save []*accountRow, pids map[postingKey]int64) error {
	var b sqlBuf
	b.WriteString("INSERT INTO ledger_entries " + entryCols)
	b.entryValues(chunk)
	b.WriteString(" ON CONFLICT DO NOTHING")
	res, err := tx.ExecContext(ctx, b.String(), b.args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != int64(len(chunk)) {
		return errNotInserted
	}
	b = sqlBuf{}
	b.WriteString("INSERT INTO ledger_postings " + postingCols)
	b.postingValues(chunk)
	b.WriteString(" RETURNING id, account_id, seq")
	rows, err := tx.QueryContext(ctx, b.String(), b.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k postingKey
		var pid int64
		if err := rows.Scan(&pid, &k.acct, &k.seq); err != nil {
			return err
		}
		pids[k] = pid
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	return updateAccountsSQLite(ctx, tx, save)
}

// updateAccountsSQLite writes the accounts' counters, seq and head, one UPDATE each (measured no
// slower than one UPDATE … FROM (VALUES …) for a batch's few dozen accounts).
func updateAccountsSQLite(ctx context.Context, tx bun.IDB, accts []*accountRow) error {
	for _, a := range accts {
		res, err := tx.ExecContext(ctx, `UPDATE ledger_accounts SET debits_posted = ?, credits_posted = ?,
	debits_pending = ?, credits_pending = ?, seq = ?, head = ? WHERE id = ?`,
			a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending, a.Seq, a.Head, a.ID)
		if err != nil {
			return err
		}
		if err := expectRows(res, 1, "account "+a.Code); err != nil {
			return err
		}
	}
	return nil
}

// saveAccounts writes the counters, seq and head of the dirty accounts (for writes that post no
// entry: holds, voids, expiry): one UPDATE per account on SQLite, one batched UPDATE … FROM
// (VALUES …) on PostgreSQL. Errors: ErrInvalidAmount when a counter is negative or too large.
func (l *Ledger) saveAccounts(ctx context.Context, tx bun.IDB, accts map[string]*accountRow) error {
	dirty, err := dirtyAccounts(accts)
	if err != nil || len(dirty) == 0 {
		return err
	}
	if !l.isPG {
		return updateAccountsSQLite(ctx, tx, dirty)
	}
	var b sqlBuf
	b.WriteString(`UPDATE ledger_accounts AS a SET debits_posted = v.dp, credits_posted = v.cp,
	debits_pending = v.dq, credits_pending = v.cq, seq = v.seq, head = v.head FROM (`)
	b.accountValues(dirty)
	b.WriteString(") AS v (id, dp, cp, dq, cq, seq, head) WHERE a.id = v.id")
	res, err := tx.ExecContext(ctx, b.String(), b.args...)
	if err != nil {
		return err
	}
	return expectRows(res, len(dirty), "accounts")
}
