package httpapi

import (
	"errors"
	"net/http"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/internal/fielderr"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/merchants"
	"github.com/settle-go/settle/payouts"
)

// toAPIError maps a library error to its HTTP status and error code. Unknown errors become a 500
// whose message reveals nothing; the caller logs the original.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var fe *fielderr.Error // every flow's ValidationError
	switch {
	case errors.As(err, &fe):
		e := validation(fe.Field, fe.Message)
		if errors.Is(err, chains.ErrInvalidAddress) {
			e.Status = http.StatusUnprocessableEntity
		}
		return e
	case errors.Is(err, payouts.ErrInsufficientBalance), errors.Is(err, ledger.ErrInsufficientFunds):
		return &apiError{Status: http.StatusBadRequest, Code: CodeInsufficientBalance, Message: "Insufficient balance"}
	case errors.Is(err, ledger.ErrInvalidAmount):
		return validation("amount", "is not a valid amount for this token")
	case errors.Is(err, payouts.ErrReferenceConflict):
		return &apiError{Status: http.StatusConflict, Code: CodeConflict, Message: "merchant_reference was already used for a different payout"}
	case errors.Is(err, ledger.ErrIdempotencyConflict):
		return &apiError{Status: http.StatusConflict, Code: CodeConflict, Message: "the request repeats an earlier one with different content"}
	case errors.Is(err, payouts.ErrNotFound), errors.Is(err, collections.ErrNotFound), errors.Is(err, ledger.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Message: "Resource not found"}
	case errors.Is(err, merchants.ErrInvalidAPIKey):
		return &apiError{Status: http.StatusUnauthorized, Code: CodeAuthentication, Message: "Invalid or missing API key"}
	default:
		return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "Internal server error"}
	}
}
