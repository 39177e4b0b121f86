package evm

import (
	"encoding/hex"

	"github.com/ethereum/go-ethereum/common"
	"github.com/settle-go/settle/chains"
)

// Reasons an address is invalid, as *chains.AddressError.Reason.
const (
	reasonFormat   = `want "0x" followed by 40 hexadecimal digits`
	reasonChecksum = "bad EIP-55 checksum (mixed-case address with a wrong letter case; check for a typo)"
	reasonZero     = "the zero address (coins sent there are burnt)"
)

// ValidateAddress checks that s is an EVM address payments may be sent to: "0x" followed by 40
// hexadecimal digits, where the digits are all lower case, all upper case, or mixed case matching
// the EIP-55 checksum (https://eips.ethereum.org/EIPS/eip-55). The zero address is refused. It
// returns nil or a *chains.AddressError (which unwraps to chains.ErrInvalidAddress) for network id.
// It never touches a node.
func ValidateAddress(id chains.NetworkID, s string) error {
	a, err := parseAddress(id, s)
	if err != nil {
		return err
	}
	if a == (common.Address{}) {
		return &chains.AddressError{Network: id, Address: s, Reason: reasonZero}
	}
	return nil
}

// parseAddress checks format and EIP-55 checksum (not the zero address) and returns the address.
func parseAddress(id chains.NetworkID, s string) (common.Address, error) {
	if len(s) != 42 || s[0] != '0' || s[1] != 'x' {
		return common.Address{}, &chains.AddressError{Network: id, Address: s, Reason: reasonFormat}
	}
	digits := s[2:]
	var raw [20]byte
	if _, err := hex.Decode(raw[:], []byte(digits)); err != nil {
		return common.Address{}, &chains.AddressError{Network: id, Address: s, Reason: reasonFormat}
	}
	a := common.Address(raw)
	hasLower, hasUpper := false, false
	for i := 0; i < len(digits); i++ {
		switch c := digits[i]; {
		case c >= 'a' && c <= 'f':
			hasLower = true
		case c >= 'A' && c <= 'F':
			hasUpper = true
		}
	}
	if hasLower && hasUpper && a.Hex()[2:] != digits {
		return common.Address{}, &chains.AddressError{Network: id, Address: s, Reason: reasonChecksum}
	}
	return a, nil
}
