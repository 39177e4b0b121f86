package chains

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// ToDecimal converts base units of a into units: 1500000 base units of a 6-decimal token is 1.5.
// It is exact.
func (a Asset) ToDecimal(units *big.Int) decimal.Decimal {
	return decimal.NewFromBigInt(units, -a.Decimals)
}

// FromDecimal converts units of a into base units: 1.5 of a 6-decimal token is 1500000. It is exact
// and returns an error wrapping ErrAmountPrecision if d is not positive or has more fractional
// digits than a.Decimals.
func (a Asset) FromDecimal(d decimal.Decimal) (*big.Int, error) {
	if !d.IsPositive() {
		return nil, fmt.Errorf("%w: %s is not positive", ErrAmountPrecision, d)
	}
	scaled := d.Shift(a.Decimals)
	if !scaled.IsInteger() {
		return nil, fmt.Errorf("%w: %s has more than %d decimals for %s on %s", ErrAmountPrecision, d, a.Decimals, a.Code, a.Network)
	}
	return scaled.BigInt(), nil
}
