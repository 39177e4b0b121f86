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

// OwnedFilter narrows ListOwned.
type OwnedFilter struct {
	Status string // only rows with this status; empty: any
	// Networks keeps only rows whose network column is one of these. nil: any network; an empty,
	// non-nil slice selects nothing.
	Networks    []string
	Page, Limit int // see Paginate
}

// ListOwned returns one page (see Paginate) of merchantID's rows of model R that pass f, newest
// first, in their public form, and the number of rows matching in all. Errors: a database error.
func ListOwned[R, P any](ctx context.Context, db bun.IDB, merchantID string, f OwnedFilter, public func(*R) P) ([]P, int, error) {
	if f.Networks != nil && len(f.Networks) == 0 {
		return []P{}, 0, nil
	}
	var rows []R
	q := db.NewSelect().Model(&rows).Where("merchant_id = ?", merchantID)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Networks != nil {
		q = q.Where("network IN (?)", bun.In(f.Networks))
	}
	total, err := Paginate(q, f.Page, f.Limit).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := make([]P, len(rows))
	for i := range rows {
		out[i] = public(&rows[i])
	}
	return out, int(total), nil
}

// Strings converts a slice of a string type (such as chains.NetworkID) for OwnedFilter.Networks,
// keeping nil nil and empty empty.
func Strings[S ~string](in []S) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}
