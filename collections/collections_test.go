package collections_test

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/webhooks"
)

func usdt(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func apiBalance(t *testing.T, env *testenv.Env) decimal.Decimal {
	t.Helper()
	b, err := env.Ledger.Balance(context.Background(), ledger.MerchantTestAPI(env.Merchant.ID, "USDT").Code)
	if errors.Is(err, ledger.ErrNotFound) {
		return decimal.Zero
	}
	require.NoError(t, err)
	return b.Posted
}

func eventTypes(t *testing.T, env *testenv.Env) map[string]int {
	t.Helper()
	ds, _, err := env.Webhooks.Deliveries(context.Background(), webhooks.DeliveryFilter{MerchantID: env.Merchant.ID, Limit: 100})
	require.NoError(t, err)
	out := map[string]int{}
	for _, d := range ds {
		out[d.EventType]++
	}
	return out
}

func TestCreateValidation(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	valid := collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("10")}
	cases := []struct {
		name  string
		edit  func(*collections.CreateInput)
		field string
		cause error
	}{
		{"unknown network", func(in *collections.CreateInput) { in.Network = "DOGE_MAINNET" }, "network", chains.ErrUnknownNetwork},
		{"token not on network", func(in *collections.CreateInput) { in.Token = "BTC" }, "token", chains.ErrUnknownAsset},
		{"zero amount", func(in *collections.CreateInput) { in.Amount = decimal.Zero }, "amount", nil},
		{"negative amount", func(in *collections.CreateInput) { in.Amount = usdt("-1") }, "amount", nil},
		{"too many decimals", func(in *collections.CreateInput) { in.Amount = usdt("1.0000001") }, "amount", nil},
		{"absurd exponent", func(in *collections.CreateInput) { in.Amount = decimal.New(1, 999999999) }, "amount", nil},
		{"ttl too long", func(in *collections.CreateInput) { in.TTL = 8 * 24 * time.Hour }, "ttl", nil},
		{"no merchant", func(in *collections.CreateInput) { in.MerchantID = "" }, "merchant_id", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := valid
			c.edit(&in)
			_, err := env.Collections.Create(ctx, in)
			var ve *collections.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, c.field, ve.Field)
			require.ErrorIs(t, err, collections.ErrValidation)
			if c.cause != nil {
				require.ErrorIs(t, err, c.cause)
			}
		})
	}
	list, total, err := env.Collections.List(ctx, env.Merchant.ID, collections.ListFilter{})
	require.NoError(t, err)
	require.Zero(t, total, "a refused request wrote a collection")
	require.Empty(t, list)
	require.Empty(t, eventTypes(t, env), "a refused request wrote an event")
}

func TestAddressesAreFreshPerCollection(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	seen := map[string]bool{}
	hot, err := env.Network.HotWallet(ctx)
	require.NoError(t, err)
	seen[hot] = true
	for range 5 {
		c, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("1")})
		require.NoError(t, err)
		require.NoError(t, env.Network.ValidateAddress(c.Address))
		require.False(t, seen[c.Address], "address %s handed out twice (or is the hot wallet)", c.Address)
		seen[c.Address] = true
	}
}

func TestDepositCreditsOnceAfterConfirmations(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("100"), Reference: "order-1"})
	require.NoError(t, err)
	require.Equal(t, collections.StatusCreated, col.Status)

	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(100))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations - 1) // one short
	require.NoError(t, env.Collections.Poll(ctx))
	deps, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	require.Equal(t, collections.DepositConfirming, deps[0].Status)
	require.Equal(t, uint64(testenv.Confirmations-1), deps[0].Confirmations)
	require.True(t, deps[0].Amount.Equal(usdt("100")))
	require.True(t, apiBalance(t, env).IsZero(), "credited before enough confirmations")

	env.Chain.Mine(1)
	for range 3 { // seen again and again: credited once
		require.NoError(t, env.Collections.Poll(ctx))
	}
	got, err := env.Collections.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusSuccessful, got.Status)
	require.True(t, got.Received.Equal(usdt("100")))
	require.NotNil(t, got.PaidAt)
	require.True(t, apiBalance(t, env).Equal(usdt("100")), "API balance %s", apiBalance(t, env))
	custody, err := env.Ledger.Balance(ctx, ledger.Custody(string(chains.EVMLocal), "USDT").Code)
	require.NoError(t, err)
	require.True(t, custody.Posted.Equal(usdt("100")))
	require.Equal(t, map[string]int{webhooks.EventCollectionCreated: 1, webhooks.EventCollectionSuccessful: 1}, eventTypes(t, env))
	rep, err := env.Ledger.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Problems)
}

func TestPartialThenRestAndExcessAreAllCredited(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("100")})
	require.NoError(t, err)
	for _, part := range []int64{60, 30} {
		_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(part))
		require.NoError(t, err)
		env.Chain.Mine(testenv.Confirmations)
		require.NoError(t, env.Collections.Poll(ctx))
	}
	got, err := env.Collections.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusCreated, got.Status, "90 of 100 is not paid")
	require.True(t, got.Received.Equal(usdt("90")))

	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(25)) // 15 too much
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))
	got, err = env.Collections.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusSuccessful, got.Status)
	require.True(t, got.Received.Equal(usdt("115")), "received %s", got.Received)
	require.True(t, apiBalance(t, env).Equal(usdt("115")), "excess must be credited, not dropped")
}

