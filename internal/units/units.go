// Package units converts and stores exact amounts: integer base units, at most 2^256 − 1 (the
// largest ERC-20 amount), stored as NUMERIC(78,0) on PostgreSQL and as decimal text on SQLite.
//
// BaseUnits is the one conversion from a decimal amount in asset units to base units. It is exact
// and cheap whatever the input: an amount such as 1e999999999 is refused by counting its digits,
// never by computing it, so hostile input cannot make it spend memory or time.
package units

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"
)

// Errors returned by BaseUnits; match with errors.Is.
var (
	ErrNegative  = errors.New("units: amount is negative")
	ErrPrecision = errors.New("units: too many decimal places")
	ErrTooLarge  = errors.New("units: amount exceeds 2^256-1 base units")
)

// Max is the largest amount in base units: 2^256 − 1.
var Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// BaseUnits converts d units of an asset with precision fractional digits into base units:
// 1.5 at precision 6 is 1500000. Zero is allowed; callers that need a positive amount check
// Sign. Errors: ErrNegative, ErrPrecision (more than precision fractional digits), ErrTooLarge.
func BaseUnits(d decimal.Decimal, precision int32) (*big.Int, error) {
	switch d.Sign() {
	case -1:
		return nil, fmt.Errorf("%w: %s", ErrNegative, Format(d))
	case 0:
		return new(big.Int), nil
	}
	c := d.Coefficient() // a copy
	shift := int64(d.Exponent()) + int64(precision)
	digits := int64(len(c.String()))
	if shift >= 0 {
		if digits+shift > 79 { // 2^256 has 78 digits
			return nil, fmt.Errorf("%w: %s", ErrTooLarge, Format(d))
		}
		c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(shift), nil))
	} else {
		if -shift > digits {
			return nil, fmt.Errorf("%w: %s has more than %d", ErrPrecision, Format(d), precision)
		}
		q, r := new(big.Int).QuoRem(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(-shift), nil), new(big.Int))
		if r.Sign() != 0 {
			return nil, fmt.Errorf("%w: %s has more than %d", ErrPrecision, Format(d), precision)
		}
		c = q
	}
	if c.Cmp(Max) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrTooLarge, Format(d))
	}
	return c, nil
}

// Format renders an amount from a caller for a message without expanding an absurd exponent
// into a billion digits: ordinary amounts as decimal text, others as coefficient and exponent.
func Format(d decimal.Decimal) string {
	c := d.Coefficient().String()
	if e := d.Exponent(); e <= 100 && e >= -100 && len(c) <= 100 {
		return d.String()
	}
	t := strings.TrimRight(c, "0")
	if t == "" || t == "-" {
		return "0"
	}
	return fmt.Sprintf("%se%d", t, int64(d.Exponent())+int64(len(c)-len(t)))
}

// Parse reads a stored amount: a decimal integer string (NUMERIC renders as text; a ".000" tail
// of zeros is accepted), an int64, or NULL (zero).
func Parse(src any) (*big.Int, error) {
	var s string
	switch x := src.(type) {
	case nil:
		return new(big.Int), nil
	case int64:
		return big.NewInt(x), nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return nil, fmt.Errorf("units: cannot scan %T into an amount", src)
	}
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if strings.Trim(s[i+1:], "0") != "" {
			return nil, fmt.Errorf("units: stored amount %q is not an integer", s)
		}
		s = s[:i]
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("units: stored amount %q is not an integer", s)
	}
	return v, nil
}

// Int is an integer amount of base units, for the flows' tables. Its value is never mutated once
// set, so Ints may be copied freely. The zero value is 0.
type Int struct{ v *big.Int }

// FromDecimal converts d at precision as BaseUnits does.
func FromDecimal(d decimal.Decimal, precision int32) (Int, error) {
	v, err := BaseUnits(d, precision)
	if err != nil {
		return Int{}, err
	}
	return Int{v: v}, nil
}

// FromBig returns b as an Int (copied).
func FromBig(b *big.Int) Int {
	if b == nil {
		return Int{}
	}
	return Int{v: new(big.Int).Set(b)}
}

func (i Int) int() *big.Int {
	if i.v == nil {
		return new(big.Int)
	}
	return i.v
}

// Big returns a copy of i as a *big.Int.
func (i Int) Big() *big.Int { return new(big.Int).Set(i.int()) }

// Decimal returns i in units at precision: 1500000 at precision 6 is 1.5.
func (i Int) Decimal(precision int32) decimal.Decimal {
	return decimal.NewFromBigInt(i.int(), -precision)
}

// Add returns i + j.
func (i Int) Add(j Int) Int { return Int{v: new(big.Int).Add(i.int(), j.int())} }

// Cmp compares i and j: -1, 0 or +1.
func (i Int) Cmp(j Int) int { return i.int().Cmp(j.int()) }

// Sign returns -1, 0 or +1.
func (i Int) Sign() int { return i.int().Sign() }

// String returns the decimal digits of i.
func (i Int) String() string { return i.int().String() }

// Value implements driver.Valuer: the decimal digits, which NUMERIC and TEXT columns both take.
func (i Int) Value() (driver.Value, error) { return i.int().String(), nil }

// Scan implements sql.Scanner; see Parse.
func (i *Int) Scan(src any) error {
	v, err := Parse(src)
	if err != nil {
		return err
	}
	i.v = v
	return nil
}

// SQLType returns the column type for an amount: NUMERIC(78,0) on PostgreSQL, TEXT elsewhere.
func SQLType(postgres bool) string {
	if postgres {
		return "NUMERIC(78,0)"
	}
	return "TEXT"
}
