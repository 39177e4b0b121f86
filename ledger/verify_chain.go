package ledger

import (
	"bytes"
	"context"
	"database/sql"

	"github.com/uptrace/bun"
)

// verifyEntryHashes recomputes every entry's hash from its row and its postings (see chain) and
// reports each entry whose stored hash differs, or that has none.
func verifyEntryHashes(ctx context.Context, tx bun.IDB, rep *Report) error {
	rows, err := tx.QueryContext(ctx, `SELECT e.id, e.idempotency_key, e.description, e.metadata, e.created_at,
	e.reverses_entry_id, e.hash, p.account_id, p.seq, p.direction, p.amount, p.balance_before, p.balance_after,
	p.prev_hash
	FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id ORDER BY e.id, p.id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		cur    chainEntry
		stored []byte
		open   bool
	)
	check := func() {
		if !open {
			return
		}
		if len(stored) == 0 {
			rep.add(ProblemChain, "", "", "entry %s has no hash", cur.id)
			return
		}
		if got := cur.digest(); !bytes.Equal(got, stored) {
			rep.add(ProblemChain, "", "", "entry %s: stored hash %s, its content hashes to %s", cur.id, hexHash(stored), hexHash(got))
		}
	}
	for rows.Next() {
		var (
			id, desc, acct, dir string
			key, meta, reverses sql.NullString
			created             dbTime
			hash, prev          []byte
			seq                 int64
			amt, before, after  units
		)
		if err := rows.Scan(&id, &key, &desc, &meta, &created, &reverses, &hash, &acct, &seq, &dir, &amt, &before,
			&after, &prev); err != nil {
			return err
		}
		if !open || id != cur.id {
			check()
			m, err := decodeMeta(meta)
			if err != nil {
				rep.add(ProblemChain, "", "", "entry %s: %v", id, err)
			}
			cur = chainEntry{id: id, key: key.String, description: desc, reverses: reverses.String,
				meta: canonMeta(m), createdMicros: created.t.UnixMicro()}
			stored, open = hash, true
		}
		cur.postings = append(cur.postings, chainPosting{account: acct, seq: seq, dir: Side(dir),
			amount: amt.String(), before: before.String(), after: after.String(), prev: prev})
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	check()
	return nil
}

// verifyReferences reports rows that refer to rows that do not exist: postings of no entry and
// reversals of no entry (on PostgreSQL no foreign key guards these; see schemaV5). Postings of no
// account are reported by verifyPostings.
func verifyReferences(ctx context.Context, tx bun.IDB, rep *Report) error {
	for _, c := range []struct{ kind, query, format string }{
		{ProblemEntry, `SELECT CAST(p.id AS TEXT), p.entry_id FROM ledger_postings p
	WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = p.entry_id) ORDER BY p.id`, "posting %s belongs to entry %s, which does not exist"},
		{ProblemReversal, `SELECT r.id, r.reverses_entry_id FROM ledger_entries r WHERE r.reverses_entry_id IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM ledger_entries o WHERE o.id = r.reverses_entry_id) ORDER BY r.id`, "entry %s reverses entry %s, which does not exist"},
	} {
		rows, err := tx.QueryContext(ctx, c.query)
		if err != nil {
			return err
		}
		for rows.Next() {
			var a, b string
			if err := rows.Scan(&a, &b); err != nil {
				rows.Close()
				return err
			}
			rep.add(c.kind, "", "", c.format, a, b)
		}
		if err := closeRows(rows); err != nil {
			return err
		}
	}
	return nil
}
