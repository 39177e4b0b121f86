package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/ids"
)

// BatchMode says what PostBatch does when one entry of the batch fails.
type BatchMode int

const (
	// AllOrNothing posts every entry of the batch or none: the first entry that fails makes the
	// whole batch fail, with a *BatchError naming it.
	AllOrNothing BatchMode = iota
	// Independent gives each entry its own result: an entry that fails writes nothing and gets
	// its error in its BatchResult; the others commit.
	Independent
)

// BatchResult is one entry's outcome in PostBatch: the posted entry (or, for an idempotency key
// seen before, the first entry posted under it), or the entry's own error.
type BatchResult struct {
	Entry Entry
	Err   error

	// lazy, when set, builds Entry: a batch's results are built by whoever reads them, so that
	// the group committer hands the work to its callers' goroutines (see resolve).
	lazy *entryWrite
}

// resolve builds r.Entry if it is lazy.
func (r *BatchResult) resolve() {
	if w := r.lazy; w != nil {
		r.Entry, r.lazy = newEntry(w.id, w.head, w.rows, w.pids, w.hash), nil
	}
}

// BatchError is the error of an AllOrNothing batch: the entry at Index failed with Err (which
// errors.Is matches against the ledger's sentinels).
type BatchError struct {
	Index int
	Err   error
}

// Error returns the failing entry's index and error.
func (e *BatchError) Error() string { return fmt.Sprintf("ledger: batch entry %d: %v", e.Index, e.Err) }

// Unwrap returns the failing entry's error.
func (e *BatchError) Unwrap() error { return e.Err }

// errKeyRace: an idempotency key of the batch was committed by another transaction after the batch
// looked it up; the batch's own transaction runs again, a caller's transaction must be rolled back.
var errKeyRace = errors.New("ledger: an idempotency key of the batch was committed concurrently; roll back and retry")

// PostBatch posts entries in one database transaction of its own and returns one result per entry,
// in order. It locks every account that any entry touches first, in one statement in id order
// (FOR UPDATE on PostgreSQL), then checks and applies the entries one after another against the
// running in-transaction balances, exactly as Post would one at a time (an entry sees the postings
// of the entries before it), and writes the entries, their postings and the accounts' new balances
// in a few multi-row statements. Idempotency keys behave as for Post: a key posted earlier returns
// the first entry (ErrIdempotencyConflict for a different request); a key used twice in the batch
// gives the second entry the first one's result (or ErrIdempotencyConflict if the requests differ)
// once the first was written. An entry that failed wrote nothing and did not use its key, exactly
// as with Post: a later entry under the key is checked on its own.
//
// In AllOrNothing mode the first failing entry makes the batch write nothing and return a
// *BatchError with its index; in Independent mode each failing entry gets its own Err and writes
// nothing, and the others commit. An empty batch returns no results and no error.
//
// Errors: per entry (BatchResult.Err, or wrapped in *BatchError): those of Post. For the whole
// batch: ErrInvalidEntry for an unknown mode, or a database error (transient conflicts are retried
// as for Post); then nothing was written.
func (l *Ledger) PostBatch(ctx context.Context, entries []EntryInput, mode BatchMode) ([]BatchResult, error) {
	return l.PostBatchTx(ctx, l.db, entries, mode)
}

// PostBatchTx is PostBatch inside the caller's transaction tx: the batch commits or rolls back with
// it, and the touched accounts stay locked until tx ends. Given a *bun.DB instead of a transaction,
// it runs in a transaction of its own. Errors: as PostBatch; when it returns an error other than a
// *BatchError the caller must roll tx back, since part of the batch may have been written in it.
func (l *Ledger) PostBatchTx(ctx context.Context, tx bun.IDB, entries []EntryInput, mode BatchMode) ([]BatchResult, error) {
	if mode != AllOrNothing && mode != Independent {
		return nil, fmt.Errorf("%w: unknown batch mode %d", ErrInvalidEntry, mode)
	}
	if len(entries) == 0 {
		return []BatchResult{}, nil
	}
	pre := make([]error, len(entries))
	hashes := make([]string, len(entries))
	for i, in := range entries {
		if err := validateEntry(in); err != nil {
			if mode == AllOrNothing {
				return nil, &BatchError{Index: i, Err: err}
			}
			pre[i] = err
			continue
		}
		hashes[i] = entryHash(in)
	}
	res, err := l.postBatchChecked(ctx, tx, entries, hashes, pre, mode)
	if err != nil {
		return nil, err
	}
	for i := range res {
		res[i].resolve()
	}
	return res, nil
}

