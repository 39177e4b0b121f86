package collections_test

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/internal/testenv"
)

// TestReorgBeforeConfirmation: a deposit seen in a block that a reorg replaces is not credited on
// the strength of the old block. If the transaction lands again in the new chain, it is credited
// once, at its new block; if not, it stays orphaned and nothing is credited.
func TestReorgBeforeConfirmation(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("10")})
	require.NoError(t, err)
	base, err := env.Network.Head(ctx)
	require.NoError(t, err)

	txHash, err := env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(10))
	require.NoError(t, err)
	env.Chain.Commit()
	require.NoError(t, env.Collections.Poll(ctx))
	deps, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	oldBlock := deps[0].BlockHash

	// Replace the deposit's block with a longer chain from its parent.
	require.NoError(t, env.Chain.Fork(common.HexToHash(base.Hash)))
	env.Chain.Mine(testenv.Confirmations + 2)
	b, err := env.Network.BlockAt(ctx, base.Height+1)
	require.NoError(t, err)
	require.NotEqual(t, oldBlock, b.Hash, "the fork did not replace the block")

	require.NoError(t, env.Collections.Poll(ctx))
	require.NoError(t, env.Collections.Poll(ctx))
	deps, err = env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	st, err := env.Network.TxStatus(ctx, txHash)
	require.NoError(t, err)
	if st.State == chains.TxConfirmed && st.Confirmations >= testenv.Confirmations {
		require.Equal(t, collections.DepositCredited, deps[0].Status)
		require.NotEqual(t, oldBlock, deps[0].BlockHash, "credited on the strength of a replaced block")
		require.Equal(t, st.Block.Hash, deps[0].BlockHash)
		require.True(t, apiBalance(t, env).Equal(usdt("10")))
	} else {
		require.NotEqual(t, collections.DepositCredited, deps[0].Status, "credited a transaction that is not on the chain")
		require.True(t, apiBalance(t, env).IsZero())
	}
	t.Logf("after the reorg the transaction is %s; the deposit is %s", st.State, deps[0].Status)
}

// TestReorgThatFlipsBack: the deposit's block is replaced by one without it (the deposit is
// orphaned), then the original chain wins again: the deposit must come back and be credited once.
func TestReorgThatFlipsBack(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("10")})
	require.NoError(t, err)
	base, err := env.Network.Head(ctx)
	require.NoError(t, err)
	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(10))
	require.NoError(t, err)
	a1 := env.Chain.Commit()
	require.NoError(t, env.Collections.Poll(ctx))

	require.NoError(t, env.Chain.Fork(common.HexToHash(base.Hash)))
	env.Chain.Rollback() // the replacement block leaves the transaction out
	env.Chain.Commit()
	require.NoError(t, env.Collections.Poll(ctx))
	deps, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	require.Equal(t, collections.DepositOrphaned, deps[0].Status)

	require.NoError(t, env.Chain.Fork(a1)) // the original block wins after all
	env.Chain.Mine(testenv.Confirmations + 2)
	for range 3 {
		require.NoError(t, env.Collections.Poll(ctx))
	}
	deps, err = env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	require.Equal(t, collections.DepositCredited, deps[0].Status)
	require.Equal(t, a1.Hex(), deps[0].BlockHash)
	require.True(t, apiBalance(t, env).Equal(usdt("10")))
}
