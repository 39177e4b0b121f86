package evm_test

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
)

// tipClient is a node that suggests a priority fee extra gwei above the real one.
type tipClient struct {
	evm.Client
	extraGwei int64
}

func (c tipClient) SuggestGasTipCap(ctx context.Context) (*big.Int, error) {
	v, err := c.Client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, err
	}
	return v.Add(v, new(big.Int).Mul(big.NewInt(c.extraGwei), big.NewInt(1e9))), nil
}

// TestFeeCapRefusesGreedyNode: a node suggesting a huge fee gets no signature.
func TestFeeCapRefusesGreedyNode(t *testing.T) {
	ctx := context.Background()
	dev, signer := newDevnet(t)
	gwei := big.NewInt(1e9)
	for _, c := range []struct {
		name      string
		extraGwei int64
		ok        bool
	}{{"normal fee", 0, true}, {"greedy node", 100_000, false}} {
		n, err := evm.New(ctx, evm.Config{
			ID: chains.EVMLocal, Client: tipClient{dev.Client(), c.extraGwei}, Assets: dev.Assets(), Signer: signer,
			MaxFeePerGas: new(big.Int).Mul(big.NewInt(500), gwei), MaxTipPerGas: new(big.Int).Mul(big.NewInt(100), gwei),
		})
		require.NoError(t, err)
		_, err = n.SignTransfer(ctx, chains.TransferRequest{To: dev.CustomerAddress(), Asset: asset(t, n, "ETH"), Amount: big.NewInt(1)})
		if c.ok {
			require.NoError(t, err, c.name)
		} else {
			require.ErrorIs(t, err, evm.ErrFeeTooHigh, c.name)
		}
	}
}

// homesteadSigner signs without a chain id (no EIP-155 replay protection).
type homesteadSigner struct{ key *ecdsa.PrivateKey }

func (s homesteadSigner) Address(context.Context, uint32) (common.Address, error) {
	return crypto.PubkeyToAddress(s.key.PublicKey), nil
}

func (s homesteadSigner) SignTx(_ context.Context, _ common.Address, tx *types.Transaction, _ *big.Int) (*types.Transaction, error) {
	return types.SignTx(tx, types.HomesteadSigner{}, s.key)
}

// TestUnprotectedSignatureRefused: a Signer that leaves out the chain id (a signature valid on
// every EVM chain) is refused at signing and at broadcast.
func TestUnprotectedSignatureRefused(t *testing.T) {
	ctx := context.Background()
	dev, _ := newDevnet(t)
	key, err := crypto.GenerateKey()
	require.NoError(t, err)
	hs := homesteadSigner{key}
	addr, _ := hs.Address(ctx, 0)
	_, err = dev.FundNative(ctx, addr.Hex(), big.NewInt(1e18))
	require.NoError(t, err)
	dev.Commit()
	n, err := evm.New(ctx, evm.Config{ID: chains.EVMLocal, Client: legacyClient{dev.Client()}, Assets: dev.Assets(), Signer: hs})
	require.NoError(t, err)
	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: dev.CustomerAddress(), Asset: asset(t, n, "ETH"), Amount: big.NewInt(7)})
	require.ErrorContains(t, err, "replay protection")

	// The same refusal at broadcast, for stored bytes signed elsewhere.
	tx, err := types.SignTx(types.NewTx(&types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(2e9), Gas: 21000, To: &addr, Value: big.NewInt(1)}), types.HomesteadSigner{}, key)
	require.NoError(t, err)
	raw, err := tx.MarshalBinary()
	require.NoError(t, err)
	require.ErrorContains(t, n.Broadcast(ctx, &chains.SignedTx{Raw: raw}), "replay")
}
