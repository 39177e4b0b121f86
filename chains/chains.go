// Package chains defines what settle needs from a blockchain: the Network interface every adapter
// implements, the optional capabilities an adapter may add (deriving deposit addresses, watching
// for deposits, building and signing transfers), and the shared types that cross the boundary
// (Asset, Deposit, SignedTx, TxStatus). It imports no storage and no chain library: adapters live
// in chains/bitcoin, chains/evm, chains/tron and chains/solana.
//
// Amounts that cross this boundary are on-chain base units (*big.Int, the token's own decimals,
// such as 18 for USDT on BNB Smart Chain); Asset.ToDecimal and Asset.FromDecimal convert exactly.
package chains

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// NetworkID names a network, in the seeds' spelling.
type NetworkID string

// The networks settle knows. Adapters may serve a subset; EVMLocal is a development chain (a
// go-ethereum simulated backend or a local node) with the same assets as Ethereum.
const (
	BitcoinMainnet  NetworkID = "BITCOIN_MAINNET"
	BitcoinTestnet  NetworkID = "BITCOIN_TESTNET"
	LitecoinMainnet NetworkID = "LITECOIN_MAINNET"
	EthereumMainnet NetworkID = "ETHEREUM_MAINNET"
	EthereumSepolia NetworkID = "ETHEREUM_SEPOLIA"
	PolygonMainnet  NetworkID = "MATIC_MAINNET"
	BSCMainnet      NetworkID = "BSC_MAINNET"
	TronMainnet     NetworkID = "TRON_MAINNET"
	SolanaMainnet   NetworkID = "SOL_MAINNET"
	EVMLocal        NetworkID = "EVM_LOCAL"
)

// Errors shared by every adapter. Adapters wrap them, so match with errors.Is.
var (
	// ErrInvalidAddress: an address is malformed or fails its checksum. Returned wrapped in
	// *AddressError by Network.ValidateAddress.
	ErrInvalidAddress = errors.New("chains: invalid address")
	// ErrUnknownNetwork: no adapter is registered for a NetworkID.
	ErrUnknownNetwork = errors.New("chains: unknown network")
	// ErrUnknownAsset: the network does not carry the asset.
	ErrUnknownAsset = errors.New("chains: unknown asset on network")
	// ErrAmountPrecision: an amount has more fractional digits than the asset allows, or is not positive.
	ErrAmountPrecision = errors.New("chains: amount does not fit the asset's precision")
	// ErrInsufficientOnChain: the sending address lacks the token or the native coin for fees.
	ErrInsufficientOnChain = errors.New("chains: insufficient on-chain balance")
	// ErrTransferRejected: the network itself would reject this transfer, whoever sent it and
	// whenever (on EVM chains the call reverts: a contract that refuses the coin, a token that
	// blocks the address). Sending it again cannot succeed; a node that is down or slow is not this.
	ErrTransferRejected = errors.New("chains: the network rejects the transfer")
)

// AddressError says why an address is invalid. It unwraps to ErrInvalidAddress.
type AddressError struct {
	Network NetworkID
	Address string
	Reason  string // such as "bad EIP-55 checksum", "want 0x and 40 hex digits"
}

// Error says which address on which network is invalid, and why.
func (e *AddressError) Error() string {
	return fmt.Sprintf("chains: invalid %s address %q: %s", e.Network, e.Address, e.Reason)
}

// Unwrap returns ErrInvalidAddress.
func (e *AddressError) Unwrap() error { return ErrInvalidAddress }

// Network is the interface every chain adapter implements.
type Network interface {
	// ID names the network, such as MATIC_MAINNET.
	ID() NetworkID
	// Assets lists the assets the network carries: its native coin first, then tokens.
	Assets() []Asset
	// ValidateAddress returns nil for an address payments may be sent to, or an *AddressError.
	// It checks format and checksum only; it does not touch the network.
	ValidateAddress(address string) error
}

// Asset is an asset as one network carries it.
type Asset struct {
	// Code is the ledger asset code, network-agnostic: "USDT", "ETH", "POL", "BNB".
	Code string
	// Network is the network carrying it.
	Network NetworkID
	// Contract is the token contract (or mint) address; empty for the native coin.
	Contract string
	// Decimals is the on-chain precision: base units per unit are 10^Decimals.
	Decimals int32
}

// Native reports whether a is the network's native coin (pays the fees).
func (a Asset) Native() bool { return a.Contract == "" }

// FindAsset returns the asset with code on n, or an error wrapping ErrUnknownAsset.
func FindAsset(n Network, code string) (Asset, error) {
	for _, a := range n.Assets() {
		if a.Code == code {
			return a, nil
		}
	}
	return Asset{}, fmt.Errorf("%w: %s on %s", ErrUnknownAsset, code, n.ID())
}

// Block identifies a block by height and hash.
type Block struct {
	Height uint64
	Hash   string
	Time   time.Time
}

