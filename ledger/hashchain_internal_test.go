package ledger

import "testing"

func TestCanonNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "0.000": "0", "1": "1", "10": "1e1", "100": "1e2", "1e2": "1e2", "1E+2": "1e2",
		"1.50": "15e-1", "1.5": "15e-1", "15e-1": "15e-1", "0.15e1": "15e-1", "-2.500": "-25e-1",
		"1e21": "1e21", "1000000000000000000000": "1e21", "007": "7", "1e999999999999999999999": "1e999999999999999999999",
		"123456789.123456789": "123456789123456789e-9",
	} {
		if got := canonNumber(in); got != want {
			t.Errorf("canonNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
