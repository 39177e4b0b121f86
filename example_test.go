package settle_test

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/shopspring/decimal"

	settle "github.com/settle-go/settle"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/payouts"
)

// Example opens settle on SQLite with a development chain, collects 25 USDT through a single-use
// address and pays 10 of it out.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "settle-example-")
	defer os.RemoveAll(dir)

	signer, _ := evm.NewHDSigner(bytes.Repeat([]byte{7}, 32)) // development keys only
	chain, err := evmtest.NewDevnet(ctx, signer, evmtest.WithHotWalletTokens(big.NewInt(1_000_000_000)))
	if err != nil {
		panic(err)
	}
	defer chain.Close()

	st, err := settle.Open(ctx, settle.Config{
		DSN:           "sqlite:" + filepath.Join(dir, "settle.db"),
		Networks:      []chains.Network{chain.Network()},
		Confirmations: map[chains.NetworkID]uint64{chains.EVMLocal: 1},
	})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	m, _ := st.Merchants.Create(ctx, "Example Store")

	// A customer pays a collection; one confirmation later the API account is credited.
	col, _ := st.Collections.Create(ctx, collections.CreateInput{
		MerchantID: m.ID, Network: chains.EVMLocal, Token: "USDT", Amount: decimal.NewFromInt(25),
	})
	_, _ = chain.CustomerPay(ctx, "USDT", col.Address, big.NewInt(25_000_000))
	chain.Commit()
	_ = st.Collections.Poll(ctx) // st.Run(ctx) does this in the background
	col, _ = st.Collections.Get(ctx, m.ID, col.ID)
	fmt.Println("collection:", col.Status)

	// A payout holds the amount at once, then is signed, broadcast and confirmed.
	p, err := st.Payouts.Create(ctx, payouts.CreateInput{
		MerchantID: m.ID, Network: chains.EVMLocal, Token: "USDT", Amount: decimal.NewFromInt(10),
		ToAddress: "0x56adfcc254ab3b8142a275c1837bcffaff5aa38b",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("payout:", p.Status, "available", p.BalanceBefore, "→", p.BalanceAfter)
	_ = st.Payouts.Process(ctx) // sign, store, broadcast
	chain.Commit()
	_ = st.Payouts.Process(ctx) // confirmed: capture the hold
	p, _ = st.Payouts.Get(ctx, m.ID, p.ID)
	bal, _ := st.Ledger.Balance(ctx, ledger.MerchantTestAPI(m.ID, "USDT").Code) // EVM_LOCAL is a test network
	fmt.Println("payout:", p.Status, "API account posted", bal.Posted, "held", bal.Held)
	// Output:
	// collection: SUCCESSFUL
	// payout: PENDING available 25 → 15
	// payout: COMPLETED API account posted 15 held 0
}
