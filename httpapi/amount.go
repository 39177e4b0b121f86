package httpapi

import (
	"strings"

	"github.com/shopspring/decimal"
)

// amount is an amount in a request body: a JSON number (0.02) or string ("0.02"), kept as its
// text and parsed exactly as a decimal (never through float64), so that a bad value is reported
// against its field.
type amount struct {
	raw string
	set bool
}

// UnmarshalJSON keeps the raw JSON text.
func (a *amount) UnmarshalJSON(b []byte) error {
	a.raw, a.set = string(b), string(b) != "null"
	return nil
}

// parse returns the amount, or a validation error naming field: missing, not a decimal number.
func (a amount) parse(field string) (decimal.Decimal, error) {
	if !a.set {
		return decimal.Zero, validation(field, "is required")
	}
	s := strings.TrimSpace(a.raw)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	d, err := decimal.NewFromString(s)
	if err != nil || s == "" {
		return decimal.Zero, validation(field, "must be a decimal number, such as \"10.50\"")
	}
	return d, nil
}
