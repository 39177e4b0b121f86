// Package evmtest runs an EVM development chain in process, for tests and demos of code built on
// settle: go-ethereum's ethclient/simulated backend (a real EVM and transaction pool, no network),
// with native coin for the signer's hot wallet and a "customer", two 6-decimal TestToken ERC-20s
// standing in for USDT and USDC, and a ready *evm.Network (chains.EVMLocal) over it.
//
// Blocks are mined only when asked (Commit, Mine), so a test decides what lands in which block:
//
//	dev, err := evmtest.NewDevnet(ctx, signer)
//	defer dev.Close()
//	hash, err := dev.CustomerPay(ctx, "USDT", depositAddress, big.NewInt(25_000_000)) // 25 USDT
//	dev.Commit()
//	deposits, err := dev.Network().Deposits(ctx, from, to, []string{depositAddress})
package evmtest

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/testtoken"
)

// Token codes and decimals of the devnet's assets.
const (
	NativeCode     = "ETH"
	USDTCode       = "USDT"
	USDCCode       = "USDC"
	TokenDecimals  = 6
	NativeDecimals = 18
)

// DefaultNativeAlloc returns the default genesis balance of the hot wallet, the customer and the
// faucet: 1000 ETH, in wei.
func DefaultNativeAlloc() *big.Int {
	return new(big.Int).Mul(big.NewInt(1000), big.NewInt(1_000_000_000_000_000_000))
}

// DefaultCustomerTokens returns how many base units of each token the customer is minted by
// default: 1,000,000 tokens of 6 decimals.
func DefaultCustomerTokens() *big.Int { return big.NewInt(1_000_000_000_000) }

// Option configures NewDevnet.
type Option func(*options)

type options struct {
	logger         *slog.Logger
	nativeAlloc    *big.Int
	customerTokens *big.Int
	hotTokens      *big.Int
	gasLimitToken  uint64
}

// WithLogger sets the logger of the devnet's *evm.Network.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithNativeAlloc sets the genesis balance, in wei, of the hot wallet, the customer and the
// faucet (default DefaultNativeAlloc()).
func WithNativeAlloc(wei *big.Int) Option { return func(o *options) { o.nativeAlloc = wei } }

// WithCustomerTokens sets how many base units of each token the customer is minted (default
// DefaultCustomerTokens()).
func WithCustomerTokens(units *big.Int) Option { return func(o *options) { o.customerTokens = units } }

// WithHotWalletTokens mints units base units of each token to the hot wallet too (default none),
// for payout tests.
func WithHotWalletTokens(units *big.Int) Option { return func(o *options) { o.hotTokens = units } }

// WithGasLimitToken sets evm.Config.GasLimitToken of the devnet's network.
func WithGasLimitToken(gas uint64) Option { return func(o *options) { o.gasLimitToken = gas } }

// Devnet is an in-process EVM chain with a configured *evm.Network. It is safe for concurrent
// use; Close it when done.
type Devnet struct {
	backend  *simulated.Backend
	client   simulated.Client
	network  *evm.Network
	chainID  *big.Int
	hot      common.Address
	customer *ecdsa.PrivateKey
	faucet   *ecdsa.PrivateKey // deploys the tokens, owns mint, funds addresses
	tokens   map[string]common.Address

	// mu serialises the devnet's own senders. nonces are their next nonces: the pool's pending
	// nonce is unreliable while the simulated pool resets to a new head in the background.
	mu     sync.Mutex
	nonces map[common.Address]uint64
}

