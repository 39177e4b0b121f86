package payouts_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/payouts"
	"github.com/settle-go/settle/webhooks"
)

const dest = "0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func available(t *testing.T, env *testenv.Env) decimal.Decimal {
	t.Helper()
	b, err := env.Ledger.Balance(context.Background(), ledger.MerchantTestAPI(env.Merchant.ID, "USDT").Code)
	if errors.Is(err, ledger.ErrNotFound) {
		return decimal.Zero
	}
	require.NoError(t, err)
	return b.Available
}

func countPayouts(t *testing.T, env *testenv.Env) int {
	t.Helper()
	_, total, err := env.Payouts.List(context.Background(), env.Merchant.ID, payouts.ListFilter{})
	require.NoError(t, err)
	return total
}

func input(env *testenv.Env, amount string) payouts.CreateInput {
	return payouts.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: dec(amount), ToAddress: dest}
}

// hotFunded starts an environment whose hot wallet holds tokens on chain and whose merchant's API
// account is funded with 100 USDT through a real collection.
func hotFunded(t *testing.T) *testenv.Env {
	env := testenv.New(t, evmtestHotTokens())
	env.Fund(t, 100)
	return env
}

func TestCreateRefusalsWriteNothing(t *testing.T) {
	env := hotFunded(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		edit  func(*payouts.CreateInput)
		field string
		cause error
	}{
		{"below minimum", func(in *payouts.CreateInput) { in.Amount = dec("0.009") }, "amount", nil},
		{"too many decimals", func(in *payouts.CreateInput) { in.Amount = dec("1.0000001") }, "amount", nil},
		{"absurd exponent", func(in *payouts.CreateInput) { in.Amount = decimal.New(1, 999999999) }, "amount", nil},
		{"absurd negative exponent", func(in *payouts.CreateInput) { in.Amount = decimal.New(1, -999999999) }, "amount", nil},
		{"unknown network", func(in *payouts.CreateInput) { in.Network = "DOGE_MAINNET" }, "network", chains.ErrUnknownNetwork},
		{"unknown token", func(in *payouts.CreateInput) { in.Token = "DOGE" }, "token", chains.ErrUnknownAsset},
		{"bad checksum", func(in *payouts.CreateInput) { in.ToAddress = "0x56ADfcc254ab3b8142a275c1837bcffaff5aa38b" }, "to_address", chains.ErrInvalidAddress},
		{"short address", func(in *payouts.CreateInput) { in.ToAddress = "0x56adfcc254ab3b8142a275c1837bcffaff5aa38" }, "to_address", chains.ErrInvalidAddress},
		{"no address", func(in *payouts.CreateInput) { in.ToAddress = "" }, "to_address", chains.ErrInvalidAddress},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := input(env, "1")
			c.edit(&in)
			_, err := env.Payouts.Create(ctx, in)
			var ve *payouts.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, c.field, ve.Field)
			require.ErrorIs(t, err, payouts.ErrValidation)
			if c.cause != nil {
				require.ErrorIs(t, err, c.cause)
			}
		})
	}
	_, err := env.Payouts.Create(ctx, input(env, "100.01"))
	require.ErrorIs(t, err, payouts.ErrInsufficientBalance)
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)

	require.Zero(t, countPayouts(t, env))
	require.True(t, available(t, env).Equal(dec("100")), "a refused payout moved money")
}

func TestPayoutCompletesOnChain(t *testing.T) {
	env := hotFunded(t)
	ctx := context.Background()
	usdt := env.USDT(t)
	before, err := env.Network.Balance(ctx, dest, usdt)
	require.NoError(t, err)

	p, err := env.Payouts.Create(ctx, input(env, "40"))
	require.NoError(t, err)
	require.Equal(t, payouts.StatusPending, p.Status)
	require.True(t, p.BalanceBefore.Equal(dec("100")), "balance_before %s", p.BalanceBefore)
	require.True(t, p.BalanceAfter.Equal(dec("60")), "balance_after %s", p.BalanceAfter)
	require.True(t, available(t, env).Equal(dec("60")), "hold must reduce the available balance at once")

	require.NoError(t, env.Payouts.Process(ctx)) // sign, store, broadcast
	p, err = env.Payouts.Get(ctx, env.Merchant.ID, p.ID)
	require.NoError(t, err)
	require.Equal(t, payouts.StageBroadcast, p.Stage)
	require.NotEmpty(t, p.TxHash)

	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Payouts.Process(ctx))
	require.NoError(t, env.Payouts.Process(ctx))
	p, err = env.Payouts.Get(ctx, env.Merchant.ID, p.ID)
	require.NoError(t, err)
	require.Equal(t, payouts.StatusCompleted, p.Status)

	after, err := env.Network.Balance(ctx, dest, usdt)
	require.NoError(t, err)
	require.Equal(t, testenv.Units(40).String(), after.Sub(after, before).String(), "destination must receive exactly 40 USDT")

	b, err := env.Ledger.Balance(ctx, ledger.MerchantTestAPI(env.Merchant.ID, "USDT").Code)
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(dec("60")) && b.Held.IsZero(), "api posted %s held %s", b.Posted, b.Held)
	custody, err := env.Ledger.Balance(ctx, ledger.Custody(string(chains.EVMLocal), "USDT").Code)
	require.NoError(t, err)
	require.True(t, custody.Posted.Equal(dec("60")))

	ds, _, err := env.Webhooks.Deliveries(ctx, webhooks.DeliveryFilter{MerchantID: env.Merchant.ID, Limit: 100})
	require.NoError(t, err)
	n := 0
	for _, d := range ds {
		if d.EventType == webhooks.EventPayoutSuccessful {
			n++
		}
	}
	require.Equal(t, 1, n, "payout.successful events")
	rep, err := env.Ledger.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Problems)
}

func TestMerchantReferenceIsIdempotent(t *testing.T) {
	env := hotFunded(t)
	ctx := context.Background()
	in := input(env, "60") // two holds of 60 do not fit in 100: a replay must not place a second
	in.MerchantReference = "order-42"
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := env.Payouts.Create(ctx, in)
			ids[i], errs[i] = p.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i], "one reference, one payout")
	}
	require.Equal(t, 1, countPayouts(t, env))
	require.True(t, available(t, env).Equal(dec("40")), "held once: available %s", available(t, env))

	in.Amount = dec("11")
	_, err := env.Payouts.Create(ctx, in)
	require.ErrorIs(t, err, payouts.ErrReferenceConflict)
}

func TestUnfundableTransferFailsAndReleasesHold(t *testing.T) {
	env := testenv.New(t) // the hot wallet holds no tokens on chain
	env.Fund(t, 100)
	ctx := context.Background()
	p, err := env.Payouts.Create(ctx, input(env, "25"))
	require.NoError(t, err)
	require.True(t, available(t, env).Equal(dec("75")))
	require.NoError(t, env.Payouts.Process(ctx))
	p, err = env.Payouts.Get(ctx, env.Merchant.ID, p.ID)
	require.NoError(t, err)
	require.Equal(t, payouts.StatusFailed, p.Status)
	require.NotEmpty(t, p.FailureReason)
	require.True(t, available(t, env).Equal(dec("100")), "a failed payout must release its hold")
	// Never retried automatically.
	require.NoError(t, env.Payouts.Process(ctx))
	p, err = env.Payouts.Get(ctx, env.Merchant.ID, p.ID)
	require.NoError(t, err)
	require.Equal(t, payouts.StatusFailed, p.Status)
}
