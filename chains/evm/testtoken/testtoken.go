// Package testtoken deploys and drives TestToken, a minimal ERC-20
// (https://eips.ethereum.org/EIPS/eip-20) with configurable decimals and an owner-only mint, for
// tests and demos on development chains. The Solidity source, ABI and bytecode are embedded (see
// README.md for the exact compiler and command); it uses go-ethereum's abi/bind/v2 package, with
// no generated bindings.
//
// Amounts are token base units (*big.Int): 1 token of a 6-decimal token is 1000000.
package testtoken

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Source is the Solidity source of TestToken.
//
//go:embed TestToken.sol
var Source string

// ABI is TestToken's ABI JSON, as solc wrote it.
//
//go:embed TestToken.abi
var ABI string

//go:embed TestToken.bin
var binHex string

// Bytecode returns TestToken's creation bytecode (without constructor arguments).
func Bytecode() ([]byte, error) {
	b := common.FromHex(strings.TrimSpace(binHex))
	if len(b) == 0 {
		return nil, errors.New("testtoken: embedded bytecode is empty")
	}
	return b, nil
}

// parsedABI parses ABI.
func parsedABI() (abi.ABI, error) {
	a, err := abi.JSON(strings.NewReader(ABI))
	if err != nil {
		return abi.ABI{}, fmt.Errorf("testtoken: parse ABI: %w", err)
	}
	return a, nil
}

// Deploy sends the transaction creating a TestToken with name, symbol and decimals, owned (for
// Mint) by auth.From; it does not wait for it to be mined (on a simulated backend, Commit). It
// returns the contract's address and the creation transaction. auth.Context, if nil, is ctx.
func Deploy(ctx context.Context, backend bind.ContractBackend, auth *bind.TransactOpts, name, symbol string, decimals uint8) (common.Address, *types.Transaction, error) {
	if auth == nil {
		return common.Address{}, nil, errors.New("testtoken: deploy: no transactor")
	}
	a, err := parsedABI()
	if err != nil {
		return common.Address{}, nil, err
	}
	code, err := Bytecode()
	if err != nil {
		return common.Address{}, nil, err
	}
	args, err := a.Pack("", name, symbol, decimals)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("testtoken: pack constructor: %w", err)
	}
	addr, tx, err := bind.DeployContract(withContext(ctx, auth), code, backend, args)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("testtoken: deploy %s: %w", symbol, err)
	}
	return addr, tx, nil
}

// Token is a deployed TestToken (or any ERC-20, for Transfer and BalanceOf).
type Token struct {
	address  common.Address
	abi      abi.ABI
	contract *bind.BoundContract
}

// Bind returns the TestToken at address on backend.
func Bind(address common.Address, backend bind.ContractBackend) (*Token, error) {
	a, err := parsedABI()
	if err != nil {
		return nil, err
	}
	return &Token{address: address, abi: a, contract: bind.NewBoundContract(address, a, backend, backend, backend)}, nil
}

// Address returns the contract's address.
func (t *Token) Address() common.Address { return t.address }

// Mint sends mint(to, amount): only the owner (the deployer) may mint. It does not wait for the
// transaction to be mined.
func (t *Token) Mint(ctx context.Context, auth *bind.TransactOpts, to common.Address, amount *big.Int) (*types.Transaction, error) {
	return t.transact(ctx, auth, "mint", to, amount)
}

// Transfer sends transfer(to, amount) from auth.From. It does not wait for the transaction to be
// mined; the node's gas estimate fails (an error) if the sender lacks the tokens.
func (t *Token) Transfer(ctx context.Context, auth *bind.TransactOpts, to common.Address, amount *big.Int) (*types.Transaction, error) {
	return t.transact(ctx, auth, "transfer", to, amount)
}

// BalanceOf returns owner's balance in base units at the newest block.
func (t *Token) BalanceOf(ctx context.Context, owner common.Address) (*big.Int, error) {
	var out []any
	if err := t.contract.Call(&bind.CallOpts{Context: ctx}, &out, "balanceOf", owner); err != nil {
		return nil, fmt.Errorf("testtoken: balanceOf: %w", err)
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("testtoken: balanceOf returned %d values", len(out))
	}
	b, ok := out[0].(*big.Int)
	if !ok {
		return nil, fmt.Errorf("testtoken: balanceOf returned %T", out[0])
	}
	return b, nil
}

func (t *Token) transact(ctx context.Context, auth *bind.TransactOpts, method string, args ...any) (*types.Transaction, error) {
	if auth == nil {
		return nil, fmt.Errorf("testtoken: %s: no transactor", method)
	}
	tx, err := t.contract.Transact(withContext(ctx, auth), method, args...)
	if err != nil {
		return nil, fmt.Errorf("testtoken: %s: %w", method, err)
	}
	return tx, nil
}

// Mint sends mint(to, amount) on the TestToken at token; see Token.Mint.
func Mint(ctx context.Context, backend bind.ContractBackend, auth *bind.TransactOpts, token, to common.Address, amount *big.Int) (*types.Transaction, error) {
	t, err := Bind(token, backend)
	if err != nil {
		return nil, err
	}
	return t.Mint(ctx, auth, to, amount)
}

// Transfer sends transfer(to, amount) on the ERC-20 at token from auth.From; see Token.Transfer.
func Transfer(ctx context.Context, backend bind.ContractBackend, auth *bind.TransactOpts, token, to common.Address, amount *big.Int) (*types.Transaction, error) {
	t, err := Bind(token, backend)
	if err != nil {
		return nil, err
	}
	return t.Transfer(ctx, auth, to, amount)
}

// BalanceOf returns owner's balance of the ERC-20 at token; see Token.BalanceOf.
func BalanceOf(ctx context.Context, backend bind.ContractBackend, token, owner common.Address) (*big.Int, error) {
	t, err := Bind(token, backend)
	if err != nil {
		return nil, err
	}
	return t.BalanceOf(ctx, owner)
}

// withContext returns a copy of auth whose Context is ctx, unless auth has one.
func withContext(ctx context.Context, auth *bind.TransactOpts) *bind.TransactOpts {
	c := *auth
	if c.Context == nil {
		c.Context = ctx
	}
	return &c
}
