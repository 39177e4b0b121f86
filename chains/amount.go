package chains

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/internal/units"
)

// ToDecimal converts base units of a into units: 1500000 base units of a 6-decimal token is 1.5.
// It is exact.
func (a Asset) ToDecimal(baseUnits *big.Int) decimal.Decimal {
	return decimal.NewFromBigInt(baseUnits, -a.Decimals)
}

// FromDecimal converts units of a into base units: 1.5 of a 6-decimal token is 1500000. It is exact
// and cheap for any input, and returns an error wrapping ErrAmountPrecision if d is not positive,
// has more fractional digits than a.Decimals, or exceeds 2^256 − 1 base units.
func (a Asset) FromDecimal(d decimal.Decimal) (*big.Int, error) {
	if d.Sign() <= 0 {
		return nil, fmt.Errorf("%w: %s is not positive", ErrAmountPrecision, units.Format(d))
	}
	v, err := units.BaseUnits(d, a.Decimals)
	if err != nil {
		return nil, fmt.Errorf("%w: %s on %s: %w", ErrAmountPrecision, a.Code, a.Network, err)
	}
	return v, nil
}
