package units

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestBaseUnits(t *testing.T) {
	maxStr := Max.String()
	huge, tiny := decimal.New(1, 999999999), decimal.New(1, -999999999) // decimal.NewFromString refuses these; Go callers can make them
	cases := []struct {
		d    *decimal.Decimal
		in   string
		prec int32
		want string
		err  error
	}{
		{nil, "1.5", 6, "1500000", nil},
		{nil, "0.000001", 6, "1", nil},
		{nil, "1.0000001", 6, "", ErrPrecision},
		{nil, "1.50000000", 6, "1500000", nil}, // trailing zeros are not extra precision
		{nil, "0", 6, "0", nil},
		{nil, "-1", 6, "", ErrNegative},
		{&tiny, "", 6, "", ErrPrecision},
		{&huge, "", 6, "", ErrTooLarge},
		{nil, "1e72", 6, "", ErrTooLarge}, // 1e78 base units > 2^256-1
		{nil, maxStr + "e-18", 18, maxStr, nil},
		{nil, "115792089237316195423570985008687907853269984665640564039457584007913129639936e-18", 18, "", ErrTooLarge}, // 2^256
	}
	for _, c := range cases {
		start := time.Now()
		d := c.d
		if d == nil {
			v := decimal.RequireFromString(c.in)
			d = &v
		}
		got, err := BaseUnits(*d, c.prec)
		if time.Since(start) > time.Second {
			t.Errorf("BaseUnits(%s) took %s: hostile input must be refused cheaply", c.in, time.Since(start))
		}
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("BaseUnits(%s, %d) error = %v, want %v", c.in, c.prec, err, c.err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("BaseUnits(%s, %d) = %v, %v; want %s", c.in, c.prec, got, err, c.want)
		}
	}
}

func TestParseAndRoundTrip(t *testing.T) {
	for _, src := range []any{"0", "123", "-5", "100.000", []byte("42"), int64(7), nil} {
		if _, err := Parse(src); err != nil {
			t.Errorf("Parse(%v): %v", src, err)
		}
	}
	for _, src := range []any{"1.5", "abc", 3.5} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%v) accepted a non-integer", src)
		}
	}
	var i Int
	v, _ := FromBig(Max).Value()
	if err := i.Scan(v); err != nil || i.Big().Cmp(Max) != 0 {
		t.Fatalf("round trip of 2^256-1: %v %v", i, err)
	}
	if got := FromBig(big.NewInt(1500000)).Decimal(6).String(); got != "1.5" {
		t.Fatalf("Decimal = %s", got)
	}
}

func TestFormatNeverExpands(t *testing.T) {
	if got := Format(decimal.New(1, 999999999)); got != "1e999999999" {
		t.Fatalf("Format = %q", got)
	}
	if got := Format(decimal.RequireFromString("12.50")); got != "12.5" {
		t.Fatalf("Format = %q", got)
	}
}
