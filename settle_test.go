package settle_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	settle "github.com/settle-go/settle"
	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/webhooks"
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

// TestRunReturnsNilAfterItsDeadline: a ctx that ends by its deadline (context.WithTimeout) is done
// just as a cancelled one is, and Run returns nil, as documented; it used to return
// context.DeadlineExceeded, which callers take for a worker failure (found by review).
func TestRunReturnsNilAfterItsDeadline(t *testing.T) {
	ctx := context.Background()
	st, err := settle.Open(ctx, settle.Config{DB: dbtest.Open(t), PollInterval: 10 * time.Millisecond,
		HoldSweepInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	runCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after its ctx's deadline = %v, want nil (ctx done is not a worker error)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its ctx's deadline")
	}
}

// TestCloseReleasesWebhookConnections: once Run has stopped and Close has returned, the webhook
// client's keep-alive connection to the merchant's endpoint is closed; it used to stay open (a
// socket and two goroutines per endpoint host) for the transport's 90 s idle timeout (found by
// review). The receiver counts its open connections.
func TestCloseReleasesWebhookConnections(t *testing.T) {
	ctx := context.Background()
	var open atomic.Int64
	rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	rcv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	rcv.Start()
	defer rcv.Close()
	st, err := settle.Open(ctx, settle.Config{DB: dbtest.Open(t), PollInterval: 10 * time.Millisecond,
		Webhooks: webhooks.Config{AllowPrivateEndpoints: true, PollInterval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Webhooks.SetEndpoint(ctx, "mch_1", rcv.URL); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Webhooks.EnqueueTx(ctx, st.DB, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := st.Webhooks.Stats(ctx, "mch_1")
		if err == nil && s.Success == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %+v %v", s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); open.Load() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after Run stopped and Close returned, %d webhook connection(s) are still open", open.Load())
		}
	}
}
