package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	settle "github.com/settle-go/settle"
	"github.com/settle-go/settle/merchants"
)

// The API is a plain http.Handler: mount it under any router (here a ServeMux with a prefix) and
// call it with an API key.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "settle-httpapi-")
	defer os.RemoveAll(dir)
	st, err := settle.Open(ctx, settle.Config{DSN: "sqlite:" + filepath.Join(dir, "settle.db"), APIPrefix: "/payments"})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	m, _ := st.Merchants.Create(ctx, "Example Store")
	_, key, _ := st.Merchants.CreateAPIKey(ctx, m.ID, merchants.Live)

	mux := http.NewServeMux()
	mux.Handle("/payments/", st.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/payments/v1/payouts",
		bytes.NewReader([]byte(`{"network":"MATIC_MAINNET","token":"USDT","amount":"1","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b"}`)))
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode)
	fmt.Print(string(body))
	// Output:
	// 400
	// {"success":false,"status_code":400,"message":"network: unknown network \"MATIC_MAINNET\"","error":"network: unknown network \"MATIC_MAINNET\"","code":"validation_error","errors":{"network":["unknown network \"MATIC_MAINNET\""]}}
}
