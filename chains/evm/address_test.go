package evm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/stretchr/testify/require"
)

// The test vectors published in EIP-55 (https://eips.ethereum.org/EIPS/eip-55).
var eip55Vectors = []string{
	// All caps
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	// All lower
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
	// Normal
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
}

func TestValidateAddressEIP55Vectors(t *testing.T) {
	for _, a := range eip55Vectors {
		require.NoError(t, evm.ValidateAddress(chains.EthereumMainnet, a), a)
	}
	// The mixed-case vectors are their own checksummed form; lower and upper case forms of every
	// vector are accepted too.
	for _, a := range eip55Vectors[4:] {
		require.NoError(t, evm.ValidateAddress(chains.EthereumMainnet, "0x"+strings.ToLower(a[2:])))
		require.NoError(t, evm.ValidateAddress(chains.EthereumMainnet, "0x"+strings.ToUpper(a[2:])))
	}
}

// flipCase flips the case of the first letter at or after position i of the hex digits.
func flipCase(t *testing.T, a string, from int) string {
	t.Helper()
	b := []byte(a)
	for i := 2 + from; i < len(b); i++ {
		switch c := b[i]; {
		case c >= 'a' && c <= 'f':
			b[i] = c - 'a' + 'A'
			return string(b)
		case c >= 'A' && c <= 'F':
			b[i] = c - 'A' + 'a'
			return string(b)
		}
	}
	t.Fatalf("no letter in %s", a)
	return ""
}

func TestValidateAddressRejects(t *testing.T) {
	valid := eip55Vectors[4]
	cases := map[string]struct {
		address string
		reason  string
	}{
		"empty":               {"", "40 hexadecimal"},
		"no 0x":               {valid[2:], "40 hexadecimal"},
		"no 0x, 42 hex":       {"00" + valid[2:], "40 hexadecimal"},
		"0X prefix":           {"0X" + valid[2:], "40 hexadecimal"},
		"39 hex":              {valid[:41], "40 hexadecimal"},
		"41 hex":              {valid + "a", "40 hexadecimal"},
		"non-hex":             {valid[:41] + "g", "40 hexadecimal"},
		"space":               {valid[:41] + " ", "40 hexadecimal"},
		"leading space":       {" " + valid[:41], "40 hexadecimal"},
		"unicode":             {valid[:40] + "é", "40 hexadecimal"},
		"unicode digits":      {"0x" + strings.Repeat("٣", 20), "40 hexadecimal"},
		"only 0x":             {"0x", "40 hexadecimal"},
		"checksum first":      {flipCase(t, valid, 0), "EIP-55"},
		"checksum last":       {flipCase(t, valid, 37), "EIP-55"},
		"checksum vector 2":   {flipCase(t, eip55Vectors[5], 10), "EIP-55"},
		"checksum vector 4":   {flipCase(t, eip55Vectors[7], 20), "EIP-55"},
		"zero address":        {"0x0000000000000000000000000000000000000000", "zero address"},
		"ICAP-style":          {"XE7338O073KYGTWWZN0F2WZ0R8PX5ZPPZS", "40 hexadecimal"},
		"Bitcoin address":     {"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "40 hexadecimal"},
		"upper with one flip": {"0x" + strings.ToUpper(valid[2:12]) + strings.ToLower(valid[12:]), "EIP-55"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := evm.ValidateAddress(chains.PolygonMainnet, c.address)
			require.Error(t, err)
			require.ErrorIs(t, err, chains.ErrInvalidAddress)
			var ae *chains.AddressError
			require.True(t, errors.As(err, &ae))
			require.Equal(t, chains.PolygonMainnet, ae.Network)
			require.Equal(t, c.address, ae.Address)
			require.Contains(t, ae.Reason, c.reason)
		})
	}
}

func FuzzValidateAddress(f *testing.F) {
	for _, a := range eip55Vectors {
		f.Add(a)
	}
	f.Add("")
	f.Add("0x")
	f.Add("0xZZ")
	f.Add("0x" + strings.Repeat("é", 20))
	f.Fuzz(func(t *testing.T, s string) {
		err := evm.ValidateAddress(chains.EthereumMainnet, s)
		if err != nil {
			if !errors.Is(err, chains.ErrInvalidAddress) {
				t.Fatalf("error %v does not wrap ErrInvalidAddress", err)
			}
			return
		}
		// Whatever is accepted is 0x + 40 hex digits and stays valid in its checksummed form.
		if len(s) != 42 || !strings.HasPrefix(s, "0x") {
			t.Fatalf("accepted %q", s)
		}
		lower := "0x" + strings.ToLower(s[2:])
		if err := evm.ValidateAddress(chains.EthereumMainnet, lower); err != nil {
			t.Fatalf("accepted %q but not %q: %v", s, lower, err)
		}
	})
}
