package evmtest_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/stretchr/testify/require"
)

func TestDevnet(t *testing.T) {
	ctx := context.Background()
	signer, err := evm.NewHDSigner([]byte("evmtest devnet seed, 32 bytes.."))
	require.NoError(t, err)
	dev, err := evmtest.NewDevnet(ctx, signer, evmtest.WithHotWalletTokens(big.NewInt(5)), evmtest.WithCustomerTokens(big.NewInt(1_000)))
	require.NoError(t, err)
	defer dev.Close()
	n := dev.Network()
	require.Equal(t, chains.EVMLocal, n.ID())
	require.EqualValues(t, evm.SimulatedChainID, dev.ChainID().Int64())
	require.Equal(t, n.Assets(), dev.Assets())
	require.NoError(t, n.ValidateAddress(dev.CustomerAddress()))
	_, ok := dev.Token("USDT")
	require.True(t, ok)
	_, ok = dev.Token("DAI")
	require.False(t, ok)

	hot, err := n.HotWallet(ctx)
	require.NoError(t, err)
	for code, want := range map[string]*big.Int{"ETH": evmtest.DefaultNativeAlloc(), "USDT": big.NewInt(5), "USDC": big.NewInt(5)} {
		a, err := chains.FindAsset(n, code)
		require.NoError(t, err)
		bal, err := n.Balance(ctx, hot, a)
		require.NoError(t, err)
		require.Equal(t, want, bal, code)
	}

	to, err := n.DeriveAddress(ctx, 1)
	require.NoError(t, err)
	before, _ := n.Head(ctx)
	_, err = dev.CustomerPay(ctx, "USDC", to, big.NewInt(999))
	require.NoError(t, err)
	_, err = dev.FundToken(ctx, "USDC", to, big.NewInt(1))
	require.NoError(t, err)
	_, err = dev.FundNative(ctx, to, big.NewInt(3))
	require.NoError(t, err)
	dev.Mine(3)
	after, _ := n.Head(ctx)
	require.Equal(t, before.Height+3, after.Height)
	deps, err := n.Deposits(ctx, before.Height+1, after.Height, []string{to})
	require.NoError(t, err)
	require.Len(t, deps, 3)

	// Errors, not panics, on bad input.
	_, err = dev.CustomerPay(ctx, "DAI", to, big.NewInt(1))
	require.ErrorIs(t, err, chains.ErrUnknownAsset)
	_, err = dev.CustomerPay(ctx, "USDC", "0xnope", big.NewInt(1))
	require.ErrorIs(t, err, chains.ErrInvalidAddress)
	_, err = dev.CustomerPay(ctx, "USDC", to, nil)
	require.ErrorIs(t, err, chains.ErrAmountPrecision)
	_, err = dev.CustomerPay(ctx, "USDC", to, big.NewInt(1_000)) // holds 1
	require.Error(t, err)
	_, err = evmtest.NewDevnet(ctx, nil)
	require.Error(t, err)
}
