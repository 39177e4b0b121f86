package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/ids"
)

// holdRow is a hold as stored.
type holdRow struct {
	ID, Key                         string
	DebitID, CreditID               string
	Debit, Credit                   string // account codes
	Asset                           string
	Precision                       int32
	Amount, Captured                units
	Status                          HoldStatus // as stored: pending until captured, voided or swept
	ExpiresAt                       time.Time
	AvailableBefore, AvailableAfter units
	EntryID                         string
	Description                     string
	Metadata                        map[string]any
	CreatedAt, UpdatedAt            time.Time
}

// expired reports whether the hold is pending in storage but past its deadline at now.
func (h *holdRow) expired(now time.Time) bool {
	return h.Status == HoldPending && !h.ExpiresAt.IsZero() && !now.Before(h.ExpiresAt)
}

// public is the hold as callers see it at now: a pending hold past its deadline is expired.
func (h *holdRow) public(now time.Time) Hold {
	st := h.Status
	if h.expired(now) {
		st = HoldExpired
	}
	return Hold{
		ID: h.ID, IdempotencyKey: h.Key, Debit: h.Debit, Credit: h.Credit, Asset: h.Asset,
		Amount: h.Amount.decimal(h.Precision), Captured: h.Captured.decimal(h.Precision), Status: st,
		ExpiresAt:       h.ExpiresAt,
		AvailableBefore: h.AvailableBefore.decimal(h.Precision), AvailableAfter: h.AvailableAfter.decimal(h.Precision),
		EntryID: h.EntryID, Description: h.Description, Metadata: h.Metadata,
		CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
	}
}

