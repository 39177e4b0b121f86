package evm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/settle-go/settle/chains"
)

// Defaults of the optional Config fields.
const (
	// DefaultLogAddressChunk is how many watched addresses go into one eth_getLogs topic OR-list
	// (go-ethereum accepts at most 1000).
	DefaultLogAddressChunk = 500
	// DefaultLogBlockRange is how many blocks one eth_getLogs query spans at most (public RPC
	// providers commonly cap ranges between 1,000 and 10,000 blocks).
	DefaultLogBlockRange = 1000
	// DefaultFetchConcurrency is how many blocks Deposits fetches at once.
	DefaultFetchConcurrency = 4
)

// ErrNoSigner: a signing operation was asked of a Network configured without a Signer.
var ErrNoSigner = errors.New("evm: no signer configured")

// Config configures New.
type Config struct {
	// ID names the network, such as chains.EthereumMainnet. Required.
	ID chains.NetworkID
	// ChainID is the EIP-155 chain id. Optional: New always asks the client and refuses a
	// mismatch with ChainID, and, for the networks settle knows (Ethereum, Sepolia, Polygon, BSC),
	// with the network's well-known chain id, so that a node of another chain is never used.
	ChainID *big.Int
	// Client talks to a node: an *ethclient.Client or a simulated backend's client. Required.
	Client Client
	// Assets are the assets the network carries: exactly one native coin (empty Contract) first,
	// then ERC-20 tokens with distinct codes and contracts. Network may be empty (set to ID).
	// Required; see EthereumAssets, PolygonAssets, BSCAssets.
	Assets []chains.Asset
	// Signer signs payouts. Optional: without it HotWallet, SignTransfer and (unless Deriver is
	// set) DeriveAddress return ErrNoSigner; watching, broadcasting and balances still work.
	Signer Signer
	// Deriver derives deposit addresses. Optional; the default derives through Signer.Address.
	// An XPubDeriver of the signer's XPub gives the same addresses without a private key.
	Deriver chains.AddressDeriver
	// Logger receives the adapter's logs. Optional; the default discards them.
	Logger *slog.Logger
	// GasLimitToken is the gas limit of ERC-20 transfers. Optional; the default is the node's
	// estimate plus 25%.
	GasLimitToken uint64
	// LogAddressChunk is how many watched addresses Deposits puts in one eth_getLogs query
	// (1 to 1000). Zero means DefaultLogAddressChunk.
	LogAddressChunk int
	// LogBlockRange is how many blocks one eth_getLogs query of Deposits spans at most. Zero means
	// DefaultLogBlockRange.
	LogBlockRange uint64
	// FetchConcurrency is how many blocks Deposits fetches at once. Zero means
	// DefaultFetchConcurrency.
	FetchConcurrency int
	// MaxFeePerGas caps the fee per gas (wei) SignTransfer accepts: the EIP-1559 max fee, or a
	// legacy gas price. A node suggesting more gets ErrFeeTooHigh instead of a signature, so a
	// faulty or hostile node cannot make one payout burn the hot wallet's native coin. Nil: no
	// cap (set one in production).
	MaxFeePerGas *big.Int
	// MaxTipPerGas caps the EIP-1559 priority fee per gas (wei). Nil: no cap.
	MaxTipPerGas *big.Int
}

// Network is an EVM chain adapter. It implements chains.Network, chains.AddressDeriver,
// chains.Watcher, chains.Sender and chains.BalanceReader, and is safe for concurrent use.
type Network struct {
	id       chains.NetworkID
	chainID  *big.Int
	client   Client
	assets   []chains.Asset
	native   chains.Asset
	tokens   map[common.Address]chains.Asset
	signer   Signer
	deriver  chains.AddressDeriver
	log      *slog.Logger
	erc20    abi.ABI
	gasToken uint64

	addrChunk   int
	blockRange  uint64
	concurrency int

	maxFeePerGas, maxTipPerGas *big.Int

	// skipBalanceCheck lets tests sign a transfer the chain will revert.
	skipBalanceCheck bool
}

var (
	_ chains.Network        = (*Network)(nil)
	_ chains.AddressDeriver = (*Network)(nil)
	_ chains.Watcher        = (*Network)(nil)
	_ chains.Sender         = (*Network)(nil)
	_ chains.BalanceReader  = (*Network)(nil)
	_ chains.AddressDeriver = (*XPubDeriver)(nil)
	_ Signer                = (*HDSigner)(nil)
)

