package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/uptrace/bun"
)

// Balance returns the account's balance in its normal direction: posted, held by live holds, and
// available (posted minus held). Holds past their deadline (per Config.Now) reserve nothing even
// before ExpireHolds sweeps them. The figures come from one statement, so they are consistent with
// each other. Errors: ErrNotFound, or a database error.
func (l *Ledger) Balance(ctx context.Context, code string) (Balance, error) {
	return l.BalanceTx(ctx, l.db, code)
}

// BalanceTx is Balance read through tx, so that it sees the caller's uncommitted writes. It takes
// no lock. Errors: ErrNotFound, or a database error.
func (l *Ledger) BalanceTx(ctx context.Context, tx bun.IDB, code string) (Balance, error) {
	if tx == nil {
		tx = l.db
	}
	now := dbTime{l.now()}
	var rows *sql.Rows
	var err error
	if l.isPG {
		// The same query as below, in a function that keeps its plan (pgfuncs.go).
		rows, err = tx.QueryContext(ctx, "SELECT * FROM ledger_balance_v1(?, ?)", code, now)
	} else {
		rows, err = tx.QueryContext(ctx, "SELECT "+accountCols+`, h.debit_account_id, h.amount`+accountFrom+`
	LEFT JOIN ledger_holds h ON h.status = 'pending' AND h.expires_at IS NOT NULL AND h.expires_at <= ?
		AND (h.debit_account_id = a.id OR h.credit_account_id = a.id)
	WHERE a.code = ?`, now, code)
	}
	if err != nil {
		return Balance{}, err
	}
	defer rows.Close()
	var a *accountRow
	for rows.Next() {
		var (
			debit sql.NullString
			amt   units
		)
		row, err := scanAccount(rows, &debit, &amt)
		if err != nil {
			return Balance{}, err
		}
		if a == nil {
			a = row
		}
		if !debit.Valid {
			continue
		}
		if debit.String == a.ID {
			a.expDebits = a.expDebits.add(amt)
		} else {
			a.expCredits = a.expCredits.add(amt)
		}
	}
	if err := rows.Err(); err != nil {
		return Balance{}, err
	}
	if a == nil {
		return Balance{}, fmt.Errorf("%w: account %q", ErrNotFound, code)
	}
	return a.balance(), nil
}

// BalanceAt returns the account's posted balance, in its normal direction, as it stood at time at:
// the running balance after its last posting made at or before at (zero before its first). Holds
// are not part of it. Errors: ErrNotFound, or a database error.
func (l *Ledger) BalanceAt(ctx context.Context, code string, at time.Time) (decimal.Decimal, error) {
	a, err := l.accountByCode(ctx, l.db, code)
	if err != nil {
		return decimal.Decimal{}, err
	}
	var after units
	err = l.db.QueryRowContext(ctx, `SELECT balance_after FROM ledger_postings
	WHERE account_id = ? AND created_at <= ? ORDER BY seq DESC LIMIT 1`, a.ID, dbTime{at.UTC()}).Scan(&after)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return decimal.Decimal{}, err
	}
	return after.decimal(a.Precision), nil
}
