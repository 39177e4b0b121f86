package evm

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer holds private keys and signs transactions; the adapter never sees a key. Implementations
// may be an HSM, a KMS, a remote signing service or, for development, HDSigner. They must be safe
// for concurrent use.
type Signer interface {
	// Address returns the address of the key at index. Index 0 is the hot wallet that payouts are
	// sent from. Same index, same address.
	Address(ctx context.Context, index uint32) (common.Address, error)
	// SignTx signs tx for chainID (EIP-155) with the key of from and returns the signed copy. It
	// returns an error wrapping ErrUnknownKey if it holds no key for from.
	SignTx(ctx context.Context, from common.Address, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error)
}

// ErrUnknownKey: a Signer holds no key for the address it was asked to sign for.
var ErrUnknownKey = errors.New("evm: signer holds no key for address")

// DefaultSearchLimit is how many indexes HDSigner searches for the key of an address it has not
// derived yet (indexes 0 to DefaultSearchLimit-1).
const DefaultSearchLimit = 10_000

// BIP-44 path of the external chain of the first Ethereum account: m/44'/60'/0'/0.
var accountPath = []uint32{
	hdkeychain.HardenedKeyStart + 44,
	hdkeychain.HardenedKeyStart + 60,
	hdkeychain.HardenedKeyStart + 0,
	0,
}

// HDSigner is an in-memory Signer for development and tests. It derives secp256k1 keys from a
// BIP-32 seed (https://github.com/bitcoin/bips/blob/master/bip-0032.mediawiki) along the BIP-44
// path m/44'/60'/0'/0/i (https://github.com/bitcoin/bips/blob/master/bip-0044.mediawiki), the path
// MetaMask and most wallets use, so index i is the wallet's i-th account. Index 0 is the hot
// wallet.
//
// It keeps the seed-derived account key in process memory: use an HSM or KMS behind Signer in
// production. It is safe for concurrent use.
type HDSigner struct {
	account *hdkeychain.ExtendedKey // private, at m/44'/60'/0'/0
	public  *hdkeychain.ExtendedKey // its public key, to derive addresses faster
	xpub    string
	limit   uint32

	mu       sync.Mutex
	byAddr   map[common.Address]uint32
	searched uint32 // indexes [0, searched) are in byAddr
}

// HDSignerOption configures NewHDSigner.
type HDSignerOption func(*HDSigner)

// WithSearchLimit sets how many indexes (0 to limit-1) SignTx searches for the key of an address
// the signer has not derived yet; the default is DefaultSearchLimit. A key beyond the limit is
// still found once Address has derived its index.
func WithSearchLimit(limit uint32) HDSignerOption {
	return func(s *HDSigner) { s.limit = limit }
}

