// Package testenv wires a whole settle instance for flow tests: a fresh database (SQLite, or
// PostgreSQL when SETTLE_TEST_POSTGRES_DSN is set), a development EVM chain in process with a real
// ERC-20 USDT and USDC, and a merchant with an API key.
package testenv

import (
	"bytes"
	"context"
	"math/big"
	"testing"
	"time"

	settle "github.com/settle-go/settle"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/merchants"
)

// Confirmations is what the environment requires on the development chain.
const Confirmations = 3

// Env is a wired settle instance on a development chain.
type Env struct {
	*settle.Settle
	Chain    *evmtest.Devnet
	Network  *evm.Network
	Merchant merchants.Merchant
	APIKey   string
}

// New returns a fresh Env; everything is closed when t ends.
func New(t testing.TB, opts ...evmtest.Option) *Env {
	t.Helper()
	ctx := context.Background()
	signer, err := evm.NewHDSigner(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := evmtest.NewDevnet(ctx, signer, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	st, err := settle.Open(ctx, settle.Config{
		DB:            dbtest.Open(t),
		Networks:      []chains.Network{chain.Network()},
		Confirmations: map[chains.NetworkID]uint64{chains.EVMLocal: Confirmations},
		PollInterval:  20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m, err := st.Merchants.Create(ctx, "Test merchant")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := st.Merchants.CreateAPIKey(ctx, m.ID, merchants.Test)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Settle: st, Chain: chain, Network: chain.Network(), Merchant: m, APIKey: key}
}

// USDT returns the chain's USDT asset.
func (e *Env) USDT(t testing.TB) chains.Asset {
	t.Helper()
	a, err := chains.FindAsset(e.Network, "USDT")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Units converts whole tokens of a 6-decimal asset to base units.
func Units(tokens int64) *big.Int { return new(big.Int).Mul(big.NewInt(tokens), big.NewInt(1_000_000)) }

// Fund credits the merchant's API account with amount USDT the way production does: a customer
// pays a collection on chain and the watcher credits it after the required confirmations.
func (e *Env) Fund(t testing.TB, tokens int64) {
	t.Helper()
	ctx := context.Background()
	col, err := e.Collections.Create(ctx, collectionsInput(e, tokens))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Chain.CustomerPay(ctx, "USDT", col.Address, Units(tokens)); err != nil {
		t.Fatal(err)
	}
	e.Chain.Mine(Confirmations)
	if err := e.Collections.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.Collections.Get(ctx, e.Merchant.ID, col.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "SUCCESSFUL" {
		t.Fatalf("funding collection %s is %s, want SUCCESSFUL", col.ID, got.Status)
	}
}
