package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/settle-go/settle/httpapi"
	"github.com/settle-go/settle/internal/testenv"
)

type envelope struct {
	Success    bool                `json:"success"`
	StatusCode int                 `json:"status_code"`
	Message    string              `json:"message"`
	Data       json.RawMessage     `json:"data"`
	Pagination *httpapi.Pagination `json:"pagination"`
	Error      string              `json:"error"`
	Code       string              `json:"code"`
	Errors     map[string][]string `json:"errors"`
}

func call(t *testing.T, h http.Handler, key, method, path, body string) (int, envelope) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var env envelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), "body: %s", rec.Body.String())
	require.Equal(t, rec.Code, env.StatusCode, "status_code must echo the HTTP status")
	require.Equal(t, rec.Code < 400, env.Success)
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	return rec.Code, env
}

func TestHealthIsPublic(t *testing.T) {
	env := testenv.New(t)
	code, e := call(t, env.Handler(), "", "GET", "/health", "")
	require.Equal(t, 200, code)
	var data map[string]any
	require.NoError(t, json.Unmarshal(e.Data, &data))
	require.Equal(t, "ok", data["status"])
}

func TestAuthentication(t *testing.T) {
	env := testenv.New(t)
	h := env.Handler()
	for _, key := range []string{"", "sk_test_wrong", "garbage", env.APIKey + "x"} {
		code, e := call(t, h, key, "GET", "/v1/payouts", "")
		require.Equal(t, 401, code, "key %q", key)
		require.Equal(t, httpapi.CodeAuthentication, e.Code)
	}
	code, _ := call(t, h, env.APIKey, "GET", "/v1/payouts", "")
	require.Equal(t, 200, code)
}

func TestPayoutValidationErrors(t *testing.T) {
	env := testenv.New(t)
	env.Fund(t, 50)
	h := env.Handler()
	ok := `"network":"EVM_LOCAL","token":"USDT","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"`
	cases := []struct {
		name, body string
		status     int
		code       string
		field      string
	}{
		{"malformed json", `{"network":`, 400, httpapi.CodeValidation, "body"},
		{"not an object", `[1,2]`, 400, httpapi.CodeValidation, ""},
		{"empty body", ``, 400, httpapi.CodeValidation, "body"},
		{"unknown field", `{` + ok + `,"amount":"1","toAddress":"x"}`, 400, httpapi.CodeValidation, "toAddress"},
		{"missing amount", `{` + ok + `}`, 400, httpapi.CodeValidation, "amount"},
		{"missing network", `{"token":"USDT","amount":"1","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"}`, 400, httpapi.CodeValidation, "network"},
		{"amount as garbage", `{` + ok + `,"amount":"ten"}`, 400, httpapi.CodeValidation, ""},
		{"amount below minimum", `{` + ok + `,"amount":0.001}`, 400, httpapi.CodeValidation, "amount"},
		{"too many decimals", `{` + ok + `,"amount":"1.0000001"}`, 400, httpapi.CodeValidation, "amount"},
		{"absurd exponent", `{` + ok + `,"amount":1e999999999}`, 400, httpapi.CodeValidation, "amount"},
		{"absurd negative exponent", `{` + ok + `,"amount":"1e-999999999"}`, 400, httpapi.CodeValidation, "amount"},
		{"beyond uint256", `{` + ok + `,"amount":"1e80"}`, 400, httpapi.CodeValidation, "amount"},
		{"unknown network", `{"network":"NOPE","token":"USDT","amount":"1","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"}`, 400, httpapi.CodeValidation, "network"},
		{"unknown token", `{"network":"EVM_LOCAL","token":"NOPE","amount":"1","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"}`, 400, httpapi.CodeValidation, "token"},
		{"invalid address", `{"network":"EVM_LOCAL","token":"USDT","amount":"1","to_address":"0x56ADfcc254ab3b8142a275c1837bcffaff5aa38b"}`, 422, httpapi.CodeValidation, "to_address"},
		{"insufficient balance", `{` + ok + `,"amount":"50.01"}`, 400, httpapi.CodeInsufficientBalance, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, e := call(t, h, env.APIKey, "POST", "/v1/payouts", c.body)
			require.Equal(t, c.status, code, "%s", e.Message)
			require.Equal(t, c.code, e.Code)
			require.NotEmpty(t, e.Error)
			if c.field != "" {
				require.Contains(t, e.Errors, c.field, "errors should name the field")
			}
		})
	}
	_, list := call(t, h, env.APIKey, "GET", "/v1/payouts", "")
	require.JSONEq(t, `[]`, string(list.Data), "a refused request wrote a payout")
}

