package evm_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/stretchr/testify/require"
)

// legacyClient hides the base fee, as a pre-London chain would.
type legacyClient struct{ evm.Client }

func (c legacyClient) HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error) {
	h, err := c.Client.HeaderByNumber(ctx, number)
	if err != nil || number != nil {
		return h, err
	}
	cp := types.CopyHeader(h)
	cp.BaseFee = nil
	return cp, nil
}

func TestLegacyTransaction(t *testing.T) {
	ctx := context.Background()
	dev, signer := newDevnet(t)
	n, err := evm.New(ctx, evm.Config{ID: chains.EVMLocal, Client: legacyClient{dev.Client()}, Assets: dev.Assets(), Signer: signer})
	require.NoError(t, err)
	stx, err := n.SignTransfer(ctx, chains.TransferRequest{To: dev.CustomerAddress(), Asset: asset(t, n, "ETH"), Amount: big.NewInt(7)})
	require.NoError(t, err)
	var tx types.Transaction
	require.NoError(t, tx.UnmarshalBinary(stx.Raw))
	require.Equal(t, uint8(types.LegacyTxType), tx.Type())
	require.True(t, tx.Protected(), "EIP-155 replay protection")
	require.Equal(t, new(big.Int).Mul(big.NewInt(evm.NativeTransferGas), tx.GasPrice()), stx.Fee)
	require.NoError(t, n.Broadcast(ctx, stx))
	dev.Commit()
	st, err := n.TxStatus(ctx, stx.Hash)
	require.NoError(t, err)
	require.Equal(t, chains.TxConfirmed, st.State)
}

// movedLogs reports logs in another block than the one the block walk fetched, as a node does
// when a reorg happens between the two queries.
type movedLogs struct{ evm.Client }

func (c movedLogs) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	logs, err := c.Client.FilterLogs(ctx, q)
	for i := range logs {
		logs[i].BlockHash = common.Hash{0xee}
	}
	return logs, err
}

// removedLogs marks every log removed.
type removedLogs struct{ evm.Client }

func (c removedLogs) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	logs, err := c.Client.FilterLogs(ctx, q)
	for i := range logs {
		logs[i].Removed = true
	}
	return logs, err
}

func TestDepositsReorgDuringScanAndRemovedLogs(t *testing.T) {
	ctx := context.Background()
	dev, signer := newDevnet(t)
	to, err := dev.Network().DeriveAddress(ctx, 1)
	require.NoError(t, err)
	_, err = dev.CustomerPay(ctx, "USDT", to, usdt(1))
	require.NoError(t, err)
	dev.Commit()
	h := head(t, dev.Network())

	n, err := evm.New(ctx, evm.Config{ID: chains.EVMLocal, Client: movedLogs{dev.Client()}, Assets: dev.Assets(), Signer: signer})
	require.NoError(t, err)
	_, err = n.Deposits(ctx, h, h, []string{to})
	require.ErrorIs(t, err, evm.ErrReorged)

	n, err = evm.New(ctx, evm.Config{ID: chains.EVMLocal, Client: removedLogs{dev.Client()}, Assets: dev.Assets(), Signer: signer})
	require.NoError(t, err)
	deps, err := n.Deposits(ctx, h, h, []string{to})
	require.NoError(t, err)
	require.Empty(t, deps)
}