// NewHDSigner returns a signer for the BIP-32 seed (16 to 64 bytes, such as the 64-byte BIP-39
// seed of a mnemonic). It returns an error if the seed has the wrong length or derives an invalid
// key (probability below 2^-127).
func NewHDSigner(seed []byte, opts ...HDSignerOption) (*HDSigner, error) {
	master, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
	if err != nil {
		return nil, fmt.Errorf("evm: hd signer: %w", err)
	}
	account := master
	for _, i := range accountPath {
		if account, err = account.Derive(i); err != nil {
			return nil, fmt.Errorf("evm: hd signer: derive m/44'/60'/0'/0: %w", err)
		}
	}
	pub, err := account.Neuter()
	if err != nil {
		return nil, fmt.Errorf("evm: hd signer: %w", err)
	}
	s := &HDSigner{
		account: account,
		public:  pub,
		xpub:    pub.String(),
		limit:   DefaultSearchLimit,
		byAddr:  make(map[common.Address]uint32),
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// XPub returns the BIP-32 extended public key ("xpub...") of m/44'/60'/0'/0. NewXPubDeriver of it
// derives the same addresses as the signer, without any private key.
func (s *HDSigner) XPub() string { return s.xpub }

// Address returns the address of the key m/44'/60'/0'/0/index. Index must be below 2^31
// (non-hardened).
func (s *HDSigner) Address(ctx context.Context, index uint32) (common.Address, error) {
	if err := ctx.Err(); err != nil {
		return common.Address{}, err
	}
	addr, err := s.address(index)
	if err != nil {
		return common.Address{}, err
	}
	s.mu.Lock()
	s.byAddr[addr] = index
	s.mu.Unlock()
	return addr, nil
}

// SignTx signs tx with the key of from for chainID, using the latest signer rules (EIP-155 replay
// protection for legacy transactions, EIP-1559 and later typed transactions). It finds the key
// of an address it derived earlier, or searches indexes below the search limit. Errors wrap
// ErrUnknownKey if no key matches.
func (s *HDSigner) SignTx(ctx context.Context, from common.Address, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	if tx == nil || chainID == nil || chainID.Sign() <= 0 {
		return nil, errors.New("evm: hd signer: need a transaction and a positive chain id")
	}
	index, err := s.find(ctx, from)
	if err != nil {
		return nil, err
	}
	key, addr, err := s.derive(index)
	if err != nil {
		return nil, err
	}
	if addr != from {
		return nil, fmt.Errorf("%w: %s", ErrUnknownKey, from.Hex())
	}
	priv, err := key.ECPrivKey()
	if err != nil {
		return nil, fmt.Errorf("evm: hd signer: %w", err)
	}
	ecdsaKey := priv.ToECDSA()
	return types.SignTx(tx, types.LatestSignerForChainID(chainID), ecdsaKey)
}

// find returns the index of from, searching and caching up to the limit.
func (s *HDSigner) find(ctx context.Context, from common.Address) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byAddr[from]; ok {
		return i, nil
	}
	for s.searched < s.limit {
		if s.searched%256 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		i := s.searched
		addr, err := s.address(i)
		if err != nil {
			return 0, err
		}
		s.byAddr[addr] = i
		s.searched++
		if addr == from {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: %s (not among the first %d indexes)", ErrUnknownKey, from.Hex(), s.limit)
}

// address returns the address at index, derived from the public key.
func (s *HDSigner) address(index uint32) (common.Address, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return common.Address{}, fmt.Errorf("evm: hd signer: index %d is not below 2^31", index)
	}
	child, err := s.public.Derive(index)
	if err != nil {
		return common.Address{}, fmt.Errorf("evm: hd signer: derive index %d: %w", index, err)
	}
	return keyAddress(child)
}

// derive returns the private child key at index and its address.
func (s *HDSigner) derive(index uint32) (*hdkeychain.ExtendedKey, common.Address, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return nil, common.Address{}, fmt.Errorf("evm: hd signer: index %d is not below 2^31", index)
	}
	child, err := s.account.Derive(index)
	if err != nil {
		// ErrInvalidChild: probability below 2^-127; BIP-32 says to skip the index.
		return nil, common.Address{}, fmt.Errorf("evm: hd signer: derive index %d: %w", index, err)
	}
	addr, err := keyAddress(child)
	return child, addr, err
}

// keyAddress returns the Ethereum address of an extended key's public key.
func keyAddress(k *hdkeychain.ExtendedKey) (common.Address, error) {
	pub, err := k.ECPubKey()
	if err != nil {
		return common.Address{}, fmt.Errorf("evm: public key: %w", err)
	}
	return crypto.PubkeyToAddress(*pub.ToECDSA()), nil
}

// XPubDeriver derives addresses from a BIP-32 extended public key, with no private key: use it
// where deposit addresses are handed out. It implements chains.AddressDeriver and is safe for
// concurrent use.
type XPubDeriver struct {
	chain *hdkeychain.ExtendedKey // public, at the level whose children are the addresses
}

// NewXPubDeriver parses an extended public key ("xpub..." or "tpub..."). At depth 4 (m/44'/60'/0'/0,
// as HDSigner.XPub returns) the addresses are its children i; at depth 3 (the BIP-44 account key
// m/44'/60'/0', as hardware wallets export) they are its children 0/i, the same addresses. An
// extended private key is refused, so that it is not kept in a process that needs none; other
// depths are refused too.
func NewXPubDeriver(xpub string) (*XPubDeriver, error) {
	k, err := hdkeychain.NewKeyFromString(xpub)
	if err != nil {
		return nil, fmt.Errorf("evm: parse extended public key: %w", err)
	}
	if k.IsPrivate() {
		return nil, errors.New("evm: an extended private key was given where an extended public key (xpub) is expected")
	}
	switch k.Depth() {
	case 4:
	case 3:
		if k, err = k.Derive(0); err != nil {
			return nil, fmt.Errorf("evm: derive external chain: %w", err)
		}
	default:
		return nil, fmt.Errorf("evm: extended public key has depth %d, want 4 (m/44'/60'/0'/0) or 3 (m/44'/60'/0')", k.Depth())
	}
	return &XPubDeriver{chain: k}, nil
}

// Address returns the address at index (non-hardened, below 2^31).
func (d *XPubDeriver) Address(ctx context.Context, index uint32) (common.Address, error) {
	if err := ctx.Err(); err != nil {
		return common.Address{}, err
	}
	if index >= hdkeychain.HardenedKeyStart {
		return common.Address{}, fmt.Errorf("evm: xpub deriver: index %d is not below 2^31", index)
	}
	child, err := d.chain.Derive(index)
	if err != nil {
		return common.Address{}, fmt.Errorf("evm: xpub deriver: derive index %d: %w", index, err)
	}
	return keyAddress(child)
}

// DeriveAddress returns the EIP-55 address at index (non-hardened, below 2^31).
func (d *XPubDeriver) DeriveAddress(ctx context.Context, index uint32) (string, error) {
	a, err := d.Address(ctx, index)
	if err != nil {
		return "", err
	}
	return a.Hex(), nil
}
