package collections_test

import (
	"context"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/webhooks"
)

// TestConcurrentPollersCreditOnce runs four watchers side by side, as four processes would on
// one PostgreSQL database: every deposit is credited exactly once and every collection emits one
// collection.successful.
func TestConcurrentPollersCreditOnce(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	const n = 12
	total := decimal.Zero
	for i := range n {
		amount := int64(i + 1)
		col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: decimal.NewFromInt(amount)})
		require.NoError(t, err)
		_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(amount))
		require.NoError(t, err)
		total = total.Add(decimal.NewFromInt(amount))
	}
	env.Chain.Mine(testenv.Confirmations)

	pollers := make([]*collections.Service, 4)
	for i := range pollers {
		svc, err := collections.New(env.DB, collections.Config{
			Ledger: env.Ledger, Chains: env.Chains, Webhooks: env.Webhooks,
			Confirmations: map[chains.NetworkID]uint64{chains.EVMLocal: testenv.Confirmations},
		})
		require.NoError(t, err)
		pollers[i] = svc
	}
	var wg sync.WaitGroup
	errs := make([]error, len(pollers)*3)
	for i, p := range pollers {
		for j := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i*3+j] = p.Poll(ctx)
			}()
		}
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.True(t, apiBalance(t, env).Equal(total), "credited %s, want %s", apiBalance(t, env), total)
	cols, _, err := env.Collections.List(ctx, env.Merchant.ID, collections.ListFilter{Limit: 100})
	require.NoError(t, err)
	for _, c := range cols {
		require.Equal(t, collections.StatusSuccessful, c.Status)
	}
	require.Equal(t, n, eventTypes(t, env)[webhooks.EventCollectionSuccessful])
	rep, err := env.Ledger.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Problems)
}
