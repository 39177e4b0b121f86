package evm_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/stretchr/testify/require"
)

var _ evm.Client = simulated.Client(nil)

// usdt returns n whole 6-decimal tokens in base units.
func usdt(n int64) *big.Int { return big.NewInt(n * 1_000_000) }

// ether returns n ETH in wei.
func ether(n int64) *big.Int {
	return new(big.Int).Mul(big.NewInt(n), big.NewInt(1_000_000_000_000_000_000))
}

func newDevnet(t *testing.T, opts ...evmtest.Option) (*evmtest.Devnet, *evm.HDSigner) {
	t.Helper()
	ctx := context.Background()
	signer, err := evm.NewHDSigner(abandonSeed(t))
	require.NoError(t, err)
	dev, err := evmtest.NewDevnet(ctx, signer, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	return dev, signer
}

func asset(t *testing.T, n *evm.Network, code string) chains.Asset {
	t.Helper()
	a, err := chains.FindAsset(n, code)
	require.NoError(t, err)
	return a
}

func head(t *testing.T, n *evm.Network) uint64 {
	t.Helper()
	h, err := n.Head(context.Background())
	require.NoError(t, err)
	return h.Height
}

func TestNetworkBasics(t *testing.T) {
	ctx := context.Background()
	dev, signer := newDevnet(t)
	n := dev.Network()
	require.Equal(t, chains.EVMLocal, n.ID())
	require.EqualValues(t, evm.SimulatedChainID, n.ChainID().Int64())
	codes := []string{}
	for _, a := range n.Assets() {
		codes = append(codes, a.Code)
	}
	require.Equal(t, []string{"ETH", "USDT", "USDC"}, codes)

	hot, err := n.HotWallet(ctx)
	require.NoError(t, err)
	require.Equal(t, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", hot)
	addr, err := n.DeriveAddress(ctx, 3)
	require.NoError(t, err)
	want, err := signer.Address(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, want.Hex(), addr)

	bal, err := n.Balance(ctx, dev.CustomerAddress(), asset(t, n, "USDT"))
	require.NoError(t, err)
	require.Equal(t, evmtest.DefaultCustomerTokens(), bal)
	bal, err = n.Balance(ctx, hot, asset(t, n, "ETH"))
	require.NoError(t, err)
	require.Equal(t, evmtest.DefaultNativeAlloc(), bal)
	_, err = n.Balance(ctx, hot, chains.Asset{Code: "DAI"})
	require.ErrorIs(t, err, chains.ErrUnknownAsset)
	wrongDecimals := asset(t, n, "USDT")
	wrongDecimals.Decimals = 18
	_, err = n.Balance(ctx, hot, wrongDecimals)
	require.ErrorIs(t, err, chains.ErrUnknownAsset)
	_, err = n.Balance(ctx, "0x123", asset(t, n, "ETH"))
	require.ErrorIs(t, err, chains.ErrInvalidAddress)
	require.ErrorIs(t, n.ValidateAddress("nope"), chains.ErrInvalidAddress)
}

func TestNewRefusesWrongChainAndBadConfig(t *testing.T) {
	ctx := context.Background()
	dev, signer := newDevnet(t)
	// The simulated chain is 1337: as Ethereum mainnet it is refused.
	_, err := evm.New(ctx, evm.Config{ID: chains.EthereumMainnet, Client: dev.Client(), Assets: evm.EthereumAssets(), Signer: signer})
	require.ErrorContains(t, err, "chain")
	_, err = evm.New(ctx, evm.Config{ID: chains.EVMLocal, ChainID: big.NewInt(1), Client: dev.Client(), Assets: dev.Assets(), Signer: signer})
	require.ErrorContains(t, err, "chain id")
	// Assets: native first, once; valid contracts; one network.
	bad := [][]chains.Asset{
		nil,
		dev.Assets()[1:],
		{dev.Assets()[0], dev.Assets()[0]},
		{dev.Assets()[0], {Code: "X", Contract: "0x123", Decimals: 6}},
		{dev.Assets()[0], {Code: "X", Network: chains.BSCMainnet, Contract: dev.Assets()[1].Contract, Decimals: 6}},
		{dev.Assets()[0], dev.Assets()[1], {Code: "USDT2", Contract: strings.ToLower(dev.Assets()[1].Contract), Decimals: 6}},
	}
	for i, assets := range bad {
		_, err := evm.New(ctx, evm.Config{ID: chains.EVMLocal, Client: dev.Client(), Assets: assets})
		require.Error(t, err, "case %d", i)
	}
	// Watch-only: no signer.
	n, err := evm.New(ctx, evm.Config{ID: chains.EVMLocal, Client: dev.Client(), Assets: dev.Assets()})
	require.NoError(t, err)
	_, err = n.HotWallet(ctx)
	require.ErrorIs(t, err, evm.ErrNoSigner)
	_, err = n.DeriveAddress(ctx, 1)
	require.ErrorIs(t, err, evm.ErrNoSigner)
	// With an xpub deriver.
	d, err := evm.NewXPubDeriver(signer.XPub())
	require.NoError(t, err)
	n, err = evm.New(ctx, evm.Config{ID: chains.EVMLocal, Client: dev.Client(), Assets: dev.Assets(), Deriver: d})
	require.NoError(t, err)
	got, err := n.DeriveAddress(ctx, 5)
	require.NoError(t, err)
	want, err := signer.Address(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, want.Hex(), got)
}

func TestDeposits(t *testing.T) {
	ctx := context.Background()
	dev, _ := newDevnet(t)
	n := dev.Network()
	var watched []string
	for i := uint32(1); i <= 3; i++ {
		a, err := n.DeriveAddress(ctx, i)
		require.NoError(t, err)
		watched = append(watched, a)
	}
	other, err := n.DeriveAddress(ctx, 99) // not watched
	require.NoError(t, err)
	start := head(t, n) + 1

	// Block 1: USDT to #1, ETH to #2, USDC to #1 again, USDT to an unwatched address.
	h1, err := dev.CustomerPay(ctx, "USDT", watched[0], usdt(25))
	require.NoError(t, err)
	h2, err := dev.CustomerPay(ctx, "ETH", watched[1], ether(2))
	require.NoError(t, err)
	h3, err := dev.CustomerPay(ctx, "USDC", watched[0], big.NewInt(1_500_000))
	require.NoError(t, err)
	_, err = dev.CustomerPay(ctx, "USDT", other, usdt(7))
	require.NoError(t, err)
	b1 := dev.Commit()
	// Block 2: empty. Block 3: USDT to #3 (lower-case in the watch list).
	dev.Commit()
	h4, err := dev.CustomerPay(ctx, "USDT", watched[2], big.NewInt(1))
	require.NoError(t, err)
	dev.Commit()
	end := head(t, n)
	require.Equal(t, start+2, end)

	watchList := []string{watched[0], watched[1], "0x" + strings.ToLower(watched[2][2:])}
	deps, err := n.Deposits(ctx, start, end, watchList)
	require.NoError(t, err)
	require.Len(t, deps, 4)

	type row struct {
		tx, asset, to string
		amount        *big.Int
		height        uint64
		native        bool
	}
	want := []row{
		{h1, "USDT", watched[0], usdt(25), start, false},
		{h2, "ETH", watched[1], ether(2), start, true},
		{h3, "USDC", watched[0], big.NewInt(1_500_000), start, false},
		{h4, "USDT", watched[2], big.NewInt(1), start + 2, false},
	}
	keys := map[string]bool{}
	for i, w := range want {
		d := deps[i]
		require.Equal(t, w.tx, d.TxHash, "deposit %d", i)
		require.Equal(t, w.asset, d.Asset.Code, "deposit %d", i)
		require.Equal(t, w.to, d.To, "deposit %d", i)
		require.Equal(t, dev.CustomerAddress(), d.From, "deposit %d", i)
		require.Equal(t, 0, w.amount.Cmp(d.Amount), "deposit %d: %s", i, d.Amount)
		require.Equal(t, w.height, d.Block.Height, "deposit %d", i)
		require.Equal(t, chains.EVMLocal, d.Network)
		require.Equal(t, w.native, d.Index&evm.NativeIndexFlag != 0, "deposit %d", i)
		require.False(t, d.Block.Time.IsZero())
		blk, err := n.BlockAt(ctx, d.Block.Height)
		require.NoError(t, err)
		require.Equal(t, blk, d.Block)
		require.False(t, keys[d.Key()])
		keys[d.Key()] = true
	}
	require.Equal(t, b1.Hex(), deps[0].Block.Hash)
	require.EqualValues(t, evm.NativeIndexFlag, deps[1].Index) // the second transaction of its block: the index does not depend on the position

	// Sub-ranges split the result; an empty watch list and an empty range find nothing.
	deps, err = n.Deposits(ctx, start+1, end, watchList)
	require.NoError(t, err)
	require.Len(t, deps, 1)
	deps, err = n.Deposits(ctx, start+1, start+1, watchList)
	require.NoError(t, err)
	require.Empty(t, deps)
	deps, err = n.Deposits(ctx, start, end, nil)
	require.NoError(t, err)
	require.Empty(t, deps)
	_, err = n.Deposits(ctx, end, start, watchList)
	require.Error(t, err)
	_, err = n.Deposits(ctx, start, end, []string{"0xnope"})
	require.ErrorIs(t, err, chains.ErrInvalidAddress)
	_, err = n.Deposits(ctx, start, end+10, watchList)
	require.Error(t, err, "a range beyond the head is an error, not an empty answer")
}

func TestDepositsChunking(t *testing.T) {
	ctx := context.Background()
	dev, signer := newDevnet(t)
	// A network that puts two addresses in a log query and spans two blocks per query.
	n, err := evm.New(ctx, evm.Config{
		ID: chains.EVMLocal, Client: dev.Client(), Assets: dev.Assets(), Signer: signer,
		LogAddressChunk: 2, LogBlockRange: 2, FetchConcurrency: 3,
	})
	require.NoError(t, err)
	start := head(t, n) + 1
	var watched []string
	for i := uint32(1); i <= 7; i++ {
		a, err := n.DeriveAddress(ctx, i)
		require.NoError(t, err)
		watched = append(watched, a)
		_, err = dev.CustomerPay(ctx, "USDT", a, big.NewInt(int64(i)))
		require.NoError(t, err)
		if i%2 == 0 {
			dev.Commit()
		}
	}
	dev.Commit()
	deps, err := n.Deposits(ctx, start, head(t, n), watched)
	require.NoError(t, err)
	require.Len(t, deps, 7)
	for i, d := range deps {
		require.Equal(t, watched[i], d.To)
		require.EqualValues(t, i+1, d.Amount.Int64())
	}
}

func TestConfirmationsGrow(t *testing.T) {
	ctx := context.Background()
	dev, _ := newDevnet(t)
	n := dev.Network()
	to, err := n.DeriveAddress(ctx, 1)
	require.NoError(t, err)
	hash, err := dev.CustomerPay(ctx, "USDT", to, usdt(1))
	require.NoError(t, err)
	st, err := n.TxStatus(ctx, hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxPending, st.State)
	dev.Commit()
	st, err = n.TxStatus(ctx, hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxConfirmed, st.State)
	require.EqualValues(t, 1, st.Confirmations)
	dev.Mine(5)
	st, err = n.TxStatus(ctx, hash)
	require.NoError(t, err)
	require.EqualValues(t, 6, st.Confirmations)
	require.Equal(t, head(t, n)-5, st.Block.Height)

	st, err = n.TxStatus(ctx, common.Hash{1}.Hex())
	require.NoError(t, err)
	require.Equal(t, chains.TxUnknown, st.State)
	_, err = n.TxStatus(ctx, "0x1234")
	require.Error(t, err)
}

func TestPayoutToken(t *testing.T) {
	ctx := context.Background()
	dev, _ := newDevnet(t, evmtest.WithHotWalletTokens(usdt(1000)))
	n := dev.Network()
	usdtAsset := asset(t, n, "USDT")
	receiver := dev.CustomerAddress()
	hot, err := n.HotWallet(ctx)
	require.NoError(t, err)
	before, err := n.Balance(ctx, receiver, usdtAsset)
	require.NoError(t, err)
	hotETH, err := n.Balance(ctx, hot, asset(t, n, "ETH"))
	require.NoError(t, err)

	stx, err := n.SignTransfer(ctx, chains.TransferRequest{To: receiver, Asset: usdtAsset, Amount: big.NewInt(123_456_789)})
	require.NoError(t, err)
	require.Equal(t, chains.EVMLocal, stx.Network)
	require.Equal(t, hot, stx.From)
	require.EqualValues(t, 0, stx.Nonce)
	require.Positive(t, stx.Fee.Sign())
	var tx types.Transaction
	require.NoError(t, tx.UnmarshalBinary(stx.Raw))
	require.Equal(t, uint8(types.DynamicFeeTxType), tx.Type(), "the simulated chain has a base fee: EIP-1559")
	require.Equal(t, stx.Hash, tx.Hash().Hex())
	require.Equal(t, usdtAsset.Contract, tx.To().Hex())
	require.Zero(t, tx.Value().Sign())

	// Broadcasting twice (a restart) is harmless.
	require.NoError(t, n.Broadcast(ctx, stx))
	require.NoError(t, n.Broadcast(ctx, stx))
	st, err := n.TxStatus(ctx, stx.Hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxPending, st.State)
	dev.Commit()
	// And after it is mined, too.
	require.NoError(t, n.Broadcast(ctx, stx))
	dev.Commit()

	st, err = n.TxStatus(ctx, stx.Hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxConfirmed, st.State)
	require.EqualValues(t, 2, st.Confirmations)
	require.Positive(t, st.Fee.Sign())
	require.LessOrEqual(t, st.Fee.Cmp(stx.Fee), 0, "the fee paid is at most the maximum")

	after, err := n.Balance(ctx, receiver, usdtAsset)
	require.NoError(t, err)
	require.Equal(t, new(big.Int).Add(before, big.NewInt(123_456_789)), after, "paid exactly once")
	hotETHAfter, err := n.Balance(ctx, hot, asset(t, n, "ETH"))
	require.NoError(t, err)
	require.Equal(t, new(big.Int).Sub(hotETH, st.Fee), hotETHAfter, "the hot wallet paid exactly the reported fee")

	// The next payout takes the next nonce.
	stx2, err := n.SignTransfer(ctx, chains.TransferRequest{To: receiver, Asset: usdtAsset, Amount: big.NewInt(1)})
	require.NoError(t, err)
	require.EqualValues(t, 1, stx2.Nonce)
}

func TestPayoutNative(t *testing.T) {
	ctx := context.Background()
	dev, _ := newDevnet(t)
	n := dev.Network()
	eth := asset(t, n, "ETH")
	receiver, err := n.DeriveAddress(ctx, 8)
	require.NoError(t, err)
	amount := big.NewInt(1_234_567_890_123)
	stx, err := n.SignTransfer(ctx, chains.TransferRequest{To: receiver, Asset: eth, Amount: amount})
	require.NoError(t, err)
	var tx types.Transaction
	require.NoError(t, tx.UnmarshalBinary(stx.Raw))
	require.EqualValues(t, evm.NativeTransferGas, tx.Gas())
	require.Equal(t, new(big.Int).Mul(big.NewInt(evm.NativeTransferGas), tx.GasFeeCap()), stx.Fee)
	require.NoError(t, n.Broadcast(ctx, stx))
	dev.Commit()
	st, err := n.TxStatus(ctx, stx.Hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxConfirmed, st.State)
	bal, err := n.Balance(ctx, receiver, eth)
	require.NoError(t, err)
	require.Equal(t, amount, bal)

	// The payout is a deposit to the receiver, seen by the watcher.
	deps, err := n.Deposits(ctx, st.Block.Height, st.Block.Height, []string{receiver})
	require.NoError(t, err)
	require.Len(t, deps, 1)
	require.Equal(t, stx.Hash, deps[0].TxHash)
	require.Equal(t, stx.From, deps[0].From)

	// Sending from a derived (non-hot) address works: the signer finds its key.
	back, err := n.SignTransfer(ctx, chains.TransferRequest{From: receiver, To: stx.From, Asset: eth, Amount: big.NewInt(1)})
	if err == nil {
		t.Fatalf("expected insufficient funds for gas, got %+v", back)
	}
	require.ErrorIs(t, err, chains.ErrInsufficientOnChain)
	_, err = dev.FundNative(ctx, receiver, ether(1))
	require.NoError(t, err)
	dev.Commit()
	back, err = n.SignTransfer(ctx, chains.TransferRequest{From: receiver, To: stx.From, Asset: eth, Amount: big.NewInt(1)})
	require.NoError(t, err)
	require.Equal(t, receiver, back.From)
	require.NoError(t, n.Broadcast(ctx, back))
	dev.Commit()
	st, err = n.TxStatus(ctx, back.Hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxConfirmed, st.State)
}

func TestSignTransferRefuses(t *testing.T) {
	ctx := context.Background()
	// A small search limit keeps the search for a key the signer lacks short.
	signer, err := evm.NewHDSigner(abandonSeed(t), evm.WithSearchLimit(64))
	require.NoError(t, err)
	dev, err := evmtest.NewDevnet(ctx, signer) // the hot wallet has ETH but no tokens
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	n := dev.Network()
	to := dev.CustomerAddress()
	usdtAsset := asset(t, n, "USDT")

	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: usdtAsset, Amount: usdt(1)})
	require.ErrorIs(t, err, chains.ErrInsufficientOnChain)
	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: asset(t, n, "ETH"), Amount: ether(1_000_000)})
	require.ErrorIs(t, err, chains.ErrInsufficientOnChain)
	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: usdtAsset, Amount: big.NewInt(0)})
	require.ErrorIs(t, err, chains.ErrAmountPrecision)
	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: usdtAsset, Amount: big.NewInt(-1)})
	require.ErrorIs(t, err, chains.ErrAmountPrecision)
	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: chains.Asset{Code: "USDT"}, Amount: usdt(1)})
	require.ErrorIs(t, err, chains.ErrUnknownAsset)
	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: "0x0000000000000000000000000000000000000000", Asset: usdtAsset, Amount: usdt(1)})
	require.ErrorIs(t, err, chains.ErrInvalidAddress)
	_, err = n.SignTransfer(ctx, chains.TransferRequest{To: strings.ToLower(to[:10]) + to[10:], Asset: usdtAsset, Amount: usdt(1)})
	if strings.ToLower(to[:10])+to[10:] != to {
		require.ErrorIs(t, err, chains.ErrInvalidAddress)
	}
	// A From the signer holds no key for.
	_, err = n.SignTransfer(ctx, chains.TransferRequest{From: to, To: to, Asset: asset(t, n, "ETH"), Amount: big.NewInt(1)})
	require.ErrorIs(t, err, evm.ErrUnknownKey)
}

