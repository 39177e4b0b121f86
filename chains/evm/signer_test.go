package evm_test

import (
	"context"
	"encoding/hex"
	"math/big"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/settle-go/settle/chains/evm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// abandonSeed is the BIP-39 seed of "abandon abandon ... abandon about" with no passphrase, whose
// m/44'/60'/0'/0/i addresses are published by wallets and libraries (MetaMask, ethers, Hardhat).
func abandonSeed(t testing.TB) []byte {
	t.Helper()
	seed, err := hex.DecodeString("5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4")
	require.NoError(t, err)
	return seed
}

func TestHDSignerKnownAddresses(t *testing.T) {
	ctx := context.Background()
	s, err := evm.NewHDSigner(abandonSeed(t))
	require.NoError(t, err)
	a0, err := s.Address(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", a0.Hex())
	a1, err := s.Address(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0", a1.Hex())
}

func TestHDSignerXPubAgrees(t *testing.T) {
	ctx := context.Background()
	s, err := evm.NewHDSigner(abandonSeed(t))
	require.NoError(t, err)
	require.Regexp(t, `^xpub`, s.XPub())
	d, err := evm.NewXPubDeriver(s.XPub())
	require.NoError(t, err)
	for _, i := range []uint32{0, 1, 2, 7, 100, 12345, 1<<31 - 1} {
		want, err := s.Address(ctx, i)
		require.NoError(t, err)
		got, err := d.DeriveAddress(ctx, i)
		require.NoError(t, err)
		require.Equal(t, want.Hex(), got, "index %d", i)
	}
	_, err = d.DeriveAddress(ctx, 1<<31)
	require.Error(t, err)
	_, err = s.Address(ctx, 1<<31)
	require.Error(t, err)

	// The BIP-44 account key m/44'/60'/0' (depth 3, as hardware wallets export it) gives the same
	// addresses.
	master, err := hdkeychain.NewMaster(abandonSeed(t), &chaincfg.MainNetParams)
	require.NoError(t, err)
	k := master
	for _, i := range []uint32{44, 60, 0} {
		k, err = k.Derive(hdkeychain.HardenedKeyStart + i)
		require.NoError(t, err)
	}
	accountPub, err := k.Neuter()
	require.NoError(t, err)
	d3, err := evm.NewXPubDeriver(accountPub.String())
	require.NoError(t, err)
	got, err := d3.DeriveAddress(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", got)

	// An extended private key, a key at another depth, and garbage are refused.
	_, err = evm.NewXPubDeriver(k.String())
	require.ErrorContains(t, err, "private")
	masterPub, err := master.Neuter()
	require.NoError(t, err)
	_, err = evm.NewXPubDeriver(masterPub.String())
	require.ErrorContains(t, err, "depth 0")
	_, err = evm.NewXPubDeriver("xpub-not-a-key")
	require.Error(t, err)
}

func TestHDSignerSignsForUnderivedAddress(t *testing.T) {
	ctx := context.Background()
	// Derive address 42 with one signer, sign with a fresh one that never derived it.
	s1, err := evm.NewHDSigner(abandonSeed(t))
	require.NoError(t, err)
	addr, err := s1.Address(ctx, 42)
	require.NoError(t, err)

	s2, err := evm.NewHDSigner(abandonSeed(t), evm.WithSearchLimit(100))
	require.NoError(t, err)
	chainID := big.NewInt(1337)
	to := common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: chainID, Nonce: 3, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2), Gas: 21000, To: &to, Value: big.NewInt(5)})
	signed, err := s2.SignTx(ctx, addr, tx, chainID)
	require.NoError(t, err)
	from, err := types.Sender(types.LatestSignerForChainID(chainID), signed)
	require.NoError(t, err)
	require.Equal(t, addr, from)

	// Legacy transactions are signed with EIP-155 replay protection.
	legacy := types.NewTx(&types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(1), Gas: 21000, To: &to, Value: big.NewInt(1)})
	signedLegacy, err := s2.SignTx(ctx, addr, legacy, chainID)
	require.NoError(t, err)
	require.True(t, signedLegacy.Protected())
	require.Equal(t, chainID, signedLegacy.ChainId())

	// An address beyond the search limit is not found until derived.
	far, err := s1.Address(ctx, 500)
	require.NoError(t, err)
	_, err = s2.SignTx(ctx, far, tx, chainID)
	require.ErrorIs(t, err, evm.ErrUnknownKey)
	_, err = s2.Address(ctx, 500)
	require.NoError(t, err)
	_, err = s2.SignTx(ctx, far, tx, chainID)
	require.NoError(t, err)

	// A foreign address is refused.
	_, err = s2.SignTx(ctx, to, tx, chainID)
	require.ErrorIs(t, err, evm.ErrUnknownKey)
	_, err = s2.SignTx(ctx, addr, tx, nil)
	require.Error(t, err)
}

func TestNewHDSignerBadSeed(t *testing.T) {
	_, err := evm.NewHDSigner(nil)
	require.Error(t, err)
	_, err = evm.NewHDSigner(make([]byte, 15))
	require.Error(t, err)
	_, err = evm.NewHDSigner(make([]byte, 65))
	require.Error(t, err)
}

func TestHDSignerConcurrent(t *testing.T) {
	ctx := context.Background()
	s, err := evm.NewHDSigner(abandonSeed(t), evm.WithSearchLimit(200))
	require.NoError(t, err)
	ref, err := evm.NewHDSigner(abandonSeed(t))
	require.NoError(t, err)
	chainID := big.NewInt(1337)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint32(0); i < 20; i++ {
				index := uint32(g)*20 + i
				want, err := ref.Address(ctx, index)
				if !assert.NoError(t, err) {
					return
				}
				to := common.Address{1}
				tx := types.NewTx(&types.LegacyTx{Nonce: uint64(i), GasPrice: big.NewInt(1), Gas: 21000, To: &to})
				signed, err := s.SignTx(ctx, want, tx, chainID)
				if !assert.NoError(t, err) {
					return
				}
				got, err := types.Sender(types.LatestSignerForChainID(chainID), signed)
				assert.NoError(t, err)
				assert.Equal(t, want, got)
				_, err = s.Address(ctx, index)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
}