func TestCollectionPayoutBalancesAndTransactions(t *testing.T) {
	env := testenv.New(t, evmtest.WithHotWalletTokens(testenv.Units(1000)))
	h := env.Handler()

	code, e := call(t, h, env.APIKey, "POST", "/v1/collections", `{"network":"EVM_LOCAL","token":"USDT","amount":"30","ttl_minutes":30,"reference":"order-7"}`)
	require.Equal(t, 201, code, e.Message)
	var col struct {
		ID, Address, Status, Amount string
	}
	require.NoError(t, json.Unmarshal(e.Data, &col))
	require.Equal(t, "CREATED", col.Status)
	require.Equal(t, "30", col.Amount)

	_, err := env.Chain.CustomerPay(t.Context(), "USDT", col.Address, testenv.Units(30))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(t.Context()))
	_, e = call(t, h, env.APIKey, "GET", "/v1/collections/"+col.ID, "")
	require.NoError(t, json.Unmarshal(e.Data, &col))
	require.Equal(t, "SUCCESSFUL", col.Status)

	code, e = call(t, h, env.APIKey, "POST", "/v1/payouts", `{"network":"EVM_LOCAL","token":"USDT","amount":12.5,"to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b","merchant_reference":"p-1"}`)
	require.Equal(t, 201, code, e.Message)
	var pay struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		BalanceBefore string `json:"balance_before"`
		BalanceAfter  string `json:"balance_after"`
	}
	require.NoError(t, json.Unmarshal(e.Data, &pay))
	require.Equal(t, "PENDING", pay.Status)
	require.Equal(t, "30", pay.BalanceBefore)
	require.Equal(t, "17.5", pay.BalanceAfter)

	_, e = call(t, h, env.APIKey, "GET", "/v1/balances", "")
	var bals []httpapi.BalanceView
	require.NoError(t, json.Unmarshal(e.Data, &bals))
	require.Len(t, bals, 1)
	require.Equal(t, "30", bals[0].Posted.String())
	require.Equal(t, "12.5", bals[0].Held.String())
	require.Equal(t, "17.5", bals[0].Available.String())

	// Paginate the merchant's postings one at a time with the cursor.
	var seen []httpapi.TransactionView
	path := "/v1/transactions?limit=1"
	for range 10 {
		_, e = call(t, h, env.APIKey, "GET", path, "")
		var page []httpapi.TransactionView
		require.NoError(t, json.Unmarshal(e.Data, &page))
		seen = append(seen, page...)
		if e.Pagination.NextCursor == "" {
			break
		}
		path = "/v1/transactions?limit=1&cursor=" + e.Pagination.NextCursor
	}
	require.Len(t, seen, 1, "one posting on the merchant's accounts: the collection's credit")
	require.Equal(t, "0", seen[0].BalanceBefore.String())
	require.Equal(t, "30", seen[0].BalanceAfter.String())

	code, e = call(t, h, env.APIKey, "GET", "/v1/payouts/pay_doesnotexist", "")
	require.Equal(t, 404, code)
	require.Equal(t, httpapi.CodeNotFound, e.Code)
}

// FuzzCreatePayout: whatever the body, the API answers with its envelope and never a 500.
func FuzzCreatePayout(f *testing.F) {
	for _, s := range []string{`{}`, `{"amount":1e400}`, `{"amount":"NaN"}`, `{"amount":-0}`, `null`, `"x"`, `{"network":"EVM_LOCAL","token":"USDT","amount":"1","to_address":"0x0"}`, "\x00", `{"amount":99999999999999999999999999999999999999999999999999999999999999999999999999999999}`, `{"network":"EVM_LOCAL","token":"USDT","amount":2e999999999,"to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"}`} {
		f.Add([]byte(s))
	}
	env := testenv.New(f)
	h := env.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/payouts", bytes.NewReader(body))
		req.Header.Set("X-API-Key", env.APIKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body.String())
		}
		var e envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("body %q: response is not the envelope: %v", body, err)
		}
	})
}