// NewDevnet starts a simulated chain (chain id evm.SimulatedChainID) whose genesis gives native
// coin to signer's hot wallet (index 0), to a generated customer key and to a faucet key; deploys
// TestToken "USDT" and "USDC" (6 decimals) from the faucet; mints tokens to the customer; mines
// those blocks; and builds an *evm.Network with id chains.EVMLocal and assets ETH, USDT, USDC.
func NewDevnet(ctx context.Context, signer *evm.HDSigner, opts ...Option) (d *Devnet, err error) {
	if signer == nil {
		return nil, errors.New("evmtest: NewDevnet needs a signer")
	}
	o := options{nativeAlloc: DefaultNativeAlloc(), customerTokens: DefaultCustomerTokens()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.nativeAlloc == nil || o.nativeAlloc.Sign() < 0 {
		return nil, fmt.Errorf("evmtest: native allocation %v is not a non-negative amount", o.nativeAlloc)
	}
	hot, err := signer.Address(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("evmtest: hot wallet: %w", err)
	}
	customer, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("evmtest: customer key: %w", err)
	}
	faucet, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("evmtest: faucet key: %w", err)
	}
	alloc := types.GenesisAlloc{}
	for _, a := range []common.Address{hot, crypto.PubkeyToAddress(customer.PublicKey), crypto.PubkeyToAddress(faucet.PublicKey)} {
		alloc[a] = types.Account{Balance: new(big.Int).Set(o.nativeAlloc)}
	}
	backend, err := newBackend(alloc)
	if err != nil {
		return nil, err
	}
	d = &Devnet{
		backend:  backend,
		client:   poolClient{backend.Client()},
		hot:      hot,
		customer: customer,
		faucet:   faucet,
		tokens:   make(map[string]common.Address),
		nonces:   make(map[common.Address]uint64),
	}
	defer func() {
		if err != nil {
			_ = backend.Close()
		}
	}()
	if d.chainID, err = d.client.ChainID(ctx); err != nil {
		return nil, fmt.Errorf("evmtest: chain id: %w", err)
	}

	var deploys []*types.Transaction
	for _, code := range []string{USDTCode, USDCCode} {
		auth, err := d.auth(ctx, faucet)
		if err != nil {
			return nil, err
		}
		addr, tx, err := testtoken.Deploy(ctx, d.client, auth, "Test "+code, code, TokenDecimals)
		if err != nil {
			return nil, err
		}
		d.sent(faucet, auth.Nonce.Uint64())
		d.tokens[code] = addr
		deploys = append(deploys, tx)
	}
	d.Commit()
	if err := d.requireSuccess(ctx, deploys...); err != nil {
		return nil, err
	}
	var mints []*types.Transaction
	for _, code := range []string{USDTCode, USDCCode} {
		for _, m := range []struct {
			to     common.Address
			amount *big.Int
		}{{crypto.PubkeyToAddress(customer.PublicKey), o.customerTokens}, {hot, o.hotTokens}} {
			if m.amount == nil || m.amount.Sign() <= 0 {
				continue
			}
			auth, err := d.auth(ctx, faucet)
			if err != nil {
				return nil, err
			}
			tx, err := testtoken.Mint(ctx, d.client, auth, d.tokens[code], m.to, m.amount)
			if err != nil {
				return nil, err
			}
			d.sent(faucet, auth.Nonce.Uint64())
			mints = append(mints, tx)
		}
	}
	d.Commit()
	if err := d.requireSuccess(ctx, mints...); err != nil {
		return nil, err
	}

	d.network, err = evm.New(ctx, evm.Config{
		ID:            chains.EVMLocal,
		ChainID:       d.chainID,
		Client:        d.client,
		Assets:        d.Assets(),
		Signer:        signer,
		Logger:        o.logger,
		GasLimitToken: o.gasLimitToken,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// newBackend starts the simulated backend, turning its panics (it panics when the node cannot
// start) into an error.
func newBackend(alloc types.GenesisAlloc) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evmtest: start simulated backend: %v", r)
		}
	}()
	return simulated.NewBackend(alloc), nil
}

// Assets returns the devnet's assets: ETH (18 decimals), then USDT and USDC (6) at their
// deployed contracts, on chains.EVMLocal.
func (d *Devnet) Assets() []chains.Asset {
	return []chains.Asset{
		{Code: NativeCode, Network: chains.EVMLocal, Decimals: NativeDecimals},
		{Code: USDTCode, Network: chains.EVMLocal, Contract: d.tokens[USDTCode].Hex(), Decimals: TokenDecimals},
		{Code: USDCCode, Network: chains.EVMLocal, Contract: d.tokens[USDCCode].Hex(), Decimals: TokenDecimals},
	}
}

// Network returns the *evm.Network over the devnet (id chains.EVMLocal).
func (d *Devnet) Network() *evm.Network { return d.network }