func TestRevertedTransferIsFailed(t *testing.T) {
	ctx := context.Background()
	// A fixed token gas limit skips the estimate (which would refuse a reverting call), and the
	// test hook skips the balance check: the chain mines the transfer and reverts it.
	dev, _ := newDevnet(t, evmtest.WithGasLimitToken(100_000), evmtest.WithHotWalletTokens(usdt(5)))
	n := dev.Network()
	evm.SkipBalanceCheck(n)
	usdtAsset := asset(t, n, "USDT")
	to := dev.CustomerAddress()
	before, err := n.Balance(ctx, to, usdtAsset)
	require.NoError(t, err)

	stx, err := n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: usdtAsset, Amount: usdt(6)})
	require.NoError(t, err)
	require.NoError(t, n.Broadcast(ctx, stx))
	dev.Commit()
	st, err := n.TxStatus(ctx, stx.Hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxFailed, st.State)
	require.EqualValues(t, 1, st.Confirmations)
	require.Positive(t, st.Fee.Sign(), "a reverted transaction still pays gas")
	after, err := n.Balance(ctx, to, usdtAsset)
	require.NoError(t, err)
	require.Equal(t, before, after)

	// The reverted transfer is no deposit.
	deps, err := n.Deposits(ctx, st.Block.Height, st.Block.Height, []string{to})
	require.NoError(t, err)
	require.Empty(t, deps)
}

