package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/httpapi"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/merchants"
	"github.com/settle-go/settle/payouts"
)

// mainnet stands for a network whose coins have value; the requests in this test are refused
// before any of its chain calls.
type mainnet struct{}

func (mainnet) ID() chains.NetworkID { return chains.PolygonMainnet }
func (mainnet) Assets() []chains.Asset {
	return evm.PolygonAssets()
}
func (mainnet) ValidateAddress(a string) error { return evm.ValidateAddress(chains.PolygonMainnet, a) }
func (mainnet) HotWallet(context.Context) (string, error) {
	return "", errors.New("not for this test")
}
func (mainnet) SignTransfer(context.Context, chains.TransferRequest) (*chains.SignedTx, error) {
	return nil, errors.New("not for this test")
}
func (mainnet) Broadcast(context.Context, *chains.SignedTx) error {
	return errors.New("not for this test")
}
func (mainnet) TxStatus(context.Context, string) (chains.TxStatus, error) {
	return chains.TxStatus{}, errors.New("not for this test")
}
func (mainnet) Balance(context.Context, string, chains.Asset) (*big.Int, error) {
	return nil, errors.New("not for this test")
}

// TestTestKeysCannotTouchMainnets: a test-mode key is refused on a mainnet with permission_error;
// a live key gets past that check.
func TestTestKeysCannotTouchMainnets(t *testing.T) {
	env := testenv.New(t)
	h, err := httpapi.New(httpapi.Config{
		Merchants: env.Merchants, Ledger: env.Ledger, Collections: env.Collections, Payouts: env.Payouts,
		Chains: chains.NewRegistry(env.Network, mainnet{}),
	})
	require.NoError(t, err)
	_, live, err := env.Merchants.CreateAPIKey(context.Background(), env.Merchant.ID, merchants.Live)
	require.NoError(t, err)
	body := `{"network":"MATIC_MAINNET","token":"USDT","amount":"1","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"}`
	for _, path := range []string{"/v1/payouts", "/v1/collections"} {
		b := body
		if path == "/v1/collections" {
			b = `{"network":"MATIC_MAINNET","token":"USDT","amount":"1"}`
		}
		code, e := call(t, h, env.APIKey, "POST", path, b)
		require.Equal(t, 403, code, path)
		require.Equal(t, httpapi.CodePermission, e.Code)
		code, e = call(t, h, live, "POST", path, b)
		require.NotEqual(t, 403, code, "%s: %s", path, e.Message)
	}
}

// recordingMainnet is mainnet with a hot wallet, recording the transfers the payout processor asks
// it to sign.
type recordingMainnet struct {
	mainnet
	mu     sync.Mutex
	signed []chains.TransferRequest
}

func (*recordingMainnet) HotWallet(context.Context) (string, error) {
	return "0x1111111111111111111111111111111111111111", nil
}
func (m *recordingMainnet) SignTransfer(_ context.Context, req chains.TransferRequest) (*chains.SignedTx, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.signed = append(m.signed, req)
	return nil, errors.New("test fake: not signing for real")
}

// TestTestnetDepositsNeverFundMainnetPayouts: testnet USDT, worthless, paid into a collection on a
// test network, credits the merchant's test account (ledger.MerchantTestAPI); a live key's payout
// of real USDT on a mainnet spends the live account only, and is refused with insufficient_balance.
// Before the fix both modes shared merchant:<id>:api:USDT, and the payout was accepted and signed
// (found by review). Balances, transactions and collections show each key its own mode only.
func TestTestnetDepositsNeverFundMainnetPayouts(t *testing.T) {
	env := testenv.New(t) // env.APIKey is a test-mode key; EVM_LOCAL is a test network
	ctx := context.Background()
	main := &recordingMainnet{}
	reg := chains.NewRegistry(env.Network, main)
	pay, err := payouts.New(env.DB, payouts.Config{Ledger: env.Ledger, Chains: reg, Webhooks: env.Webhooks})
	require.NoError(t, err)
	h, err := httpapi.New(httpapi.Config{Merchants: env.Merchants, Ledger: env.Ledger, Collections: env.Collections, Payouts: pay, Chains: reg})
	require.NoError(t, err)
	_, live, err := env.Merchants.CreateAPIKey(ctx, env.Merchant.ID, merchants.Live)
	require.NoError(t, err)

	// Test mode: a testnet collection paid with testnet USDT.
	code, e := call(t, h, env.APIKey, "POST", "/v1/collections", `{"network":"EVM_LOCAL","token":"USDT","amount":"100"}`)
	require.Equal(t, 201, code, e.Message)
	var col struct{ Address string }
	require.NoError(t, json.Unmarshal(e.Data, &col))
	first := e.Data
	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(100))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))

	// Live mode: a mainnet payout of real USDT.
	code, e = call(t, h, live, "POST", "/v1/payouts", `{"network":"MATIC_MAINNET","token":"USDT","amount":"100","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"}`)
	_ = pay.Process(ctx)
	main.mu.Lock()
	n := len(main.signed)
	main.mu.Unlock()
	t.Logf("mainnet payout: HTTP %d %s %s; mainnet transfers the processor asked to sign: %d", code, e.Code, e.Message, n)
	require.Equal(t, 400, code, "a mainnet payout funded only by testnet tokens was accepted")
	require.Equal(t, httpapi.CodeInsufficientBalance, e.Code)
	require.Zero(t, n)

	// Each key sees its own mode: the test key the 100 test USDT, the live key nothing.
	var bals []httpapi.BalanceView
	code, e = call(t, h, env.APIKey, "GET", "/v1/balances", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(e.Data, &bals))
	require.Len(t, bals, 1)
	require.Equal(t, "100", bals[0].Posted.String())
	code, e = call(t, h, live, "GET", "/v1/balances", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(e.Data, &bals))
	require.Empty(t, bals)
	var txs []httpapi.TransactionView
	code, e = call(t, h, env.APIKey, "GET", "/v1/transactions", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(e.Data, &txs))
	require.Len(t, txs, 1)
	require.Equal(t, ledger.MerchantTestAPI(env.Merchant.ID, "USDT").Code, txs[0].Account)
	code, e = call(t, h, live, "GET", "/v1/transactions", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(e.Data, &txs))
	require.Empty(t, txs)

	// The test collection is the test key's only: the live key neither lists nor gets it.
	var cols []json.RawMessage
	code, e = call(t, h, env.APIKey, "GET", "/v1/collections", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(e.Data, &cols))
	require.Len(t, cols, 1)
	code, e = call(t, h, live, "GET", "/v1/collections", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(e.Data, &cols))
	require.Empty(t, cols)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal(first, &created))
	code, e = call(t, h, live, "GET", "/v1/collections/"+created.ID, "")
	require.Equal(t, 404, code, e.Message)
	code, _ = call(t, h, env.APIKey, "GET", "/v1/collections/"+created.ID, "")
	require.Equal(t, 200, code)

	// A live key cannot use a test network at all.
	code, e = call(t, h, live, "POST", "/v1/collections", `{"network":"EVM_LOCAL","token":"USDT","amount":"1"}`)
	require.Equal(t, 403, code, e.Message)
	require.Equal(t, httpapi.CodePermission, e.Code)
}
