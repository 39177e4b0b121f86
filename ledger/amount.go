package ledger

import (
	"database/sql/driver"
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"
)

// units is an exact integer amount in an asset's base units, as stored: NUMERIC(78,0) on
// PostgreSQL, a decimal string in TEXT on SQLite. The *big.Int it wraps is never mutated once set:
// arithmetic makes new values (see add and sub), so units values may be copied freely.
type units struct{ v *big.Int }

var (
	zeroInt = new(big.Int)
	// maxAmount is the largest amount in base units one posting or hold may carry: 2^256 − 1,
	// the largest ERC-20 amount.
	maxAmount = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
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
	var s string
	switch x := src.(type) {
	case nil:
		u.v = new(big.Int)
		return nil
	case int64:
		u.v = big.NewInt(x)
		return nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("ledger: cannot scan %T into an amount", src)
	}
	s = strings.TrimSpace(s)
	// PostgreSQL may render NUMERIC(78,0) with a ".0…" tail in some paths; accept only zeros.
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if strings.Trim(s[i+1:], "0") != "" {
			return fmt.Errorf("ledger: stored amount %q is not an integer", s)
		}
		s = s[:i]
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("ledger: stored amount %q is not an integer", s)
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
	if d.Sign() < 0 {
		return units{}, fmt.Errorf("%w: %s is negative", ErrInvalidAmount, fmtAmount(d))
	}
	if d.Sign() == 0 {
		return units{v: new(big.Int)}, nil
	}
	c := d.Coefficient() // a copy
	shift := int64(d.Exponent()) + int64(precision)
	digits := int64(len(c.String()))
	if shift >= 0 {
		if digits+shift > 79 {
			return units{}, fmt.Errorf("%w: %s is too large", ErrInvalidAmount, fmtAmount(d))
		}
		c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(shift), nil))
	} else {
		if -shift > digits {
			return units{}, fmt.Errorf("%w: %s has more than %d decimals", ErrInvalidAmount, fmtAmount(d), precision)
		}
		q, r := new(big.Int).QuoRem(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(-shift), nil), new(big.Int))
		if r.Sign() != 0 {
			return units{}, fmt.Errorf("%w: %s has more than %d decimals", ErrInvalidAmount, fmtAmount(d), precision)
		}
		c = q
	}
	if c.Cmp(maxAmount) > 0 {
		return units{}, fmt.Errorf("%w: %s exceeds 2^256-1 base units", ErrInvalidAmount, fmtAmount(d))
	}
	return units{v: c}, nil
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
func fmtAmount(d decimal.Decimal) string {
	if e := d.Exponent(); e > 100 || e < -100 || len(d.Coefficient().String()) > 100 {
		return canonDecimal(d)
	}
	return d.String()
}
