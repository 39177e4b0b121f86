package testtoken_test

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/settle-go/settle/chains/evm/testtoken"
	"github.com/stretchr/testify/require"
)

func TestTestToken(t *testing.T) {
	ctx := context.Background()
	ownerKey, err := crypto.GenerateKey()
	require.NoError(t, err)
	userKey, err := crypto.GenerateKey()
	require.NoError(t, err)
	owner := crypto.PubkeyToAddress(ownerKey.PublicKey)
	user := crypto.PubkeyToAddress(userKey.PublicKey)
	eth := new(big.Int).Exp(big.NewInt(10), big.NewInt(21), nil)
	backend := simulated.NewBackend(types.GenesisAlloc{owner: {Balance: eth}, user: {Balance: eth}})
	defer backend.Close()
	client := backend.Client()
	chainID, err := client.ChainID(ctx)
	require.NoError(t, err)
	ownerAuth := bind.NewKeyedTransactor(ownerKey, chainID)
	userAuth := bind.NewKeyedTransactor(userKey, chainID)

	mined := func(tx *types.Transaction) *types.Receipt {
		t.Helper()
		backend.Commit()
		var r *types.Receipt
		// The simulated node indexes transactions in the background.
		require.Eventually(t, func() bool {
			var err error
			r, err = client.TransactionReceipt(ctx, tx.Hash())
			return err == nil
		}, 10*time.Second, 2*time.Millisecond)
		return r
	}

	addr, tx, err := testtoken.Deploy(ctx, client, ownerAuth, "Test Tether", "USDT", 6)
	require.NoError(t, err)
	require.Equal(t, types.ReceiptStatusSuccessful, mined(tx).Status)
	token, err := testtoken.Bind(addr, client)
	require.NoError(t, err)
	require.Equal(t, addr, token.Address())

	var out []any
	c := bind.NewBoundContract(addr, mustABI(t), client, client, client)
	for method, want := range map[string]any{"name": "Test Tether", "symbol": "USDT", "decimals": uint8(6), "owner": owner} {
		out = nil
		require.NoError(t, c.Call(&bind.CallOpts{Context: ctx}, &out, method))
		require.Equal(t, want, out[0], method)
	}

	tx, err = token.Mint(ctx, ownerAuth, user, big.NewInt(1_000_000))
	require.NoError(t, err)
	r := mined(tx)
	require.Equal(t, types.ReceiptStatusSuccessful, r.Status)
	require.Len(t, r.Logs, 1)
	require.Equal(t, crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)")), r.Logs[0].Topics[0])
	require.Equal(t, common.Hash{}, r.Logs[0].Topics[1], "minted from the zero address")

	// Only the owner mints: the estimate fails with the revert reason.
	_, err = token.Mint(ctx, userAuth, user, big.NewInt(1))
	require.ErrorContains(t, err, "caller is not the owner")

	tx, err = testtoken.Transfer(ctx, client, userAuth, addr, owner, big.NewInt(400_000))
	require.NoError(t, err)
	require.Equal(t, types.ReceiptStatusSuccessful, mined(tx).Status)
	bal, err := testtoken.BalanceOf(ctx, client, addr, user)
	require.NoError(t, err)
	require.EqualValues(t, 600_000, bal.Int64())
	bal, err = token.BalanceOf(ctx, owner)
	require.NoError(t, err)
	require.EqualValues(t, 400_000, bal.Int64())

	_, err = token.Transfer(ctx, userAuth, owner, big.NewInt(600_001))
	require.ErrorContains(t, err, "exceeds balance")

	// approve / transferFrom / allowance / totalSupply.
	tx, err = c.Transact(userAuth, "approve", owner, big.NewInt(100))
	require.NoError(t, err)
	require.Equal(t, types.ReceiptStatusSuccessful, mined(tx).Status)
	tx, err = c.Transact(ownerAuth, "transferFrom", user, owner, big.NewInt(60))
	require.NoError(t, err)
	require.Equal(t, types.ReceiptStatusSuccessful, mined(tx).Status)
	out = nil
	require.NoError(t, c.Call(&bind.CallOpts{Context: ctx}, &out, "allowance", user, owner))
	require.EqualValues(t, 40, out[0].(*big.Int).Int64())
	_, err = c.Transact(ownerAuth, "transferFrom", user, owner, big.NewInt(41))
	require.ErrorContains(t, err, "insufficient allowance")
	out = nil
	require.NoError(t, c.Call(&bind.CallOpts{Context: ctx}, &out, "totalSupply"))
	require.EqualValues(t, 1_000_000, out[0].(*big.Int).Int64())

	require.Contains(t, testtoken.Source, "contract TestToken")
	code, err := testtoken.Bytecode()
	require.NoError(t, err)
	require.NotEmpty(t, code)
}

func mustABI(t *testing.T) abi.ABI {
	t.Helper()
	a, err := abi.JSON(strings.NewReader(testtoken.ABI))
	require.NoError(t, err)
	return a
}