// Deposit is one incoming transfer of an asset to a watched address, as seen on chain.
type Deposit struct {
	Network NetworkID
	Asset   Asset
	// TxHash and Index identify the transfer within its transaction, whatever block holds it:
	// Index is the log's position in the transaction's receipt (EVM tokens; a flag for the native
	// coin), the output index (UTXO) or the instruction index (Solana), so one transaction may
	// carry several deposits, and a reorg that mines the transaction again keeps its identity.
	TxHash string
	Index  uint32
	From   string
	To     string
	// Amount is in on-chain base units.
	Amount *big.Int
	Block  Block
}

// Key returns a string identifying the deposit on its network: "<tx hash>:<index>".
func (d Deposit) Key() string { return fmt.Sprintf("%s:%d", d.TxHash, d.Index) }

// AddressDeriver derives deposit addresses, such as from an extended public key (BIP-32), so that
// no private key is needed where addresses are handed out.
type AddressDeriver interface {
	// DeriveAddress returns the address at index (a non-hardened child). Same index, same address.
	DeriveAddress(ctx context.Context, index uint32) (string, error)
}

// Watcher finds deposits to watched addresses and reports chain progress, for confirmation
// counting and reorg detection.
type Watcher interface {
	// Head returns the newest block.
	Head(ctx context.Context) (Block, error)
	// BlockAt returns the block now at height on the canonical chain; a different hash from the one
	// recorded earlier means a reorg replaced it.
	BlockAt(ctx context.Context, height uint64) (Block, error)
	// Deposits returns transfers of the network's assets to any of addresses in blocks from..to
	// (inclusive), oldest first.
	Deposits(ctx context.Context, from, to uint64, addresses []string) ([]Deposit, error)
}

// TransferRequest asks an adapter to build and sign one transfer.
type TransferRequest struct {
	// From is the sending address; the adapter's Signer must hold its key. Empty means the
	// adapter's hot wallet.
	From string
	// To is the receiving address, already validated.
	To string
	// Asset is what is sent.
	Asset Asset
	// Amount is in on-chain base units, positive.
	Amount *big.Int
}

// SignedTx is a signed transaction ready to broadcast. Store it before broadcasting it: sending
// the same SignedTx twice is harmless (the network sees one transaction), so a restart that
// rebroadcasts it never pays twice.
type SignedTx struct {
	Network NetworkID
	Hash    string
	From    string
	// Nonce is the sender's sequence number where the chain has one (EVM), else 0.
	Nonce uint64
	// Raw is the serialized signed transaction as the network's broadcast call takes it.
	Raw []byte
	// Fee is the most the transaction can cost in base units of the native coin.
	Fee *big.Int
}

// TxState is what a network says of a transaction.
type TxState string

const (
	TxUnknown   TxState = "unknown"   // not seen: not yet propagated, or dropped
	TxPending   TxState = "pending"   // in the mempool
	TxConfirmed TxState = "confirmed" // in a block and succeeded
	TxFailed    TxState = "failed"    // in a block and reverted: the transfer did not happen
)

// TxStatus is a transaction's state with its confirmation count (1 = in the newest block).
type TxStatus struct {
	State         TxState
	Confirmations uint64
	Block         Block
	// Fee is what the transaction cost in base units of the native coin, once in a block.
	Fee *big.Int
}

// Sender builds, signs and broadcasts transfers.
type Sender interface {
	// HotWallet returns the address payouts are sent from by default.
	HotWallet(ctx context.Context) (string, error)
	// SignTransfer builds and signs a transfer; it does not broadcast. Errors: ErrUnknownAsset,
	// ErrInsufficientOnChain, or the node's error.
	SignTransfer(ctx context.Context, req TransferRequest) (*SignedTx, error)
	// Broadcast sends tx to the network. Broadcasting a transaction the network already knows
	// (or has already mined) is not an error.
	Broadcast(ctx context.Context, tx *SignedTx) error
	// TxStatus returns the state of the transaction with hash.
	TxStatus(ctx context.Context, hash string) (TxStatus, error)
}

// BalanceReader reads on-chain balances, for reconciliation.
type BalanceReader interface {
	// Balance returns address's balance of asset in base units at the newest block.
	Balance(ctx context.Context, address string, asset Asset) (*big.Int, error)
}

// DefaultConfirmations are the confirmations required when Config.Confirmations names no value:
// Bitcoin 2 and Ethereum 12 (seed 002's defaults), Polygon 128, BNB Smart Chain 15, Tron 19,
// Solana 32, Litecoin 6, and 1 elsewhere (such as the local development chain).
func DefaultConfirmations(n NetworkID) uint64 {
	switch n {
	case BitcoinMainnet, BitcoinTestnet:
		return 2
	case EthereumMainnet, EthereumSepolia:
		return 12
	case PolygonMainnet:
		return 128
	case BSCMainnet:
		return 15
	case TronMainnet:
		return 19
	case SolanaMainnet:
		return 32
	case LitecoinMainnet:
		return 6
	default:
		return 1
	}
}

// IsTestnet reports whether id is a test or development network, where coins have no value:
// test-mode API keys may use only these.
func (id NetworkID) IsTestnet() bool {
	switch id {
	case BitcoinTestnet, EthereumSepolia, EVMLocal:
		return true
	}
	return false
}
