package evm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/big"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
)

func ExampleValidateAddress() {
	for _, a := range []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", // EIP-55 checksummed
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", // all lower case: no checksum to check
		"0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", // one letter's case flipped
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",   // no 0x
	} {
		err := evm.ValidateAddress(chains.EthereumMainnet, a)
		var ae *chains.AddressError
		switch {
		case err == nil:
			fmt.Println("valid")
		case errors.As(err, &ae):
			fmt.Println("invalid:", ae.Reason)
		}
	}
	// Output:
	// valid
	// valid
	// invalid: bad EIP-55 checksum (mixed-case address with a wrong letter case; check for a typo)
	// invalid: want "0x" followed by 40 hexadecimal digits
}

// A customer pays 25 USDT to a deposit address on an in-process development chain; the watcher
// finds the deposit and counts its confirmations; then the hot wallet pays 10 USDT out.
func Example_devnet() {
	ctx := context.Background()
	// A fixed development seed (never use a published seed for real money).
	seed := make([]byte, 32)
	signer, err := evm.NewHDSigner(seed)
	if err != nil {
		log.Fatal(err)
	}
	dev, err := evmtest.NewDevnet(ctx, signer)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	network := dev.Network()
	usdt, _ := chains.FindAsset(network, "USDT")

	// Index 0 is the hot wallet: deposit addresses start at 1.
	deposit, _ := network.DeriveAddress(ctx, 1)
	start, _ := network.Head(ctx)
	if _, err := dev.CustomerPay(ctx, "USDT", deposit, big.NewInt(25_000_000)); err != nil {
		log.Fatal(err)
	}
	dev.Commit()
	dev.Mine(2)

	end, _ := network.Head(ctx)
	deposits, err := network.Deposits(ctx, start.Height+1, end.Height, []string{deposit})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range deposits {
		st, _ := network.TxStatus(ctx, d.TxHash)
		fmt.Printf("deposit of %s %s, %d confirmations\n", d.Asset.ToDecimal(d.Amount), d.Asset.Code, st.Confirmations)
	}

	// Pay out from the deposit address to the customer: first give it gas money.
	if _, err := dev.FundNative(ctx, deposit, big.NewInt(1_000_000_000_000_000)); err != nil {
		log.Fatal(err)
	}
	dev.Commit()
	signed, err := network.SignTransfer(ctx, chains.TransferRequest{
		From: deposit, To: dev.CustomerAddress(), Asset: usdt, Amount: big.NewInt(10_000_000),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Store signed before broadcasting it; broadcasting it again is harmless.
	if err := network.Broadcast(ctx, signed); err != nil {
		log.Fatal(err)
	}
	dev.Commit()
	st, _ := network.TxStatus(ctx, signed.Hash)
	left, _ := network.Balance(ctx, deposit, usdt)
	fmt.Println("payout", st.State, "- left on the deposit address:", usdt.ToDecimal(left), "USDT")
	// Output:
	// deposit of 25 USDT, 3 confirmations
	// payout confirmed - left on the deposit address: 15 USDT
}
