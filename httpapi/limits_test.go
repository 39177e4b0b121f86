package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/httpapi"
	"github.com/settle-go/settle/internal/testenv"
)

// TestUnstorableTextIsAValidationError: metadata too large for the webhook events, and a NUL in a
// reference (valid JSON, "\u0000", that no database column takes), are 400 validation_error
// naming the field, not 500 (found by review).
func TestUnstorableTextIsAValidationError(t *testing.T) {
	env := testenv.New(t)
	h := env.Handler()
	for _, tc := range []struct {
		path, body, field string
	}{
		{"/v1/collections", fmt.Sprintf(`{"network":"EVM_LOCAL","token":"USDT","amount":"10","metadata":{"note":%q}}`, strings.Repeat("a", 300<<10)), "metadata"},
		{"/v1/collections", `{"network":"EVM_LOCAL","token":"USDT","amount":"10","reference":"a\u0000b"}`, "reference"},
		{"/v1/collections", `{"network":"EVM_LOCAL","token":"USDT","amount":"10","metadata":{"k":"a\u0000b"}}`, "metadata"},
		{"/v1/payouts", `{"network":"EVM_LOCAL","token":"USDT","amount":"1","to_address":"0x56adfcc254ab3b8142a275c1837bcffaff5aa38b","merchant_reference":"a\u0000b"}`, "merchant_reference"},
	} {
		code, e := call(t, h, env.APIKey, "POST", tc.path, tc.body)
		require.Equal(t, 400, code, "%s %s: %s %s", tc.path, tc.field, e.Code, e.Message)
		require.Equal(t, httpapi.CodeValidation, e.Code)
		require.Contains(t, e.Errors, tc.field, e.Message)
	}
}