func loadHold(ctx context.Context, db bun.IDB, id string) (*holdRow, error) {
	var (
		h                     holdRow
		key, entry, meta      sql.NullString
		status                string
		exp, created, updated dbTime
	)
	err := db.QueryRowContext(ctx, `SELECT h.id, h.idempotency_key, h.debit_account_id, h.credit_account_id, da.code, ca.code,
	h.asset, s.precision, h.amount, h.captured, h.status, h.expires_at, h.available_before, h.available_after,
	h.entry_id, h.description, h.metadata, h.created_at, h.updated_at
	FROM ledger_holds h
	JOIN ledger_accounts da ON da.id = h.debit_account_id
	JOIN ledger_accounts ca ON ca.id = h.credit_account_id
	JOIN ledger_assets s ON s.code = h.asset
	WHERE h.id = ?`, id).Scan(&h.ID, &key, &h.DebitID, &h.CreditID, &h.Debit, &h.Credit, &h.Asset, &h.Precision,
		&h.Amount, &h.Captured, &status, &exp, &h.AvailableBefore, &h.AvailableAfter, &entry, &h.Description, &meta,
		&created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: hold %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	h.Key, h.EntryID, h.Status = key.String, entry.String, HoldStatus(status)
	h.ExpiresAt, h.CreatedAt, h.UpdatedAt = exp.t, created.t, updated.t
	if h.Metadata, err = decodeMeta(meta); err != nil {
		return nil, fmt.Errorf("ledger: hold %s: %w", id, err)
	}
	return &h, nil
}

// GetHold returns the hold with id. A pending hold whose deadline has passed (per Config.Now) is
// reported as HoldExpired even before ExpireHolds sweeps it. Errors: ErrNotFound, or a database
// error.
func (l *Ledger) GetHold(ctx context.Context, id string) (Hold, error) {
	h, err := loadHold(ctx, l.db, id)
	if err != nil {
		return Hold{}, err
	}
	return h.public(l.now()), nil
}

// Hold reserves in.Amount of the in.Debit account's available balance for a later transfer to
// in.Credit, in a transaction of its own: the Debit account's debits_pending and the Credit
// account's credits_pending grow by the amount until the hold is captured, voided or expires.
// With an IdempotencyKey, the same request again returns the first hold; a different request under
// the same key fails. Nothing is written when it fails.
//
// Errors: ErrInvalidEntry (bad account codes, Debit equal to Credit, ExpiresAt not in the future
// or after 9999, a key over MaxKeyBytes, a NUL in the key, description or metadata, unencodable
// metadata), ErrInvalidAmount, ErrNotFound (an unknown account), ErrAssetMismatch
// (the accounts' assets differ), ErrInsufficientFunds (a NoOverdraft account would end below zero),
// ErrIdempotencyConflict, or a database error.
func (l *Ledger) Hold(ctx context.Context, in HoldInput) (Hold, error) {
	return l.HoldTx(ctx, l.db, in)
}

// HoldTx is Hold inside the caller's transaction tx. Given a *bun.DB instead of a transaction, it
// runs in a transaction of its own. Errors: as Hold; on error it has written nothing in tx.
func (l *Ledger) HoldTx(ctx context.Context, tx bun.IDB, in HoldInput) (Hold, error) {
	if err := validateCode(in.Debit); err != nil {
		return Hold{}, fmt.Errorf("%w: debit: %w", ErrInvalidEntry, err)
	}
	if err := validateCode(in.Credit); err != nil {
		return Hold{}, fmt.Errorf("%w: credit: %w", ErrInvalidEntry, err)
	}
	if in.Debit == in.Credit {
		return Hold{}, fmt.Errorf("%w: hold from %s to itself", ErrInvalidEntry, in.Debit)
	}
	if in.Amount.Sign() <= 0 {
		return Hold{}, fmt.Errorf("%w: %s is not positive", ErrInvalidAmount, fmtAmount(in.Amount))
	}
	if err := validateKey(in.IdempotencyKey, ErrInvalidEntry); err != nil {
		return Hold{}, err
	}
	if err := validateText(in.Description, in.Metadata, ErrInvalidEntry); err != nil {
		return Hold{}, err
	}
	exp := time.Time{}
	if !in.ExpiresAt.IsZero() {
		exp = in.ExpiresAt.UTC().Truncate(time.Microsecond)
		if exp.After(maxDBTime) {
			return Hold{}, fmt.Errorf("%w: hold expires after %s, the latest time the ledger stores", ErrInvalidEntry, maxDBTime.Format(time.RFC3339))
		}
	}
	hash := holdHash(in, exp)
	var out Hold
	err := l.write(ctx, tx, func(ctx context.Context, tx bun.IDB) error {
		h, err := l.hold(ctx, tx, in, exp, hash)
		out = h
		return err
	})
	if err != nil {
		return Hold{}, err
	}
	return out, nil
}

func (l *Ledger) hold(ctx context.Context, tx bun.IDB, in HoldInput, exp time.Time, hash string) (Hold, error) {
	replay := func(id string) (Hold, error) {
		h, err := loadHold(ctx, tx, id)
		if err != nil {
			return Hold{}, err
		}
		return h.public(l.now()), nil
	}
	if id, err := holdByKey(ctx, tx, in.IdempotencyKey, hash); err != nil || id != "" {
		if err != nil {
			return Hold{}, err
		}
		return replay(id)
	}
	accts, err := l.lockAccounts(ctx, tx, "code", []string{in.Debit, in.Credit})
	if err != nil {
		return Hold{}, err
	}
	d, c := accts[in.Debit], accts[in.Credit]
	if d.Asset != c.Asset {
		return Hold{}, fmt.Errorf("%w: hold from %s (%s) to %s (%s)", ErrAssetMismatch, d.Code, d.Asset, c.Code, c.Asset)
	}
	amt, err := toUnits(in.Amount, d.Precision)
	if err != nil {
		return Hold{}, err
	}
	if id, err := holdByKey(ctx, tx, in.IdempotencyKey, hash); err != nil || id != "" {
		if err != nil {
			return Hold{}, err
		}
		return replay(id)
	}
	now := l.now()
	if !exp.IsZero() && !now.Before(exp) {
		return Hold{}, fmt.Errorf("%w: hold expires at %s, not in the future", ErrInvalidEntry, exp.Format(time.RFC3339Nano))
	}
	if err := loadExpired(ctx, tx, now, accts); err != nil {
		return Hold{}, err
	}
	before := availableOf(accts)
	d.DebitsPending, c.CreditsPending = d.DebitsPending.add(amt), c.CreditsPending.add(amt)
	d.dirty, c.dirty = true, true
	if err := checkOverdraft(accts, before); err != nil {
		return Hold{}, err
	}
	h := &holdRow{
		ID: ids.New("hold"), Key: in.IdempotencyKey, DebitID: d.ID, CreditID: c.ID, Debit: d.Code, Credit: c.Code,
		Asset: d.Asset, Precision: d.Precision, Amount: amt, Captured: units{}, Status: HoldPending, ExpiresAt: exp,
		AvailableBefore: before[d.ID], AvailableAfter: d.available(), Description: in.Description,
		Metadata: normMeta(in.Metadata), CreatedAt: now, UpdatedAt: now,
	}
	meta, _ := encodeMeta(in.Metadata)
	q := `INSERT INTO ledger_holds (id, idempotency_key, request_hash, debit_account_id, credit_account_id, asset, amount,
	captured, status, expires_at, available_before, available_after, entry_id, description, metadata, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, '0', 'pending', ?, ?, ?, NULL, ?, ?, ?, ?)`
	if in.IdempotencyKey != "" {
		q += " ON CONFLICT (idempotency_key) DO NOTHING"
	}
	res, err := tx.ExecContext(ctx, q, h.ID, nullKey(h.Key), hash, h.DebitID, h.CreditID, h.Asset, h.Amount,
		dbTime{exp}, h.AvailableBefore, h.AvailableAfter, h.Description, meta, dbTime{now}, dbTime{now})
	if err != nil {
		return Hold{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return Hold{}, err
	} else if n == 0 {
		id, err := holdByKey(ctx, tx, in.IdempotencyKey, hash)
		if err != nil {
			return Hold{}, err
		}
		if id == "" {
			return Hold{}, fmt.Errorf("ledger: hold with key %q neither inserted nor found", in.IdempotencyKey)
		}
		return replay(id)
	}
	if err := l.saveAccounts(ctx, tx, accts); err != nil {
		return Hold{}, err
	}
	return h.public(now), nil
}

// Capture completes a pending hold, in a transaction of its own: it posts amount from the hold's
// Debit account to its Credit account as a journal entry and releases the whole hold. A zero amount
// captures the hold in full; a smaller amount captures that much and releases the rest. With an
// idempotencyKey (the entry's key), repeating the capture returns the first result.
//
// Errors: ErrNotFound (no such hold), ErrInvalidAmount (negative, too many decimals, or more than
// the hold), ErrInvalidEntry (a key over MaxKeyBytes, not UTF-8 or with a NUL), ErrHoldNotPending (captured, voided or expired), ErrIdempotencyConflict (the key was
// used for another request), or a database error.
func (l *Ledger) Capture(ctx context.Context, holdID string, amount decimal.Decimal, idempotencyKey string) (Hold, Entry, error) {
	return l.CaptureTx(ctx, l.db, holdID, amount, idempotencyKey)
}

// CaptureTx is Capture inside the caller's transaction tx. Given a *bun.DB instead of a
// transaction, it runs in a transaction of its own. Errors: as Capture; on error it has written
// nothing in tx.
func (l *Ledger) CaptureTx(ctx context.Context, tx bun.IDB, holdID string, amount decimal.Decimal, idempotencyKey string) (Hold, Entry, error) {
	if amount.Sign() < 0 {
		return Hold{}, Entry{}, fmt.Errorf("%w: capture of %s", ErrInvalidAmount, fmtAmount(amount))
	}
	if err := validateKey(idempotencyKey, ErrInvalidEntry); err != nil {
		return Hold{}, Entry{}, err
	}
	var (
		outH Hold
		outE Entry
	)
	err := l.write(ctx, tx, func(ctx context.Context, tx bun.IDB) error {
		h, e, err := l.capture(ctx, tx, holdID, amount, idempotencyKey)
		outH, outE = h, e
		return err
	})
	if err != nil {
		return Hold{}, Entry{}, err
	}
	return outH, outE, nil
}

func (l *Ledger) capture(ctx context.Context, tx bun.IDB, holdID string, amount decimal.Decimal, key string) (Hold, Entry, error) {
	h, err := loadHold(ctx, tx, holdID)
	if err != nil {
		return Hold{}, Entry{}, err
	}
	amt := h.Amount
	if amount.Sign() > 0 {
		if amt, err = toUnits(amount, h.Precision); err != nil {
			return Hold{}, Entry{}, err
		}
		if amt.cmp(h.Amount) > 0 {
			return Hold{}, Entry{}, fmt.Errorf("%w: capture of %s exceeds hold %s of %s %s", ErrInvalidAmount,
				fmtAmount(amount), h.ID, h.Amount.decimal(h.Precision), h.Asset)
		}
	}
	hash := captureHash(h.ID, amt)
	replay := func(entryID string) (Hold, Entry, error) {
		e, err := loadEntry(ctx, tx, entryID)
		if err != nil {
			return Hold{}, Entry{}, err
		}
		h, err := loadHold(ctx, tx, holdID)
		if err != nil {
			return Hold{}, Entry{}, err
		}
		return h.public(l.now()), e, nil
	}
	if id, err := entryByKey(ctx, tx, key, hash); err != nil || id != "" {
		if err != nil {
			return Hold{}, Entry{}, err
		}
		return replay(id)
	}
	accts, err := l.lockAccounts(ctx, tx, "id", []string{h.DebitID, h.CreditID})
	if err != nil {
		return Hold{}, Entry{}, err
	}
	if id, err := entryByKey(ctx, tx, key, hash); err != nil || id != "" {
		if err != nil {
			return Hold{}, Entry{}, err
		}
		return replay(id)
	}
	// Every change to a hold locks its accounts first, so the hold is stable from here on.
	if h, err = loadHold(ctx, tx, holdID); err != nil {
		return Hold{}, Entry{}, err
	}
	now := l.now()
	if err := pendingAt(h, now); err != nil {
		return Hold{}, Entry{}, err
	}
	if err := loadExpired(ctx, tx, now, accts); err != nil {
		return Hold{}, Entry{}, err
	}
	d, c := accts[h.DebitID], accts[h.CreditID]
	before := availableOf(accts)
	d.DebitsPending, c.CreditsPending = d.DebitsPending.sub(h.Amount), c.CreditsPending.sub(h.Amount)
	rows := applyLegs([]leg{{acct: d, dir: Debit, amount: amt}, {acct: c, dir: Credit, amount: amt}})
	if err := checkOverdraft(accts, before); err != nil {
		return Hold{}, Entry{}, err
	}
	meta := maps.Clone(h.Metadata)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["hold_id"] = h.ID
	// Not final: the hold's row is updated after the entry, in the same transaction.
	e, inserted, err := l.writeEntry(ctx, tx, entryHead{key: key, hash: hash, description: h.Description, metadata: meta, now: now}, accts, rows, false)
	if err != nil {
		return Hold{}, Entry{}, err
	}
	if !inserted {
		return replay(e.ID)
	}
	res, err := tx.ExecContext(ctx, `UPDATE ledger_holds SET status = 'captured', captured = ?, entry_id = ?, updated_at = ?
	WHERE id = ? AND status = 'pending'`, amt, e.ID, dbTime{now}, h.ID)
	if err != nil {
		return Hold{}, Entry{}, err
	}
	if err := expectRows(res, 1, "hold "+h.ID); err != nil {
		return Hold{}, Entry{}, err
	}
	h.Status, h.Captured, h.EntryID, h.UpdatedAt = HoldCaptured, amt, e.ID, now
	return h.public(now), e, nil
}

// pendingAt returns ErrHoldNotPending unless h is pending and not past its deadline at now.
func pendingAt(h *holdRow, now time.Time) error {
	if h.Status != HoldPending {
		return fmt.Errorf("%w: hold %s is %s", ErrHoldNotPending, h.ID, h.Status)
	}
	if h.expired(now) {
		return fmt.Errorf("%w: hold %s expired at %s", ErrHoldNotPending, h.ID, h.ExpiresAt.Format(time.RFC3339Nano))
	}
	return nil
}

// Void releases a pending hold without moving any value, in a transaction of its own.
//
// Errors: ErrNotFound (no such hold), ErrHoldNotPending (captured, voided or expired), or a
// database error.
func (l *Ledger) Void(ctx context.Context, holdID string) (Hold, error) {
	return l.VoidTx(ctx, l.db, holdID)
}

// VoidTx is Void inside the caller's transaction tx. Given a *bun.DB instead of a transaction, it
// runs in a transaction of its own. Errors: as Void; on error it has written nothing in tx.
func (l *Ledger) VoidTx(ctx context.Context, tx bun.IDB, holdID string) (Hold, error) {
	var out Hold
	err := l.write(ctx, tx, func(ctx context.Context, tx bun.IDB) error {
		h, err := loadHold(ctx, tx, holdID)
		if err != nil {
			return err
		}
		accts, err := l.lockAccounts(ctx, tx, "id", []string{h.DebitID, h.CreditID})
		if err != nil {
			return err
		}
		if h, err = loadHold(ctx, tx, holdID); err != nil {
			return err
		}
		now := l.now()
		if err := pendingAt(h, now); err != nil {
			return err
		}
		if err := l.release(ctx, tx, accts, []*holdRow{h}, HoldVoided, now); err != nil {
			return err
		}
		h.Status, h.UpdatedAt = HoldVoided, now
		out = h.public(now)
		return nil
	})
	if err != nil {
		return Hold{}, err
	}
	return out, nil
}

// release ends pending holds without posting (void or expiry): it takes their amounts off the
// accounts' pending counters, saves the accounts and sets the holds' status.
func (l *Ledger) release(ctx context.Context, tx bun.IDB, accts map[string]*accountRow, hs []*holdRow, status HoldStatus, now time.Time) error {
	holdIDs := make([]string, len(hs))
	for i, h := range hs {
		d, c := accts[h.DebitID], accts[h.CreditID]
		d.DebitsPending, c.CreditsPending = d.DebitsPending.sub(h.Amount), c.CreditsPending.sub(h.Amount)
		d.dirty, c.dirty = true, true
		holdIDs[i] = h.ID
	}
	res, err := tx.ExecContext(ctx, "UPDATE ledger_holds SET status = ?, updated_at = ? WHERE id IN (?) AND status = 'pending'",
		string(status), dbTime{now}, bun.In(holdIDs))
	if err != nil {
		return err
	}
	if err := expectRows(res, len(hs), "holds"); err != nil {
		return err
	}
	return l.saveAccounts(ctx, tx, accts)
}

// expireBatch bounds the holds ExpireHolds releases per transaction.
const expireBatch = 100

// ExpireHolds releases, in storage, every pending hold whose deadline has passed (per Config.Now):
// their amounts leave the accounts' pending counters and their status becomes expired. Expired
// holds already stop reserving funds at read time; this sweep only makes storage say so. It works
// in batches of 100 holds, each in a transaction of its own, and returns how many it released.
// Run it periodically. Errors: a database error (the holds released before it stay released).
func (l *Ledger) ExpireHolds(ctx context.Context) (int, error) {
	total := 0
	for {
		var found, released int
		err := l.runTx(ctx, l.db, func(ctx context.Context, tx bun.IDB) error {
			found, released = 0, 0
			now := l.now()
			rows, err := tx.QueryContext(ctx, `SELECT id, debit_account_id, credit_account_id FROM ledger_holds
	WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
				dbTime{now}, expireBatch)
			if err != nil {
				return err
			}
			var holdIDs, acctIDs []string
			for rows.Next() {
				var id, d, c string
				if err := rows.Scan(&id, &d, &c); err != nil {
					rows.Close()
					return err
				}
				holdIDs, acctIDs = append(holdIDs, id), append(acctIDs, d, c)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			found = len(holdIDs)
			if found == 0 {
				return nil
			}
			accts, err := l.lockAccounts(ctx, tx, "id", acctIDs)
			if err != nil {
				return err
			}
			var due []*holdRow
			for _, id := range holdIDs {
				h, err := loadHold(ctx, tx, id)
				if err != nil {
					return err
				}
				if h.expired(now) {
					due = append(due, h)
				}
			}
			if len(due) == 0 {
				return nil
			}
			if err := l.release(ctx, tx, accts, due, HoldExpired, now); err != nil {
				return err
			}
			released = len(due)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += released
		if released > 0 {
			l.log.LogAttrs(ctx, slog.LevelInfo, "ledger: expired holds released", slog.Int("holds", released))
		}
		if found < expireBatch {
			return total, nil
		}
	}
}
