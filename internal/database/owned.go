package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// GetOwned reads the row of model R with id that belongs to merchantID (columns id and merchant_id)
// and returns its public form. Errors: notFound, wrapped with the id, when there is none (or it is
// another merchant's); or a database error.
func GetOwned[R, P any](ctx context.Context, db bun.IDB, merchantID, id string, notFound error, public func(*R) P) (P, error) {
	var row R
	err := db.NewSelect().Model(&row).Where("id = ? AND merchant_id = ?", id, merchantID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		var zero P
		return zero, fmt.Errorf("%w: %s", notFound, id)
	}
	if err != nil {
		var zero P
		return zero, err
	}
	return public(&row), nil
}

// ListOwned returns one page (see Paginate) of merchantID's rows of model R, newest first, with
// status if it is not empty, in their public form, and the number of rows matching in all.
// Errors: a database error.
func ListOwned[R, P any](ctx context.Context, db bun.IDB, merchantID, status string, page, limit int, public func(*R) P) ([]P, int, error) {
	var rows []R
	q := db.NewSelect().Model(&rows).Where("merchant_id = ?", merchantID)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	total, err := Paginate(q, page, limit).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := make([]P, len(rows))
	for i := range rows {
		out[i] = public(&rows[i])
	}
	return out, int(total), nil
}
