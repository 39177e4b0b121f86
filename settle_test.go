package settle_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	settle "github.com/settle-go/settle"
	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/ledger"
)

// TestRunReleasesExpiredHolds: Run's sweeper marks an expired hold expired in storage (reads
// already treat it as expired; the sweeper makes the stored counters agree).
func TestRunReleasesExpiredHolds(t *testing.T) {
	ctx := context.Background()
	st, err := settle.Open(ctx, settle.Config{DB: dbtest.Open(t), HoldSweepInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	world, err := st.Ledger.EnsureAccount(ctx, ledger.Custody("EVM_LOCAL", "USDT"))
	require.NoError(t, err)
	api, err := st.Ledger.EnsureAccount(ctx, ledger.MerchantAPI("mch_test", "USDT"))
	require.NoError(t, err)
	_, err = st.Ledger.Post(ctx, ledger.Transfer("fund", world.Code, api.Code, decimal.NewFromInt(10), "fund"))
	require.NoError(t, err)
	h, err := st.Ledger.Hold(ctx, ledger.HoldInput{Debit: api.Code, Credit: world.Code, Amount: decimal.NewFromInt(4), ExpiresAt: time.Now().Add(100 * time.Millisecond)})
	require.NoError(t, err)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	require.Eventually(t, func() bool {
		var status string
		err := st.DB.NewSelect().Table("ledger_holds").Column("status").Where("id = ?", h.ID).Scan(ctx, &status)
		return err == nil && status == string(ledger.HoldExpired)
	}, 5*time.Second, 20*time.Millisecond, "the sweeper never released the expired hold")
	cancel()
	require.NoError(t, <-done)
	b, err := st.Ledger.Balance(ctx, api.Code)
	require.NoError(t, err)
	require.True(t, b.Held.IsZero() && b.Available.Equal(decimal.NewFromInt(10)), "held %s available %s", b.Held, b.Available)
}
