package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// Reverse undoes the posted entry entryID, in a transaction of its own: it posts a new entry with
// the same postings, each with its direction flipped, linked to the original (the new entry's
// Reverses is entryID; the original reads back with ReversedBy set). The reversal goes through the
// same checks and locks as Post: it fails, writing nothing, if it would take a NoOverdraft account
// below zero. An entry is reversed at most once, even when several callers try at the same time,
// and a reversal cannot itself be reversed (post a new entry instead). With an IdempotencyKey,
// reversing again with the same key and request returns the first reversal.
//
// Errors: ErrNotFound (no entry entryID), ErrAlreadyReversed (entryID has a reversal already),
// ErrReversalOfReversal (entryID is a reversal), ErrInsufficientFunds (a NoOverdraft account would
// end below zero), ErrInvalidEntry (description not UTF-8, unencodable metadata),
// ErrIdempotencyConflict, ErrInvalidAmount (a balance counter would leave its range), or a
// database error.
func (l *Ledger) Reverse(ctx context.Context, entryID string, in ReverseInput) (Entry, error) {
	return l.ReverseTx(ctx, l.db, entryID, in)
}

// ReverseTx is Reverse inside the caller's transaction tx: the reversal commits or rolls back with
// it. It locks the touched accounts' rows until tx ends. Given a *bun.DB instead of a transaction,
// it runs in a transaction of its own. Errors: as Reverse; on error it has written nothing in tx.
// In a caller's transaction on PostgreSQL above READ COMMITTED, a reversal racing another one of
// the same entry may fail with a serialization error instead of ErrAlreadyReversed.
func (l *Ledger) ReverseTx(ctx context.Context, tx bun.IDB, entryID string, in ReverseInput) (Entry, error) {
	if err := validateKey(in.IdempotencyKey, ErrInvalidEntry); err != nil {
		return Entry{}, err
	}
	if err := validateText(in.Description, in.Metadata, ErrInvalidEntry); err != nil {
		return Entry{}, err
	}
	meta, _ := encodeMeta(in.Metadata)
	hash := requestHash("reverse", entryID, in.Description, meta)
	var out Entry
	err := l.write(ctx, tx, func(ctx context.Context, tx bun.IDB) error {
		e, err := l.reverse(ctx, tx, entryID, in, hash)
		out = e
		return err
	})
	if err != nil {
		return Entry{}, err
	}
	return out, nil
}

func (l *Ledger) reverse(ctx context.Context, tx bun.IDB, entryID string, in ReverseInput, hash string) (Entry, error) {
	if id, err := entryByKey(ctx, tx, in.IdempotencyKey, hash); err != nil || id != "" {
		if err != nil {
			return Entry{}, err
		}
		return loadEntry(ctx, tx, id)
	}
	orig, err := loadEntry(ctx, tx, entryID)
	if err != nil {
		return Entry{}, err
	}
	if orig.Reverses != "" {
		return Entry{}, fmt.Errorf("%w: entry %s reverses entry %s", ErrReversalOfReversal, orig.ID, orig.Reverses)
	}
	if orig.ReversedBy != "" {
		return Entry{}, fmt.Errorf("%w: entry %s is reversed by entry %s", ErrAlreadyReversed, orig.ID, orig.ReversedBy)
	}
	if len(orig.Postings) < 2 {
		return Entry{}, fmt.Errorf("%w: entry %s has %d postings", ErrInvalidEntry, orig.ID, len(orig.Postings))
	}
	rev := EntryInput{IdempotencyKey: in.IdempotencyKey, Description: in.Description, Metadata: in.Metadata,
		Postings: make([]PostingInput, len(orig.Postings))}
	for i, p := range orig.Postings {
		dir := Debit
		if p.Direction == Debit {
			dir = Credit
		}
		rev.Postings[i] = PostingInput{Account: p.Account, Direction: dir, Amount: p.Amount}
	}
	return l.postEntry(ctx, tx, rev, hash, orig.ID)
}

// notReversed returns ErrAlreadyReversed if entry id has a reversal.
func notReversed(ctx context.Context, db bun.IDB, id string) error {
	var by string
	err := db.QueryRowContext(ctx, "SELECT id FROM ledger_entries WHERE reverses_entry_id = ?", id).Scan(&by)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: entry %s is reversed by entry %s", ErrAlreadyReversed, id, by)
}
