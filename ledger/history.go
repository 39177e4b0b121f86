package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
)

// metaKeyRE is what a metadata key in a filter must look like, so that it is safe in a JSON path.
var metaKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// pageLimit returns the page size for a requested limit: 50 by default, at most 1000.
func pageLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 1000)
}

// postingWhere is a WHERE clause over postings p, accounts a and, if entries is set, entries e
// (joined on p.entry_id).
type postingWhere struct {
	conds   []string
	args    []any
	entries bool
}

func (w *postingWhere) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *postingWhere) from() string {
	from := " FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id"
	if w.entries {
		from += " JOIN ledger_entries e ON e.id = p.entry_id"
	}
	return from
}

func (w *postingWhere) where() string {
	if len(w.conds) == 0 {
		return "1 = 1"
	}
	return strings.Join(w.conds, " AND ")
}

// postingConds builds the conditions the filters of History and Entries share. Errors:
// ErrNotFound (account names no account), ErrInvalidFilter (a bad metadata key), or a database
// error.
func (l *Ledger) postingConds(ctx context.Context, w *postingWhere, account, prefix string, from, to time.Time, meta map[string]string) error {
	if account != "" {
		var id string
		err := l.db.QueryRowContext(ctx, "SELECT id FROM ledger_accounts WHERE code = ?", account).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: account %q", ErrNotFound, account)
		}
		if err != nil {
			return err
		}
		w.add("p.account_id = ?", id)
	}
	if prefix != "" {
		w.add("substr(a.code, 1, ?) = ?", utf8.RuneCountInString(prefix), prefix)
	}
	if !from.IsZero() {
		w.add("p.created_at >= ?", dbTime{from.UTC()})
	}
	if !to.IsZero() {
		w.add("p.created_at < ?", dbTime{to.UTC()})
	}
	if len(meta) == 0 {
		return nil
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if !metaKeyRE.MatchString(k) {
			return fmt.Errorf("%w: metadata key %q must match %s", ErrInvalidFilter, k, metaKeyRE)
		}
		if !utf8.ValidString(meta[k]) {
			return fmt.Errorf("%w: metadata value of %q is not UTF-8", ErrInvalidFilter, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.entries = true
	if l.isPG {
		// JSONB containment of {"k": "v", …}: string values only, as on SQLite.
		b, err := json.Marshal(meta)
		if err != nil {
			return fmt.Errorf("%w: metadata: %w", ErrInvalidFilter, err)
		}
		w.add("e.metadata @> CAST(? AS JSONB)", string(b))
		return nil
	}
	for _, k := range keys {
		path := `$."` + k + `"`
		w.add("json_type(e.metadata, ?) = 'text' AND json_extract(e.metadata, ?) = ?", path, path, meta[k])
	}
	return nil
}

// History returns postings in ascending ID order, filtered by f, one page at a time: next is the
// cursor to pass as f.After for the following page, or 0 when this page is the last. Filters
// combine: Account (exact code), AccountPrefix (code prefix), Asset, From and To (created in
// [From, To)), Metadata (the entry's metadata has these string values), EntryID.
//
// Within one account, IDs follow commit order, so paging an account's history never misses a
// posting. Across accounts on PostgreSQL, a posting committed late may get a lower ID than one
// already read; a reader that follows every account from a cursor should page per account or
// stay a few seconds behind.
//
// Errors: ErrNotFound (f.Account names no account, or f.EntryID no entry), ErrInvalidFilter (a
// metadata key outside [A-Za-z0-9_-]{1,64}), or a database error.
func (l *Ledger) History(ctx context.Context, f PostingFilter) ([]Posting, int64, error) {
	limit := pageLimit(f.Limit)
	w := &postingWhere{}
	w.add("p.id > ?", max(f.After, 0))
	if err := l.postingConds(ctx, w, f.Account, f.AccountPrefix, f.From, f.To, f.Metadata); err != nil {
		return nil, 0, err
	}
	if f.Asset != "" {
		w.add("a.asset = ?", f.Asset)
	}
	if f.EntryID != "" {
		var id string
		err := l.db.QueryRowContext(ctx, "SELECT id FROM ledger_entries WHERE id = ?", f.EntryID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, 0, fmt.Errorf("%w: entry %q", ErrNotFound, f.EntryID)
		}
		if err != nil {
			return nil, 0, err
		}
		w.add("p.entry_id = ?", f.EntryID)
	}
	ps, err := queryPostingsFrom(ctx, l.db, w, fmt.Sprintf(" LIMIT %d", limit+1))
	if err != nil {
		return nil, 0, err
	}
	if len(ps) > limit {
		return ps[:limit], ps[limit-1].ID, nil
	}
	return ps, 0, nil
}

// queryPostingsFrom runs the posting query with w's joins and conditions, in ID order.
func queryPostingsFrom(ctx context.Context, db bun.IDB, w *postingWhere, limit string) ([]Posting, error) {
	where := w.where()
	if w.entries {
		where = "EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = p.entry_id AND " + where + ")"
	}
	return queryPostings(ctx, db, where, w.args, limit)
}

// Entries returns journal entries with their postings (all of them, not only those that match),
// filtered by f, one page at a time: next is the cursor to pass as f.After for the following page,
// or "" when this page is the last. An entry matches if one of its postings does: on the account
// Account, on an account whose code starts with AccountPrefix, created in [From, To), and with
// Metadata's string values in the entry's metadata. Entries come in the order of their first
// matching posting's ID, which within one account is commit order (see History for paging
// across accounts).
//
// Errors: ErrNotFound (f.Account names no account), ErrInvalidFilter (a metadata key outside
// [A-Za-z0-9_-]{1,64}, or f.After not a cursor Entries returned), or a database error.
func (l *Ledger) Entries(ctx context.Context, f EntryFilter) ([]Entry, string, error) {
	limit := pageLimit(f.Limit)
	var after int64
	if f.After != "" {
		n, err := strconv.ParseInt(f.After, 10, 64)
		if err != nil || n <= 0 {
			return nil, "", fmt.Errorf("%w: cursor %q", ErrInvalidFilter, f.After)
		}
		after = n
	}
	w := &postingWhere{}
	if err := l.postingConds(ctx, w, f.Account, f.AccountPrefix, f.From, f.To, f.Metadata); err != nil {
		return nil, "", err
	}
	// The cursor is the first matching posting of the previous page's last entry. Earlier pages
	// returned exactly the entries whose first matching posting is at or before it, so this page
	// takes the entries that have a matching posting after it and none at or before it: postings
	// of concurrent entries interleave, so an entry returned earlier can have later postings too.
	cond := w.where()
	args := append([]any(nil), w.args...)
	if after > 0 {
		cond += " AND p.id > ?"
		args = append(args, after)
	}
	// Read matching postings in ID order, in batches, until limit+1 new entries are seen.
	var (
		order []string
		first = map[string]int64{} // entry → its first matching posting after the cursor
		from  int64
		batch = 2 * (limit + 1)
	)
	for len(order) <= limit {
		q := "SELECT p.id, p.entry_id" + w.from() + " WHERE " + cond + " AND p.id > ? ORDER BY p.id LIMIT ?"
		rows, err := l.db.QueryContext(ctx, q, append(args, from, batch)...)
		if err != nil {
			return nil, "", err
		}
		n := 0
		var fresh []string
		for rows.Next() {
			var (
				id    int64
				entry string
			)
			if err := rows.Scan(&id, &entry); err != nil {
				rows.Close()
				return nil, "", err
			}
			n++
			from = id
			if _, ok := first[entry]; !ok {
				first[entry] = id
				fresh = append(fresh, entry)
			}
		}
		if err := closeRows(rows); err != nil {
			return nil, "", err
		}
		if after > 0 && len(fresh) > 0 {
			// Leave out the entries an earlier page returned.
			q := "SELECT DISTINCT p.entry_id" + w.from() + " WHERE " + w.where() + " AND p.id <= ? AND p.entry_id IN (?)"
			seen, err := l.db.QueryContext(ctx, q, append(append([]any(nil), w.args...), after, bun.In(fresh))...)
			if err != nil {
				return nil, "", err
			}
			old := map[string]bool{}
			for seen.Next() {
				var e string
				if err := seen.Scan(&e); err != nil {
					seen.Close()
					return nil, "", err
				}
				old[e] = true
			}
			if err := closeRows(seen); err != nil {
				return nil, "", err
			}
			kept := fresh[:0]
			for _, e := range fresh {
				if !old[e] {
					kept = append(kept, e)
				}
			}
			fresh = kept
		}
		order = append(order, fresh...)
		if n < batch {
			break
		}
	}
	next := ""
	if len(order) > limit {
		order = order[:limit]
		next = strconv.FormatInt(first[order[limit-1]], 10)
	}
	es, err := loadEntries(ctx, l.db, order)
	if err != nil {
		return nil, "", err
	}
	return es, next, nil
}

// BalanceAsOf returns the account's posted balance, in its normal direction, right after its
// posting postingID (that posting's BalanceAfter). Holds are not part of it. Errors: ErrNotFound
// (no account code, or postingID is not one of its postings), or a database error.
func (l *Ledger) BalanceAsOf(ctx context.Context, code string, postingID int64) (decimal.Decimal, error) {
	a, err := l.accountByCode(ctx, l.db, code)
	if err != nil {
		return decimal.Decimal{}, err
	}
	var after units
	err = l.db.QueryRowContext(ctx, "SELECT balance_after FROM ledger_postings WHERE id = ? AND account_id = ?",
		postingID, a.ID).Scan(&after)
	if errors.Is(err, sql.ErrNoRows) {
		return decimal.Decimal{}, fmt.Errorf("%w: posting %d of account %q", ErrNotFound, postingID, code)
	}
	if err != nil {
		return decimal.Decimal{}, err
	}
	return after.decimal(a.Precision), nil
}
