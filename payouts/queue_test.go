package payouts_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/payouts"
)

// TestRejectedPayoutFailsAloneAndTheQueueMovesOn: a merchant pays out ETH to a contract that refuses
// ETH (the USDT token contract: no payable fallback). The address is valid, so the payout is
// accepted and held; its gas estimate reverts (chains.ErrTransferRejected), so it fails and its hold
// is released, and another merchant's payout queued behind it completes. Before the fix the
// processor stopped at the first payout it could not sign: that one stayed held forever and every
// later payout on the network was never signed (found by review).
func TestRejectedPayoutFailsAloneAndTheQueueMovesOn(t *testing.T) {
	env := hotFunded(t)
	ctx := context.Background()

	// Fund the merchant's ETH API account through a real collection: 1 ETH.
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "ETH", Amount: dec("1")})
	require.NoError(t, err)
	_, err = env.Chain.CustomerPay(ctx, "ETH", col.Address, big.NewInt(1e18))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))

	token, ok := env.Chain.Token("USDT")
	require.True(t, ok)
	bad, err := env.Payouts.Create(ctx, payouts.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "ETH", Amount: dec("0.5"), ToAddress: token.Hex()})
	require.NoError(t, err, "the contract address passes validation")

	// Another merchant, funded with 50 USDT through its own collection, pays out 10 USDT later.
	other, err := env.Merchants.Create(ctx, "Other merchant")
	require.NoError(t, err)
	col2, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: other.ID, Network: chains.EVMLocal, Token: "USDT", Amount: dec("50")})
	require.NoError(t, err)
	_, err = env.Chain.CustomerPay(ctx, "USDT", col2.Address, testenv.Units(50))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))
	good, err := env.Payouts.Create(ctx, payouts.CreateInput{MerchantID: other.ID, Network: chains.EVMLocal, Token: "USDT", Amount: dec("10"), ToAddress: dest})
	require.NoError(t, err)

	var lastErr error
	for range 4 {
		lastErr = env.Payouts.Process(ctx)
		env.Chain.Mine(testenv.Confirmations)
	}
	t.Logf("last Process error: %v", lastErr)

	bad, err = env.Payouts.Get(ctx, env.Merchant.ID, bad.ID)
	require.NoError(t, err)
	require.Equal(t, payouts.StatusFailed, bad.Status, "stage %s", bad.Stage)
	b, err := env.Ledger.Balance(ctx, ledger.MerchantTestAPI(env.Merchant.ID, "ETH").Code)
	require.NoError(t, err)
	require.Equal(t, "1", b.Available.String(), "the failed payout's hold is released")
	require.Equal(t, "0", b.Held.String())
	good, err = env.Payouts.Get(ctx, other.ID, good.ID)
	require.NoError(t, err)
	require.Equal(t, payouts.StatusCompleted, good.Status, "another merchant's valid payout is stuck behind it (stage %s)", good.Stage)
}