// Client returns the simulated backend's client; it satisfies evm.Client.
func (d *Devnet) Client() simulated.Client { return d.client }

// Backend returns the simulated backend, for what the Devnet does not wrap (such as AdjustTime).
// Use the Devnet's own Fork and Rollback: they also reset the nonces of the devnet's senders.
func (d *Devnet) Backend() *simulated.Backend { return d.backend }

// ChainID returns the chain id (evm.SimulatedChainID).
func (d *Devnet) ChainID() *big.Int { return new(big.Int).Set(d.chainID) }

// Token returns the contract address of the token with code ("USDT" or "USDC").
func (d *Devnet) Token(code string) (common.Address, bool) {
	a, ok := d.tokens[code]
	return a, ok
}

// Commit mines one block with the pending transactions and returns its hash. It returns once the
// node has indexed the block's transactions (or after 10 seconds), so that their receipts can be
// read at once.
func (d *Devnet) Commit() common.Hash {
	hash := d.backend.Commit()
	d.waitIndexed(hash)
	return hash
}

// Mine mines n blocks (the first with the pending transactions), such as to add confirmations.
func (d *Devnet) Mine(n int) {
	for range n {
		d.Commit()
	}
}

// waitIndexed waits until the receipt of the last transaction of block hash can be read: the
// simulated node indexes transactions in the background after each block.
func (d *Devnet) waitIndexed(hash common.Hash) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	block, err := d.client.BlockByHash(ctx, hash)
	if err != nil || len(block.Transactions()) == 0 {
		return
	}
	last := block.Transactions()[len(block.Transactions())-1].Hash()
	for {
		if _, err := d.client.TransactionReceipt(ctx, last); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Fork rewinds the chain's head to the block parentHash, to simulate a reorg: the transactions
// of the blocks after it go back to the pool, and the next Commit mines a replacement block. It
// fails if transactions are pending. See simulated.Backend.Fork.
func (d *Devnet) Fork(parentHash common.Hash) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.nonces)
	return d.backend.Fork(parentHash)
}

// Rollback drops every pending transaction from the pool.
func (d *Devnet) Rollback() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.nonces)
	d.backend.Rollback()
}

// Close stops the chain; the Devnet cannot be used afterwards.
func (d *Devnet) Close() error { return d.backend.Close() }

// CustomerAddress returns the customer's EIP-55 address.
func (d *Devnet) CustomerAddress() string { return crypto.PubkeyToAddress(d.customer.PublicKey).Hex() }

// CustomerPay sends amount base units of asset ("ETH", "USDT" or "USDC") from the customer to
// the address to, and returns the transaction hash. The transaction is only in the pool: Commit
// mines it. Errors: chains.ErrUnknownAsset, *chains.AddressError, or the node's error (such as the
// customer lacking the tokens, which fails the gas estimate).
func (d *Devnet) CustomerPay(ctx context.Context, asset string, to string, amount *big.Int) (string, error) {
	return d.send(ctx, d.customer, asset, to, amount)
}

// FundNative sends amount wei from the faucet to the address to (a top-up for gas); Commit mines
// it. It returns the transaction hash.
func (d *Devnet) FundNative(ctx context.Context, to string, amount *big.Int) (string, error) {
	return d.send(ctx, d.faucet, NativeCode, to, amount)
}

// FundToken mints amount base units of the token with code ("USDT" or "USDC") to the address to;
// Commit mines it. It returns the transaction hash.
func (d *Devnet) FundToken(ctx context.Context, code string, to string, amount *big.Int) (string, error) {
	token, ok := d.tokens[code]
	if !ok {
		return "", fmt.Errorf("%w: %s on %s", chains.ErrUnknownAsset, code, chains.EVMLocal)
	}
	if err := evm.ValidateAddress(chains.EVMLocal, to); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	auth, err := d.auth(ctx, d.faucet)
	if err != nil {
		return "", err
	}
	tx, err := testtoken.Mint(ctx, d.client, auth, token, common.HexToAddress(to), amount)
	if err != nil {
		return "", err
	}
	d.sent(d.faucet, auth.Nonce.Uint64())
	return tx.Hash().Hex(), nil
}

