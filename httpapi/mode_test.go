package httpapi_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/httpapi"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/merchants"
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
