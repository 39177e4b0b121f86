package ledger

import (
	"errors"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

func TestToUnits(t *testing.T) {
	cases := []struct {
		in        string
		precision int32
		want      string // "" = ErrInvalidAmount
	}{
		{"1", 6, "1000000"},
		{"1.5", 6, "1500000"},
		{"1.500000000", 6, "1500000"},
		{"0.000001", 6, "1"},
		{"0.0000001", 6, ""},
		{"1.0000001", 6, ""},
		{"0", 6, ""},
		{"-1", 6, ""},
		{"100", 0, "100"},
		{"0.5", 0, ""},
		{"1e3", 2, "100000"},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", 0,
			"115792089237316195423570985008687907853269984665640564039457584007913129639935"},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639936", 0, ""},
		{"1e200", 0, ""},
	}
	for _, c := range cases {
		got, err := toUnits(decimal.RequireFromString(c.in), c.precision)
		if c.want == "" {
			if !errors.Is(err, ErrInvalidAmount) {
				t.Errorf("toUnits(%s, %d) = %s, %v; want ErrInvalidAmount", c.in, c.precision, got, err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("toUnits(%s, %d) = %s, %v; want %s", c.in, c.precision, got, err, c.want)
		}
	}
}

func TestCanonDecimal(t *testing.T) {
	for _, pair := range [][2]string{{"1.5", "1.50"}, {"100", "1e2"}, {"0.000", "0"}, {"-2.10", "-2.1"}} {
		a, b := canonDecimal(decimal.RequireFromString(pair[0])), canonDecimal(decimal.RequireFromString(pair[1]))
		if a != b {
			t.Errorf("canon %s = %s, canon %s = %s", pair[0], a, pair[1], b)
		}
	}
	if canonDecimal(decimal.RequireFromString("1.5")) == canonDecimal(decimal.RequireFromString("15")) {
		t.Error("1.5 and 15 share a canonical form")
	}
}

func TestUnitsScanValue(t *testing.T) {
	for _, src := range []any{"123", []byte("123"), int64(123), "123.000"} {
		var u units
		if err := u.Scan(src); err != nil || u.String() != "123" {
			t.Errorf("Scan(%#v) = %s, %v", src, u, err)
		}
	}
	for _, src := range []any{"12.5", "x", 1.5} {
		var u units
		if err := u.Scan(src); err == nil {
			t.Errorf("Scan(%#v) accepted", src)
		}
	}
	var u units
	if err := u.Scan(nil); err != nil || u.sign() != 0 {
		t.Errorf("Scan(nil) = %s, %v", u, err)
	}
	big256 := new(big.Int).Lsh(big.NewInt(1), 255)
	v, err := units{v: big256}.Value()
	if err != nil || v != big256.String() {
		t.Errorf("Value = %v, %v", v, err)
	}
}

type fakePG string

func (e fakePG) Error() string    { return "pg " + string(e) }
func (e fakePG) SQLState() string { return string(e) }

type fakeLite int

func (e fakeLite) Error() string { return "sqlite" }
func (e fakeLite) Code() int     { return int(e) }

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fakePG("40001"), true},
		{fakePG("40P01"), true},
		{fakePG("23505"), false},
		{fakeLite(5), true},
		{fakeLite(5 | 2<<8), true}, // SQLITE_BUSY_SNAPSHOT
		{fakeLite(6), true},
		{fakeLite(19), false},
		{errors.New("x"), false},
		{ErrInsufficientFunds, false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v", c.err, got)
		}
	}
}