// send transfers amount of asset from key to the address to.
func (d *Devnet) send(ctx context.Context, key *ecdsa.PrivateKey, asset, to string, amount *big.Int) (string, error) {
	if err := evm.ValidateAddress(chains.EVMLocal, to); err != nil {
		return "", err
	}
	if amount == nil || amount.Sign() <= 0 {
		return "", fmt.Errorf("%w: amount %v is not positive", chains.ErrAmountPrecision, amount)
	}
	dst := common.HexToAddress(to)
	d.mu.Lock()
	defer d.mu.Unlock()
	if asset == NativeCode {
		return d.sendNative(ctx, key, dst, amount)
	}
	token, ok := d.tokens[asset]
	if !ok {
		return "", fmt.Errorf("%w: %s on %s", chains.ErrUnknownAsset, asset, chains.EVMLocal)
	}
	auth, err := d.auth(ctx, key)
	if err != nil {
		return "", err
	}
	tx, err := testtoken.Transfer(ctx, d.client, auth, token, dst, amount)
	if err != nil {
		return "", err
	}
	d.sent(key, auth.Nonce.Uint64())
	return tx.Hash().Hex(), nil
}

// sendNative signs and sends a dynamic-fee value transfer.
func (d *Devnet) sendNative(ctx context.Context, key *ecdsa.PrivateKey, to common.Address, amount *big.Int) (string, error) {
	nonce, err := d.nextNonce(ctx, key)
	if err != nil {
		return "", err
	}
	head, err := d.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("evmtest: head: %w", err)
	}
	tip, err := d.client.SuggestGasTipCap(ctx)
	if err != nil {
		return "", fmt.Errorf("evmtest: tip: %w", err)
	}
	if head.BaseFee == nil {
		return "", errors.New("evmtest: the chain has no base fee")
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(d.chainID), &types.DynamicFeeTx{
		ChainID: d.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap,
		Gas: evm.NativeTransferGas, To: &to, Value: amount,
	})
	if err != nil {
		return "", fmt.Errorf("evmtest: sign: %w", err)
	}
	if err := d.client.SendTransaction(ctx, tx); err != nil {
		return "", fmt.Errorf("evmtest: send: %w", err)
	}
	d.sent(key, nonce)
	return tx.Hash().Hex(), nil
}

// auth returns a transactor for key with its next nonce.
func (d *Devnet) auth(ctx context.Context, key *ecdsa.PrivateKey) (*bind.TransactOpts, error) {
	nonce, err := d.nextNonce(ctx, key)
	if err != nil {
		return nil, err
	}
	a := bind.NewKeyedTransactor(key, d.chainID)
	a.Context = ctx
	a.Nonce = new(big.Int).SetUint64(nonce)
	return a, nil
}

// nextNonce returns key's next nonce: the nonce at the newest block, or past the devnet's last
// transaction from key if that is higher. The caller holds d.mu (or is NewDevnet).
func (d *Devnet) nextNonce(ctx context.Context, key *ecdsa.PrivateKey) (uint64, error) {
	from := crypto.PubkeyToAddress(key.PublicKey)
	mined, err := d.client.NonceAt(ctx, from, nil)
	if err != nil {
		return 0, fmt.Errorf("evmtest: nonce of %s: %w", from.Hex(), err)
	}
	return max(mined, d.nonces[from]), nil
}

// sent records that key's transaction with nonce reached the pool.
func (d *Devnet) sent(key *ecdsa.PrivateKey, nonce uint64) {
	d.nonces[crypto.PubkeyToAddress(key.PublicKey)] = nonce + 1
}

// requireSuccess checks that the transactions were mined and succeeded.
func (d *Devnet) requireSuccess(ctx context.Context, txs ...*types.Transaction) error {
	for _, tx := range txs {
		r, err := d.client.TransactionReceipt(ctx, tx.Hash())
		if err != nil {
			return fmt.Errorf("evmtest: receipt of %s: %w", tx.Hash().Hex(), err)
		}
		if r.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("evmtest: transaction %s failed", tx.Hash().Hex())
		}
	}
	return nil
}