// New returns the adapter for cfg. It asks the client for the chain id (see Config.ChainID), so
// the node must be reachable. Errors: a configuration error, chains.ErrInvalidAddress for a
// malformed token contract, or the node's error.
func New(ctx context.Context, cfg Config) (*Network, error) {
	if cfg.ID == "" {
		return nil, errors.New("evm: Config.ID is required")
	}
	if cfg.Client == nil {
		return nil, errors.New("evm: Config.Client is required")
	}
	n := &Network{
		id:          cfg.ID,
		client:      checkedClient{cfg.Client},
		signer:      cfg.Signer,
		deriver:     cfg.Deriver,
		log:         cfg.Logger,
		gasToken:    cfg.GasLimitToken,
		addrChunk:   cfg.LogAddressChunk,
		blockRange:  cfg.LogBlockRange,
		concurrency: cfg.FetchConcurrency,
		tokens:      make(map[common.Address]chains.Asset),
	}
	if cfg.MaxFeePerGas != nil {
		n.maxFeePerGas = new(big.Int).Set(cfg.MaxFeePerGas)
	}
	if cfg.MaxTipPerGas != nil {
		n.maxTipPerGas = new(big.Int).Set(cfg.MaxTipPerGas)
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("network", string(cfg.ID))
	if n.addrChunk <= 0 || n.addrChunk > 1000 {
		n.addrChunk = DefaultLogAddressChunk
	}
	if n.blockRange == 0 {
		n.blockRange = DefaultLogBlockRange
	}
	if n.concurrency <= 0 {
		n.concurrency = DefaultFetchConcurrency
	}
	var err error
	if n.erc20, err = erc20ABI(); err != nil {
		return nil, fmt.Errorf("evm: parse ERC-20 ABI: %w", err)
	}
	if err := n.setAssets(cfg.Assets); err != nil {
		return nil, err
	}

	got, err := cfg.Client.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("evm: %s: ask the node for its chain id: %w", cfg.ID, err)
	}
	if got == nil || got.Sign() <= 0 {
		return nil, fmt.Errorf("evm: %s: node reports chain id %v", cfg.ID, got)
	}
	if cfg.ChainID != nil && cfg.ChainID.Cmp(got) != 0 {
		return nil, fmt.Errorf("evm: %s: configured chain id %s but the node is on chain %s", cfg.ID, cfg.ChainID, got)
	}
	if want, ok := knownChainIDs[cfg.ID]; ok && got.Cmp(big.NewInt(want)) != 0 {
		return nil, fmt.Errorf("evm: %s has chain id %d but the node is on chain %s", cfg.ID, want, got)
	}
	n.chainID = new(big.Int).Set(got)
	return n, nil
}

// setAssets validates and normalises the configured assets.
func (n *Network) setAssets(assets []chains.Asset) error {
	if len(assets) == 0 {
		return errors.New("evm: Config.Assets is empty")
	}
	codes := make(map[string]bool)
	for i, a := range assets {
		if a.Code == "" {
			return fmt.Errorf("evm: asset %d has no code", i)
		}
		if codes[a.Code] {
			return fmt.Errorf("evm: asset code %s appears twice", a.Code)
		}
		codes[a.Code] = true
		if a.Network == "" {
			a.Network = n.id
		}
		if a.Network != n.id {
			return fmt.Errorf("evm: asset %s is on %s, not %s", a.Code, a.Network, n.id)
		}
		if a.Decimals < 0 || a.Decimals > 77 {
			return fmt.Errorf("evm: asset %s has %d decimals, want 0 to 77", a.Code, a.Decimals)
		}
		if a.Native() {
			if i != 0 {
				return fmt.Errorf("evm: native asset %s must come first, and only once", a.Code)
			}
			n.native = a
		} else {
			if i == 0 {
				return fmt.Errorf("evm: the first asset must be the native coin, not token %s", a.Code)
			}
			if err := ValidateAddress(n.id, a.Contract); err != nil {
				return fmt.Errorf("evm: contract of %s: %w", a.Code, err)
			}
			c := common.HexToAddress(a.Contract)
			if other, dup := n.tokens[c]; dup {
				return fmt.Errorf("evm: %s and %s have the same contract", other.Code, a.Code)
			}
			a.Contract = c.Hex()
			n.tokens[c] = a
		}
		n.assets = append(n.assets, a)
	}
	return nil
}