func TestBroadcastReplacedNonce(t *testing.T) {
	ctx := context.Background()
	dev, _ := newDevnet(t)
	n := dev.Network()
	eth := asset(t, n, "ETH")
	to := dev.CustomerAddress()
	// Two transfers signed before either is broadcast share nonce 0: one is mined, the other can
	// never be, and Broadcast says so.
	a, err := n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: eth, Amount: big.NewInt(1)})
	require.NoError(t, err)
	b, err := n.SignTransfer(ctx, chains.TransferRequest{To: to, Asset: eth, Amount: big.NewInt(2)})
	require.NoError(t, err)
	require.Equal(t, a.Nonce, b.Nonce)
	require.NoError(t, n.Broadcast(ctx, a))
	// While a is pending, b is refused as an underpriced replacement (not silently accepted).
	err = n.Broadcast(ctx, b)
	require.ErrorContains(t, err, "replacement transaction underpriced")
	require.NotErrorIs(t, err, evm.ErrNonceUsed)
	dev.Commit()
	// Once a is mined (and the pool has caught up with the new head), b can never be mined.
	require.Eventually(t, func() bool {
		return errors.Is(n.Broadcast(ctx, b), evm.ErrNonceUsed)
	}, 5*time.Second, 10*time.Millisecond)
	st, err := n.TxStatus(ctx, b.Hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxUnknown, st.State)

	// Garbage and mismatches are refused before the node sees them.
	require.Error(t, n.Broadcast(ctx, nil))
	require.Error(t, n.Broadcast(ctx, &chains.SignedTx{Raw: []byte{1, 2, 3}}))
	bad := *a
	bad.Hash = b.Hash
	require.Error(t, n.Broadcast(ctx, &bad))
	bad = *a
	bad.Network = chains.EthereumMainnet
	require.Error(t, n.Broadcast(ctx, &bad))
}