func TestExpiredUnpaidFailsAndLateMoneyIsStillCredited(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	svc, err := collections.New(env.DB, collections.Config{
		Ledger: env.Ledger, Chains: env.Chains, Webhooks: env.Webhooks, Now: clock,
		Confirmations: map[chains.NetworkID]uint64{chains.EVMLocal: testenv.Confirmations},
	})
	require.NoError(t, err)
	col, err := svc.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("50"), TTL: 15 * time.Minute})
	require.NoError(t, err)

	require.NoError(t, svc.Poll(ctx))
	got, err := svc.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusCreated, got.Status, "failed before expiry")

	now = now.Add(16 * time.Minute)
	require.NoError(t, svc.Poll(ctx))
	got, err = svc.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusFailed, got.Status)
	require.Equal(t, 1, eventTypes(t, env)[webhooks.EventCollectionFailed])

	// The customer pays after all: the money is credited and flagged late, the status stays FAILED.
	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(50))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, svc.Poll(ctx))
	require.True(t, apiBalance(t, env).Equal(usdt("50")), "late money dropped")
	deps, err := svc.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	require.True(t, deps[0].Late)
	require.Equal(t, collections.DepositCredited, deps[0].Status)
	got, err = svc.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusFailed, got.Status)
	require.Equal(t, 1, eventTypes(t, env)[webhooks.EventCollectionFailed], "failed twice")
}

// TestCrashDuringCreditLosesNothing breaks the transaction that credits a deposit (the outbox
// table is gone, so the event cannot be written) and checks that nothing of the credit is left;
// once the table is back, the next pass credits the deposit exactly once.
func TestCrashDuringCreditLosesNothing(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("20")})
	require.NoError(t, err)
	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(20))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)

	_, err = env.DB.ExecContext(ctx, "ALTER TABLE webhook_events RENAME TO webhook_events_away")
	require.NoError(t, err)
	require.Error(t, env.Collections.Poll(ctx), "the credit should have failed")
	require.True(t, apiBalance(t, env).IsZero(), "ledger credited although the transaction failed")
	got, err := env.Collections.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusCreated, got.Status)
	require.True(t, got.Received.IsZero())

	_, err = env.DB.ExecContext(ctx, "ALTER TABLE webhook_events_away RENAME TO webhook_events")
	require.NoError(t, err)
	require.NoError(t, env.Collections.Poll(ctx))
	require.NoError(t, env.Collections.Poll(ctx))
	require.True(t, apiBalance(t, env).Equal(usdt("20")))
	got, err = env.Collections.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusSuccessful, got.Status)
	require.Equal(t, 1, eventTypes(t, env)[webhooks.EventCollectionSuccessful])
}

// TestInternalTransfersAreNotDeposits: a gas top-up from the platform's hot wallet to a
// collection address, marked internal, moves money inside custody and must not credit the
// merchant; an unmarked transfer from the same hot wallet (a payout from another merchant) is a
// real deposit.
func TestInternalTransfersAreNotDeposits(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("5")})
	require.NoError(t, err)
	hot, err := env.Network.HotWallet(ctx)
	require.NoError(t, err)
	eth := env.Network.Assets()[0]
	topUp, err := env.Network.SignTransfer(ctx, chains.TransferRequest{From: hot, To: col.Address, Asset: eth, Amount: big.NewInt(1e15)})
	require.NoError(t, err)
	require.NoError(t, env.Collections.MarkInternal(ctx, chains.EVMLocal, topUp.Hash, "gas top-up"))
	require.NoError(t, env.Network.Broadcast(ctx, topUp))
	env.Chain.Commit()
	payout, err := env.Network.SignTransfer(ctx, chains.TransferRequest{From: hot, To: col.Address, Asset: eth, Amount: big.NewInt(2e15)})
	require.NoError(t, err)
	require.NoError(t, env.Network.Broadcast(ctx, payout))
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))
	deps, err := env.Collections.Deposits(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Len(t, deps, 1, "only the unmarked transfer is a deposit")
	require.Equal(t, payout.Hash, deps[0].TxHash)
	b, err := env.Ledger.Balance(ctx, ledger.MerchantTestAPI(env.Merchant.ID, "ETH").Code)
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(usdt("0.002")), "ETH credited %s", b.Posted)
}

// TestOtherAssetIsCreditedButNotCounted: ETH sent to a USDT collection is credited in ETH and
// does not count toward the USDT expected (the units differ).
func TestOtherAssetIsCreditedButNotCounted(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("100")})
	require.NoError(t, err)
	_, err = env.Chain.CustomerPay(ctx, "ETH", col.Address, big.NewInt(100_000_000)) // 1e-10 ETH: 100 in USDT base units
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))
	got, err := env.Collections.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusCreated, got.Status)
	require.True(t, got.Received.IsZero(), "received %s", got.Received)
	b, err := env.Ledger.Balance(ctx, ledger.MerchantTestAPI(env.Merchant.ID, "ETH").Code)
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(usdt("0.0000000001")), "ETH credited %s", b.Posted)
	require.True(t, apiBalance(t, env).IsZero())
}