// ID returns the network id given in Config.ID.
func (n *Network) ID() chains.NetworkID { return n.id }

// ChainID returns a copy of the EIP-155 chain id.
func (n *Network) ChainID() *big.Int { return new(big.Int).Set(n.chainID) }

// Assets returns the configured assets, native coin first, contracts in EIP-55 form.
func (n *Network) Assets() []chains.Asset { return append([]chains.Asset(nil), n.assets...) }

// ValidateAddress checks address as the package-level ValidateAddress does (EIP-55, not the zero
// address), without touching the node. It returns nil or a *chains.AddressError.
func (n *Network) ValidateAddress(address string) error { return ValidateAddress(n.id, address) }

// DeriveAddress returns the EIP-55 deposit address at index, from Config.Deriver or else from the
// Signer. Index 0 is the hot wallet when deriving through an HDSigner (or an XPubDeriver of its
// XPub): hand out deposit addresses from index 1. Errors: ErrNoSigner if neither is configured.
func (n *Network) DeriveAddress(ctx context.Context, index uint32) (string, error) {
	if n.deriver != nil {
		s, err := n.deriver.DeriveAddress(ctx, index)
		if err != nil {
			return "", err
		}
		if _, err := parseAddress(n.id, s); err != nil {
			return "", fmt.Errorf("evm: deriver returned a bad address: %w", err)
		}
		return common.HexToAddress(s).Hex(), nil
	}
	if n.signer == nil {
		return "", ErrNoSigner
	}
	a, err := n.signer.Address(ctx, index)
	if err != nil {
		return "", err
	}
	return a.Hex(), nil
}

// Balance returns address's balance of asset at the newest block, in base units: wei for the
// native coin, the token's on-chain units for an ERC-20 (balanceOf). Errors: *chains.AddressError,
// chains.ErrUnknownAsset, or the node's error.
func (n *Network) Balance(ctx context.Context, address string, asset chains.Asset) (*big.Int, error) {
	a, err := parseAddress(n.id, address)
	if err != nil {
		return nil, err
	}
	asset, err = n.resolveAsset(asset)
	if err != nil {
		return nil, err
	}
	if asset.Native() {
		b, err := n.client.BalanceAt(ctx, a, nil)
		if err != nil {
			return nil, fmt.Errorf("evm: %s: balance of %s: %w", n.id, a.Hex(), err)
		}
		return b, nil
	}
	return n.tokenBalance(ctx, common.HexToAddress(asset.Contract), a)
}

// tokenBalance calls balanceOf(owner) on contract at the newest block.
func (n *Network) tokenBalance(ctx context.Context, contract, owner common.Address) (*big.Int, error) {
	data, err := packBalanceOf(n.erc20, owner)
	if err != nil {
		return nil, fmt.Errorf("evm: pack balanceOf: %w", err)
	}
	out, err := n.client.CallContract(ctx, ethereum.CallMsg{To: &contract, Data: data}, nil)
	if err != nil {
		return nil, fmt.Errorf("evm: %s: balanceOf(%s) on %s: %w", n.id, owner.Hex(), contract.Hex(), err)
	}
	b, err := unpackUint256(out)
	if err != nil {
		return nil, fmt.Errorf("evm: %s: balanceOf on %s: %w", n.id, contract.Hex(), err)
	}
	return b, nil
}

// resolveAsset returns the configured asset with a's code, contract (compared case-insensitively)
// and decimals (and network, if a names one), or an error wrapping chains.ErrUnknownAsset.
func (n *Network) resolveAsset(a chains.Asset) (chains.Asset, error) {
	for _, c := range n.assets {
		if c.Code != a.Code {
			continue
		}
		if (a.Network != "" && a.Network != n.id) || !strings.EqualFold(a.Contract, c.Contract) {
			break
		}
		if a.Decimals != c.Decimals {
			// Amounts are base units of the caller's asset: a different precision would scale them.
			return chains.Asset{}, fmt.Errorf("%w: %s on %s has %d decimals, not %d", chains.ErrUnknownAsset, a.Code, n.id, c.Decimals, a.Decimals)
		}
		return c, nil
	}
	return chains.Asset{}, fmt.Errorf("%w: %s (contract %q) on %s", chains.ErrUnknownAsset, a.Code, a.Contract, n.id)
}