func TestReorg(t *testing.T) {
	// The simulated backend's Fork rewinds the head to a parent block; the transactions of the
	// dropped blocks go back to the pool. Then the next Commit re-mines them in a different block,
	// or Rollback drops them for good.
	for _, dropped := range []bool{false, true} {
		name := "re-mined"
		if dropped {
			name = "dropped"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dev, _ := newDevnet(t)
			n := dev.Network()
			to, err := n.DeriveAddress(ctx, 1)
			require.NoError(t, err)
			parent, err := n.Head(ctx)
			require.NoError(t, err)

			hash, err := dev.CustomerPay(ctx, "USDT", to, usdt(10))
			require.NoError(t, err)
			dev.Commit()
			height := parent.Height + 1
			deps, err := n.Deposits(ctx, height, height, []string{to})
			require.NoError(t, err)
			require.Len(t, deps, 1)
			old := deps[0].Block

			require.NoError(t, dev.Fork(common.HexToHash(parent.Hash)))
			require.Eventually(t, func() bool { // the transaction is back in the pool
				st, err := n.TxStatus(ctx, hash)
				return err == nil && st.State == chains.TxPending
			}, 5*time.Second, 10*time.Millisecond)
			if dropped {
				dev.Rollback()
			}
			dev.Mine(2)

			now, err := n.BlockAt(ctx, height)
			require.NoError(t, err)
			require.NotEqual(t, old.Hash, now.Hash, "BlockAt shows the replacement block")
			deps, err = n.Deposits(ctx, height, head(t, n), []string{to})
			require.NoError(t, err)
			st, err := n.TxStatus(ctx, hash)
			require.NoError(t, err)
			if dropped {
				require.Empty(t, deps)
				require.Equal(t, chains.TxUnknown, st.State)
				return
			}
			require.Len(t, deps, 1)
			require.Equal(t, hash, deps[0].TxHash)
			require.Equal(t, now, deps[0].Block)
			require.Equal(t, chains.TxConfirmed, st.State)
			require.Equal(t, now, st.Block)
			require.EqualValues(t, 2, st.Confirmations)
		})
	}
}

func TestErrorsFromNode(t *testing.T) {
	ctx := context.Background()
	dev, _ := newDevnet(t)
	n := dev.Network()
	_, err := n.BlockAt(ctx, head(t, n)+100)
	require.Error(t, err)
	require.True(t, errors.Is(err, ethereum.NotFound), "%v", err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = n.Deposits(canceled, 0, head(t, n), []string{dev.CustomerAddress()})
	require.ErrorIs(t, err, context.Canceled)
}
