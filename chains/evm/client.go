package evm

import (
	"context"
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
