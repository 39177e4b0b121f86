package evm

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
)

// Client is the part of an Ethereum JSON-RPC client that the adapter uses. *ethclient.Client (from
// ethclient.Dial) and the client of go-ethereum's ethclient/simulated backend both satisfy it.
// Errors from a node are returned wrapped; "not found" answers are ethereum.NotFound.
type Client interface {
	// ChainID returns the EIP-155 chain id (1 for Ethereum, 137 for Polygon, 56 for BSC).
	ChainID(ctx context.Context) (*big.Int, error)
	// BlockNumber returns the height of the newest block.
	BlockNumber(ctx context.Context) (uint64, error)
	// HeaderByNumber returns the canonical header at number, or the newest one if number is nil.
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	// BlockByNumber returns the canonical block at number with its transactions.
	BlockByNumber(ctx context.Context, number *big.Int) (*types.Block, error)
	// FilterLogs returns the logs matching q.
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
	// BalanceAt returns account's native balance in wei at blockNumber (nil: the newest block).
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
	// CodeAt returns the contract code at account (empty for an externally owned account).
	CodeAt(ctx context.Context, account common.Address, blockNumber *big.Int) ([]byte, error)
	// CallContract executes a read-only call at blockNumber (nil: the newest block).
	CallContract(ctx context.Context, call ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
	// PendingNonceAt returns the next nonce of account, counting transactions in the node's pool.
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	// SuggestGasPrice returns a legacy gas price in wei.
	SuggestGasPrice(ctx context.Context) (*big.Int, error)
	// SuggestGasTipCap returns an EIP-1559 priority fee per gas in wei.
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	// EstimateGas estimates the gas call needs.
	EstimateGas(ctx context.Context, call ethereum.CallMsg) (uint64, error)
	// SendTransaction submits a signed transaction to the node's pool.
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	// TransactionReceipt returns the receipt of a mined transaction, or ethereum.NotFound.
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
	// TransactionByHash returns a transaction the node knows, and whether it is still pending.
	TransactionByHash(ctx context.Context, hash common.Hash) (tx *types.Transaction, isPending bool, err error)
}

var _ Client = (*ethclient.Client)(nil)

// checkedClient turns a Client's nil answers without an error into errors, so that a faulty
// Client cannot make the adapter dereference nil.
type checkedClient struct{ Client }

var errNilAnswer = errors.New("evm: client returned nothing and no error")

// HeaderByNumber refuses a nil header.
func (c checkedClient) HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error) {
	h, err := c.Client.HeaderByNumber(ctx, number)
	if err == nil && (h == nil || h.Number == nil) {
		err = fmt.Errorf("header %v: %w", number, errNilAnswer)
	}
	return h, err
}

// BlockByNumber refuses a nil block.
func (c checkedClient) BlockByNumber(ctx context.Context, number *big.Int) (*types.Block, error) {
	b, err := c.Client.BlockByNumber(ctx, number)
	if err == nil && (b == nil || b.Number() == nil) {
		err = fmt.Errorf("block %v: %w", number, errNilAnswer)
	}
	return b, err
}

// BalanceAt refuses a nil or negative balance.
func (c checkedClient) BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error) {
	return nonNegative(c.Client.BalanceAt(ctx, account, blockNumber))
}

// SuggestGasPrice refuses a nil or negative price.
func (c checkedClient) SuggestGasPrice(ctx context.Context) (*big.Int, error) {
	return nonNegative(c.Client.SuggestGasPrice(ctx))
}

// SuggestGasTipCap refuses a nil or negative tip.
func (c checkedClient) SuggestGasTipCap(ctx context.Context) (*big.Int, error) {
	return nonNegative(c.Client.SuggestGasTipCap(ctx))
}

// TransactionReceipt turns a nil receipt into ethereum.NotFound.
func (c checkedClient) TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error) {
	r, err := c.Client.TransactionReceipt(ctx, txHash)
	if err == nil && r == nil {
		err = ethereum.NotFound
	}
	return r, err
}

// TransactionByHash turns a nil transaction into ethereum.NotFound.
func (c checkedClient) TransactionByHash(ctx context.Context, hash common.Hash) (*types.Transaction, bool, error) {
	tx, pending, err := c.Client.TransactionByHash(ctx, hash)
	if err == nil && tx == nil {
		err = ethereum.NotFound
	}
	return tx, pending, err
}

// nonNegative refuses a nil or negative amount returned without an error.
func nonNegative(v *big.Int, err error) (*big.Int, error) {
	if err == nil && (v == nil || v.Sign() < 0) {
		return nil, fmt.Errorf("amount %v: %w", v, errNilAnswer)
	}
	return v, err
}