// postBatchChecked is PostBatchTx for entries already validated: pre[i] is entry i's validation
// error, hashes[i] its request hash. Its results may be lazy (see BatchResult.resolve).
func (l *Ledger) postBatchChecked(ctx context.Context, tx bun.IDB, entries []EntryInput, hashes []string, pre []error, mode BatchMode) ([]BatchResult, error) {
	_, own := tx.(*bun.DB)
	own = own || tx == nil
	var out []BatchResult
	// In a transaction of its own, the batch first runs without looking its idempotency keys up
	// (a replayed key makes the entries' INSERT conflict, which writes nothing; the batch then runs
	// again with the lookup). In the caller's transaction a conflict would leave it to roll back, so
	// the keys are looked up first.
	lookup := !own
	for try := 1; ; try++ {
		err := l.write(ctx, tx, func(ctx context.Context, tx bun.IDB) error {
			res, err := l.postBatch(ctx, tx, entries, hashes, pre, mode, lookup)
			out = res
			return err
		})
		if errors.Is(err, errKeyRace) && own && try < l.maxTry && ctx.Err() == nil {
			lookup = true
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// postBatch is one attempt at a batch in tx: lock the set of accounts, apply each entry with
// entryLegs and applyEntry (Post's own checks), then write what passed. With lookup, the batch's
// idempotency keys are looked up (in one statement) before the entries are applied; without, only
// the key of an entry that fails its checks is (a replay whose postings would no longer pass), and
// a key committed earlier makes the write conflict: errKeyRace, and nothing was written.
func (l *Ledger) postBatch(ctx context.Context, tx bun.IDB, entries []EntryInput, hashes []string, pre []error, mode BatchMode, lookup bool) ([]BatchResult, error) {
	res := make([]BatchResult, len(entries))
	var codes, keys []string
	for i, in := range entries {
		res[i].Err = pre[i]
		if pre[i] != nil {
			continue
		}
		for _, p := range in.Postings {
			codes = append(codes, p.Account)
		}
		if in.IdempotencyKey != "" {
			keys = append(keys, in.IdempotencyKey)
		}
	}
	if len(codes) == 0 {
		return res, nil // every entry failed validation
	}
	accts, err := l.lockFound(ctx, tx, "code", uniqueSorted(codes))
	if err != nil {
		return nil, err
	}
	// Looked up after the locks, so that a concurrent writer of a key that touches these accounts
	// and committed while this batch waited is seen.
	known := map[string]keyedEntry{}
	if lookup {
		if known, err = entriesByKeys(ctx, tx, uniqueSorted(keys)); err != nil {
			return nil, err
		}
	}
	now := l.now()
	if err := loadExpired(ctx, tx, now, accts); err != nil {
		return nil, err
	}
	var (
		writes   []entryWrite
		existing = map[int]string{} // entry index → id of the entry posted earlier under its key
		dup      = map[int]int{}    // entry index → index of the earlier entry of the batch with its key
		inBatch  = map[string]int{} // key → index of the entry of the batch written under it
	)
	for i, in := range entries {
		if res[i].Err != nil {
			continue
		}
		err := func() error {
			if k := in.IdempotencyKey; k != "" {
				if kn, ok := known[k]; ok {
					if kn.hash != hashes[i] {
						return fmt.Errorf("%w: key %q was used for entry %s", ErrIdempotencyConflict, k, kn.id)
					}
					existing[i] = kn.id
					return nil
				}
				if j, ok := inBatch[k]; ok {
					if hashes[j] != hashes[i] {
						return fmt.Errorf("%w: key %q was used for entry %d of the batch", ErrIdempotencyConflict, k, j)
					}
					dup[i] = j
					return nil
				}
			}
			legs, err := entryLegs(accts, in)
			var rows []postingRow
			if err == nil {
				rows, err = applyEntry(legs)
			}
			if err != nil && !lookup && in.IdempotencyKey != "" && isCheckFailure(err) {
				// A replay of an entry that would no longer pass returns the first entry.
				id, kerr := entryByKey(ctx, tx, in.IdempotencyKey, hashes[i])
				if kerr != nil {
					return kerr
				}
				if id != "" {
					existing[i] = id
					return nil
				}
			}
			if err != nil {
				return err
			}
			writes = append(writes, entryWrite{idx: i, id: ids.New("je"), rows: rows, head: entryHead{
				key: in.IdempotencyKey, hash: hashes[i], description: in.Description, metadata: in.Metadata, now: now,
			}})
			if in.IdempotencyKey != "" {
				inBatch[in.IdempotencyKey] = i
			}
			return nil
		}()
		if err != nil {
			if mode == AllOrNothing {
				if !lookup && len(keys) > 0 {
					// An earlier entry of the batch may be a replay, applied here as if it were
					// new: find out before naming the entry that fails.
					return nil, errKeyRace
				}
				return nil, &BatchError{Index: i, Err: err}
			}
			res[i].Err = err
		}
	}
	if err := l.writeBatch(ctx, tx, writes, accts, res); err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		idList := make([]string, 0, len(existing))
		for _, id := range existing {
			idList = append(idList, id)
		}
		es, err := loadEntries(ctx, tx, idList)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]Entry, len(es))
		for _, e := range es {
			byID[e.ID] = e
		}
		for i, id := range existing {
			e, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("ledger: entry %s of key %q not found", id, entries[i].IdempotencyKey)
			}
			res[i].Entry = e
		}
	}
	for i, j := range dup {
		res[i] = res[j] // a lazy result is built from the same write twice, into two copies
	}
	return res, nil
}

// writeBatch writes the entries that passed (writeEntries) and fills in their results. An entry
// whose key another transaction committed makes it fail with errKeyRace.
func (l *Ledger) writeBatch(ctx context.Context, tx bun.IDB, writes []entryWrite, accts map[string]*accountRow, res []BatchResult) error {
	if len(writes) == 0 {
		return nil
	}
	pids, err := l.writeEntries(ctx, tx, writes, accts, true) // the batch's last statement
	if errors.Is(err, errNotInserted) || errors.Is(err, errPartialConflict) {
		return errKeyRace
	}
	if err != nil {
		return err
	}
	for i := range writes {
		writes[i].pids = pids
		res[writes[i].idx].lazy = &writes[i]
	}
	return nil
}

// keyedEntry is an entry id and request hash found under an idempotency key.
type keyedEntry struct{ id, hash string }

// entriesByKeys looks up the entries written under the given idempotency keys, in one statement.
func entriesByKeys(ctx context.Context, db bun.IDB, keys []string) (map[string]keyedEntry, error) {
	out := map[string]keyedEntry{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT idempotency_key, id, request_hash FROM ledger_entries WHERE idempotency_key IN (?)", bun.In(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var e keyedEntry
		if err := rows.Scan(&k, &e.id, &e.hash); err != nil {
			return nil, err
		}
		out[k] = e
	}
	return out, rows.Err()
}
