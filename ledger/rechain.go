package ledger

import (
	"context"
	"database/sql"
	"sort"

	"github.com/uptrace/bun"
)

// rechain recomputes the whole hash chain from the stored entries and postings and writes every
// entry's hash, every posting's prev_hash and every account's head. The schema step that adds the
// chain runs it, so that entries written before the chain existed join it; it keeps every entry
// and posting in memory, which is fine for the ledgers that predate the chain.
//
// Entries are taken in the order of their first posting's id, which is an order in which every
// entry comes after the earlier entries of each of its accounts: an entry takes its accounts'
// locks only after the entry before it on each account has committed, so its postings' ids are
// drawn later.
func rechain(ctx context.Context, tx bun.IDB) error {
	rows, err := tx.QueryContext(ctx, `SELECT e.id, e.idempotency_key, e.description, e.metadata, e.created_at,
	e.reverses_entry_id, p.id, p.account_id, p.seq, p.direction, p.amount, p.balance_before, p.balance_after
	FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id ORDER BY p.id`)
	if err != nil {
		return err
	}
	type posting struct {
		id int64
		cp chainPosting
	}
	type entry struct {
		ce       chainEntry
		postings []posting
	}
	byID := map[string]*entry{}
	var order []*entry
	for rows.Next() {
		var (
			id, desc, acct, dir string
			key, meta, reverses sql.NullString
			created             dbTime
			pid, seq            int64
			amt, before, after  units
		)
		if err := rows.Scan(&id, &key, &desc, &meta, &created, &reverses, &pid, &acct, &seq, &dir, &amt, &before, &after); err != nil {
			rows.Close()
			return err
		}
		e := byID[id]
		if e == nil {
			m, err := decodeMeta(meta)
			if err != nil {
				rows.Close()
				return err
			}
			e = &entry{ce: chainEntry{id: id, key: key.String, description: desc, reverses: reverses.String,
				meta: canonMeta(m), createdMicros: created.t.UnixMicro()}}
			byID[id] = e
			order = append(order, e)
		}
		e.postings = append(e.postings, posting{id: pid, cp: chainPosting{account: acct, seq: seq, dir: Side(dir),
			amount: amt.String(), before: before.String(), after: after.String()}})
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	heads := map[string][]byte{}
	for _, e := range order {
		// Within an entry, an account's postings share the head before the entry.
		sort.Slice(e.postings, func(i, j int) bool { return e.postings[i].id < e.postings[j].id })
		prev := map[string][]byte{}
		for i := range e.postings {
			p := &e.postings[i].cp
			h, ok := prev[p.account]
			if !ok {
				h = heads[p.account]
				prev[p.account] = h
			}
			p.prev = h
			e.ce.postings = append(e.ce.postings, *p)
		}
		sum := e.ce.digest()
		for a := range prev {
			heads[a] = sum
		}
		if _, err := tx.ExecContext(ctx, "UPDATE ledger_entries SET hash = ? WHERE id = ?", sum, e.ce.id); err != nil {
			return err
		}
		for _, p := range e.postings {
			if _, err := tx.ExecContext(ctx, "UPDATE ledger_postings SET prev_hash = ? WHERE id = ?", p.cp.prev, p.id); err != nil {
				return err
			}
		}
	}
	for a, h := range heads {
		if _, err := tx.ExecContext(ctx, "UPDATE ledger_accounts SET head = ? WHERE id = ?", h, a); err != nil {
			return err
		}
	}
	return nil
}
