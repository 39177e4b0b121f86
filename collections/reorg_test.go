package collections_test

import (
	"bytes"
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
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

// TestReorgDeeperThanConfirmationsIsRescanned: a reorg replaces more blocks than the usual rescan
// of the last `need` blocks covers, and pays the collection in the first replacement block. The
// cursor remembers its block's hash, sees it replaced, and rescans Config.ReorgDepth blocks, so
// the final payment is credited. Before, the cursor kept only a height and the deposit was never
// seen (found by review).
func TestReorgDeeperThanConfirmationsIsRescanned(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("10")})
	require.NoError(t, err)
	base, err := env.Network.Head(ctx)
	require.NoError(t, err)

	// The watcher follows the chain to base+4 (empty blocks).
	env.Chain.Mine(testenv.Confirmations + 1)
	require.NoError(t, env.Collections.Poll(ctx))

	// A reorg of Confirmations+1 blocks: the new chain pays the collection in its first block
	// and grows longer than the old one.
	require.NoError(t, env.Chain.Fork(common.HexToHash(base.Hash)))
	txHash, err := env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(10))
	require.NoError(t, err)
	env.Chain.Commit()
	env.Chain.Mine(testenv.Confirmations + 3)
	st, err := env.Network.TxStatus(ctx, txHash)
	require.NoError(t, err)
	require.Equal(t, chains.TxConfirmed, st.State)
	require.Equal(t, base.Height+1, st.Block.Height)
	require.GreaterOrEqual(t, st.Confirmations, uint64(testenv.Confirmations))

	for range 3 {
		require.NoError(t, env.Collections.Poll(ctx))
	}
	deps, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1, "a confirmed payment in the canonical chain was never seen")
	require.Equal(t, collections.DepositCredited, deps[0].Status)
	require.True(t, apiBalance(t, env).Equal(usdt("10")))
}

// TestReorgReincludedPaymentIsCreditedOnce: a reorg replaces a credited deposit's block and mines
// the same transaction again behind another one that emits a log, so its log's index in the block
// changes. A deposit's identity (and its ledger entry's idempotency key) is its transaction and its
// log's position within that transaction, which did not change: the payment is credited once.
// Before, the identity used the block-wide log index, and the one payment was credited twice
// (found by review).
func TestReorgReincludedPaymentIsCreditedOnce(t *testing.T) {
	env := testenv.New(t, evmtest.WithHotWalletTokens(testenv.Units(1000)))
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("10")})
	require.NoError(t, err)
	base, err := env.Network.Head(ctx)
	require.NoError(t, err)

	txHash, err := env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(10))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))
	deps, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	require.Equal(t, collections.DepositCredited, deps[0].Status)
	require.True(t, apiBalance(t, env).Equal(usdt("10")))
	oldIndex := deps[0].Index

	cl := env.Chain.Client()
	payTx, _, err := cl.TransactionByHash(ctx, common.HexToHash(txHash))
	require.NoError(t, err)

	// Reorg from the deposit's parent; drop the old transactions from the pool.
	require.NoError(t, env.Chain.Fork(common.HexToHash(base.Hash)))
	require.Eventually(t, func() bool {
		st, err := env.Network.TxStatus(ctx, txHash)
		return err == nil && st.State == chains.TxPending
	}, 5*time.Second, 10*time.Millisecond)
	env.Chain.Rollback()
	require.Eventually(t, func() bool {
		st, err := env.Network.TxStatus(ctx, txHash)
		return err == nil && st.State == chains.TxUnknown
	}, 5*time.Second, 10*time.Millisecond)

	// The replacement block first carries a (high-tip) token transfer of the hot wallet, then the
	// very same payment.
	signer, err := evm.NewHDSigner(bytes.Repeat([]byte{0x42}, 32))
	require.NoError(t, err)
	hot, err := signer.Address(ctx, 0)
	require.NoError(t, err)
	token, ok := env.Chain.Token("USDT")
	require.True(t, ok)
	nonce, err := cl.PendingNonceAt(ctx, hot)
	require.NoError(t, err)
	head, err := cl.HeaderByNumber(ctx, nil)
	require.NoError(t, err)
	tip := big.NewInt(100_000_000_000) // 100 gwei
	data := append(common.FromHex("0xa9059cbb"), common.LeftPadBytes(common.HexToAddress(env.Chain.CustomerAddress()).Bytes(), 32)...)
	data = append(data, common.LeftPadBytes(big.NewInt(1).Bytes(), 32)...)
	other, err := signer.SignTx(ctx, hot, types.NewTx(&types.DynamicFeeTx{
		ChainID: env.Chain.ChainID(), Nonce: nonce, GasTipCap: tip,
		GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(4)), tip),
		Gas:       100_000, To: &token, Data: data,
	}), env.Chain.ChainID())
	require.NoError(t, err)
	require.NoError(t, cl.SendTransaction(ctx, other))
	require.NoError(t, cl.SendTransaction(ctx, payTx))
	env.Chain.Mine(testenv.Confirmations + 2)

	st, err := env.Network.TxStatus(ctx, txHash)
	require.NoError(t, err)
	require.Equal(t, chains.TxConfirmed, st.State)
	r, err := cl.TransactionReceipt(ctx, common.HexToHash(txHash))
	require.NoError(t, err)
	require.NotZero(t, r.Logs[0].Index, "precondition: the payment's log moved within its block")
	now, err := env.Network.Deposits(ctx, base.Height+1, base.Height+1, []string{col.Address})
	require.NoError(t, err)
	require.Len(t, now, 1)
	require.Equal(t, oldIndex, now[0].Index, "the deposit keeps its identity")

	for range 3 {
		require.NoError(t, env.Collections.Poll(ctx))
	}
	deps, err = env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1, "the re-mined payment was recorded as a second deposit")
	require.Equal(t, collections.DepositCredited, deps[0].Status)
	require.True(t, apiBalance(t, env).Equal(usdt("10")), "one 10 USDT payment, API balance %s", apiBalance(t, env))
}

// TestLegacyDepositIndexIsAdopted: a token deposit recorded before deposit identities stopped
// depending on the block carries its block-level log index (the schema step marks it
// legacy_index). Seen again under its new index, it is adopted, not recorded and credited a
// second time.
func TestLegacyDepositIndexIsAdopted(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("10")})
	require.NoError(t, err)
	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(10))
	require.NoError(t, err)
	env.Chain.Commit()
	require.NoError(t, env.Collections.Poll(ctx))
	deps, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	require.Equal(t, collections.DepositConfirming, deps[0].Status)
	// As the schema step leaves a deposit recorded by an earlier version.
	_, err = env.DB.ExecContext(ctx, "UPDATE collection_deposits SET tx_index = 7, legacy_index = ? WHERE id = ?", true, deps[0].ID)
	require.NoError(t, err)

	env.Chain.Mine(testenv.Confirmations)
	for range 2 {
		require.NoError(t, env.Collections.Poll(ctx))
	}
	after, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, after, 1, "the legacy deposit was recorded again")
	require.Equal(t, deps[0].ID, after[0].ID)
	require.Equal(t, deps[0].Index, after[0].Index, "adopted under its new index")
	require.Equal(t, collections.DepositCredited, after[0].Status)
	require.True(t, apiBalance(t, env).Equal(usdt("10")), "balance %s", apiBalance(t, env))
}
