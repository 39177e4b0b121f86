package payouts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/payouts"
)

// flaky wraps the real network and breaks Broadcast the way a crash or a node outage would.
type flaky struct {
	*evm.Network
	// before: fail this many broadcasts without sending (node down before the send).
	before int
	// after: send, then report failure this many times (the process died before recording it).
	after int
}

func (f *flaky) Broadcast(ctx context.Context, tx *chains.SignedTx) error {
	if f.before > 0 {
		f.before--
		return errors.New("connection refused")
	}
	if f.after > 0 {
		f.after--
		if err := f.Network.Broadcast(ctx, tx); err != nil {
			return err
		}
		return errors.New("timeout reading the response")
	}
	return f.Network.Broadcast(ctx, tx)
}

// TestBroadcastInterruptedNeverPaysTwice: the signed transaction is stored before it is sent;
// every retry sends the same bytes, so the destination is paid exactly once.
func TestBroadcastInterruptedNeverPaysTwice(t *testing.T) {
	for _, c := range []struct {
		name          string
		before, after int
	}{
		{"node down before the send", 2, 0},
		{"crash after the send", 0, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := testenv.New(t, evmtestHotTokens())
			env.Fund(t, 100)
			ctx := context.Background()
			net := &flaky{Network: env.Network, before: c.before, after: c.after}
			svc, err := payouts.New(env.DB, payouts.Config{
				Ledger: env.Ledger, Chains: chains.NewRegistry(net), Webhooks: env.Webhooks,
				Confirmations: map[chains.NetworkID]uint64{chains.EVMLocal: testenv.Confirmations},
			})
			require.NoError(t, err)
			usdt := env.USDT(t)
			start, err := env.Network.Balance(ctx, dest, usdt)
			require.NoError(t, err)

			p, err := svc.Create(ctx, input(env, "15"))
			require.NoError(t, err)
			require.Error(t, svc.Process(ctx))
			p, err = svc.Get(ctx, env.Merchant.ID, p.ID)
			require.NoError(t, err)
			require.Equal(t, payouts.StageSigned, p.Stage, "the signed transaction must be stored before the send")
			first := p.TxHash
			require.NotEmpty(t, first)

			for i := 0; i < 4 && p.Status != payouts.StatusCompleted; i++ {
				_ = svc.Process(ctx)
				env.Chain.Mine(testenv.Confirmations)
				p, err = svc.Get(ctx, env.Merchant.ID, p.ID)
				require.NoError(t, err)
			}
			require.NoError(t, svc.Process(ctx))
			p, err = svc.Get(ctx, env.Merchant.ID, p.ID)
			require.NoError(t, err)
			require.Equal(t, payouts.StatusCompleted, p.Status)
			require.Equal(t, first, p.TxHash, "re-signed: a second transaction could pay twice")

			end, err := env.Network.Balance(ctx, dest, usdt)
			require.NoError(t, err)
			require.Equal(t, testenv.Units(15).String(), end.Sub(end, start).String(), "paid exactly once")
			require.True(t, available(t, env).Equal(dec("85")))
		})
	}
}

// TestLostTransactionHoldsBackNewSigning: when the node forgets a broadcast payout (dropped from
// its pool), no new payout is signed, since it would take the lost one's nonce; the lost one is
// sent again (the same bytes) after RebroadcastAfter, and then both complete, each paid once.
func TestLostTransactionHoldsBackNewSigning(t *testing.T) {
	env := testenv.New(t, evmtestHotTokens())
	env.Fund(t, 100)
	ctx := context.Background()
	now := time.Now()
	svc, err := payouts.New(env.DB, payouts.Config{
		Ledger: env.Ledger, Chains: env.Chains, Webhooks: env.Webhooks, Now: func() time.Time { return now },
		Confirmations: map[chains.NetworkID]uint64{chains.EVMLocal: testenv.Confirmations},
	})
	require.NoError(t, err)
	usdt := env.USDT(t)
	start, err := env.Network.Balance(ctx, dest, usdt)
	require.NoError(t, err)

	a, err := svc.Create(ctx, input(env, "10"))
	require.NoError(t, err)
	require.NoError(t, svc.Process(ctx))
	env.Chain.Rollback() // the node forgets A

	b, err := svc.Create(ctx, input(env, "20"))
	require.NoError(t, err)
	require.NoError(t, svc.Process(ctx))
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, svc.Process(ctx))
	b, err = svc.Get(ctx, env.Merchant.ID, b.ID)
	require.NoError(t, err)
	require.Equal(t, payouts.StageQueued, b.Stage, "signed while an earlier transaction was missing: nonce collision")

	now = now.Add(2 * time.Minute) // past RebroadcastAfter: A is sent again
	for i := 0; i < 6; i++ {
		require.NoError(t, svc.Process(ctx))
		env.Chain.Mine(testenv.Confirmations)
	}
	for _, id := range []string{a.ID, b.ID} {
		p, err := svc.Get(ctx, env.Merchant.ID, id)
		require.NoError(t, err)
		require.Equal(t, payouts.StatusCompleted, p.Status, "payout %s", id)
	}
	end, err := env.Network.Balance(ctx, dest, usdt)
	require.NoError(t, err)
	require.Equal(t, testenv.Units(30).String(), end.Sub(end, start).String(), "each payout paid exactly once")
	require.True(t, available(t, env).Equal(dec("70")))
}
