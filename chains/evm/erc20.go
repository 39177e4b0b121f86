package evm

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// The ERC-20 (https://eips.ethereum.org/EIPS/eip-20) functions and event the adapter uses.
const erc20ABIJSON = `[
{"type":"function","name":"transfer","stateMutability":"nonpayable","inputs":[{"name":"to","type":"address"},{"name":"value","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]},
{"type":"function","name":"balanceOf","stateMutability":"view","inputs":[{"name":"owner","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},
{"type":"event","name":"Transfer","anonymous":false,"inputs":[{"name":"from","type":"address","indexed":true},{"name":"to","type":"address","indexed":true},{"name":"value","type":"uint256","indexed":false}]}
]`

// transferTopic is topic 0 of the ERC-20 Transfer(address,address,uint256) event.
var transferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// erc20ABI parses the constant ABI. It is a function rather than a package variable initialised
// at start-up so that a (never expected) parse error is an error, not a panic.
func erc20ABI() (abi.ABI, error) {
	return abi.JSON(strings.NewReader(erc20ABIJSON))
}

// packTransfer returns the calldata of transfer(to, amount).
func packTransfer(a abi.ABI, to common.Address, amount *big.Int) ([]byte, error) {
	return a.Pack("transfer", to, amount)
}

// packBalanceOf returns the calldata of balanceOf(owner).
func packBalanceOf(a abi.ABI, owner common.Address) ([]byte, error) {
	return a.Pack("balanceOf", owner)
}

// unpackUint256 decodes a single uint256 return value.
func unpackUint256(out []byte) (*big.Int, error) {
	if len(out) != 32 {
		return nil, fmt.Errorf("want a 32-byte uint256, got %d bytes (is it an ERC-20 contract?)", len(out))
	}
	return new(big.Int).SetBytes(out), nil
}
