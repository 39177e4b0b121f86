package ledger

import (
	"database/sql/driver"
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"

	unitspkg "github.com/settle-go/settle/internal/units"
)

// units is an exact integer amount in an asset's base units, as stored: NUMERIC(78,0) on
// PostgreSQL, a decimal string in TEXT on SQLite. The *big.Int it wraps is never mutated once set:
// arithmetic makes new values (see add and sub), so units values may be copied freely.
type units struct{ v *big.Int }

var (
	zeroInt = new(big.Int)
	// maxStored is the largest magnitude NUMERIC(78,0) holds: 10^78 − 1. Counters and running
	// balances are kept below it.
	maxStored = new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(78), nil), big.NewInt(1))
)

// int returns the value, zero for the zero units.
func (u units) int() *big.Int {
	if u.v == nil {
		return zeroInt
	}
	return u.v
}

// String returns the integer in decimal.
func (u units) String() string { return u.int().String() }

func (u units) sign() int { return u.int().Sign() }

func (u units) cmp(o units) int { return u.int().Cmp(o.int()) }

func (u units) add(o units) units { return units{v: new(big.Int).Add(u.int(), o.int())} }

func (u units) sub(o units) units { return units{v: new(big.Int).Sub(u.int(), o.int())} }

// tooBig reports whether |u| no longer fits NUMERIC(78,0).
func (u units) tooBig() bool { return new(big.Int).Abs(u.int()).Cmp(maxStored) > 0 }

// decimal converts base units to asset units.
func (u units) decimal(precision int32) decimal.Decimal {
	return decimal.NewFromBigInt(u.int(), -precision)
}

// Value implements driver.Valuer: the integer as a decimal string.
func (u units) Value() (driver.Value, error) { return u.int().String(), nil }

// Scan implements sql.Scanner from a decimal integer string (either store) or an int64. NULL
// scans as zero.
func (u *units) Scan(src any) error {
	v, err := unitspkg.Parse(src)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	u.v = v
	return nil
}

// toUnits converts a positive amount in asset units to base units. Errors (wrapping
// ErrInvalidAmount): zero or negative, more than precision fractional digits, more than 2^256 − 1
// base units. It costs no more than the amount's digits, whatever its exponent.
func toUnits(d decimal.Decimal, precision int32) (units, error) {
	if d.Sign() <= 0 {
		return units{}, fmt.Errorf("%w: %s is not positive", ErrInvalidAmount, fmtAmount(d))
	}
	return toUnitsNonNeg(d, precision)
}

// toUnitsNonNeg is toUnits allowing zero.
func toUnitsNonNeg(d decimal.Decimal, precision int32) (units, error) {
	v, err := unitspkg.BaseUnits(d, precision)
	if err != nil {
		return units{}, fmt.Errorf("%w: %w", ErrInvalidAmount, err)
	}
	return units{v: v}, nil
}

// canonDecimal is a canonical text for d, the same for 1.5 and 1.50, for request hashes.
func canonDecimal(d decimal.Decimal) string {
	c := d.Coefficient().String()
	if c == "0" {
		return "0"
	}
	t := strings.TrimRight(c, "0")
	return fmt.Sprintf("%se%d", t, int64(d.Exponent())+int64(len(c)-len(t)))
}

// fmtAmount renders an amount from the caller for an error message, without expanding an absurd
// exponent into a billion digits.
func fmtAmount(d decimal.Decimal) string { return unitspkg.Format(d) }
