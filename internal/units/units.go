// Package units stores exact amounts in the database: integer base units as NUMERIC(78,0) on
// PostgreSQL (a uint256 fits) and as decimal text on SQLite, converted to and from
// decimal.Decimal at a fixed precision.
package units

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// ErrPrecision is returned when an amount has more fractional digits than its precision allows.
var ErrPrecision = errors.New("units: too many decimal places")

// Int is an integer amount of base units, stored exactly. The zero value is 0.
type Int struct{ v big.Int }

// FromDecimal converts d units to base units at precision (10^precision base units per unit).
// Errors: ErrPrecision if d has more than precision fractional digits.
func FromDecimal(d decimal.Decimal, precision int32) (Int, error) {
	s := d.Shift(precision)
	if !s.IsInteger() {
		return Int{}, fmt.Errorf("%w: %s allows %d", ErrPrecision, d, precision)
	}
	var i Int
	i.v.Set(s.BigInt())
	return i, nil
}

// FromBig returns b as an Int (copied).
func FromBig(b *big.Int) Int {
	var i Int
	if b != nil {
		i.v.Set(b)
	}
	return i
}

// Big returns a copy of i as a *big.Int.
func (i Int) Big() *big.Int { return new(big.Int).Set(&i.v) }

// Decimal returns i in units at precision: 1500000 at precision 6 is 1.5.
func (i Int) Decimal(precision int32) decimal.Decimal {
	return decimal.NewFromBigInt(&i.v, -precision)
}

// Add returns i + j.
func (i Int) Add(j Int) Int {
	var r Int
	r.v.Add(&i.v, &j.v)
	return r
}

// Cmp compares i and j: -1, 0 or +1.
func (i Int) Cmp(j Int) int { return i.v.Cmp(&j.v) }

// Sign returns -1, 0 or +1.
func (i Int) Sign() int { return i.v.Sign() }

// String returns the decimal digits of i.
func (i Int) String() string { return i.v.String() }

// Value implements driver.Valuer: the decimal digits, which NUMERIC and TEXT columns both take.
func (i Int) Value() (driver.Value, error) { return i.v.String(), nil }

// Scan implements sql.Scanner for NUMERIC, TEXT and integer columns.
func (i *Int) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		i.v.SetInt64(0)
		return nil
	case int64:
		i.v.SetInt64(v)
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("units: cannot scan %T", src)
	}
	if _, ok := i.v.SetString(s, 10); !ok {
		return fmt.Errorf("units: %q is not an integer", s)
	}
	return nil
}

// SQLType returns the column type for an amount: NUMERIC(78,0) on PostgreSQL, TEXT elsewhere.
func SQLType(postgres bool) string {
	if postgres {
		return "NUMERIC(78,0)"
	}
	return "TEXT"
}
