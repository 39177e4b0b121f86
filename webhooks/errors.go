package webhooks

import (
	"errors"
	"fmt"
)

// Errors returned by the service. Match them with errors.Is; returned errors wrap them with
// detail (which merchant, which field).
var (
	// ErrNotFound: no endpoint for the merchant, or no such delivery.
	ErrNotFound = errors.New("webhooks: not found")
	// ErrInvalidURL: an endpoint URL that is not an absolute http or https URL of at most
	// 2048 bytes.
	ErrInvalidURL = errors.New("webhooks: invalid endpoint URL")
	// ErrInvalidMerchant: an empty or over-long merchant id.
	ErrInvalidMerchant = errors.New("webhooks: invalid merchant id")
	// ErrInvalidEvent: an event without a merchant or a well-formed type, data that does not
	// marshal to JSON or is too large, an over-long key; or a payload that does not decode.
	ErrInvalidEvent = errors.New("webhooks: invalid event")
	// ErrInvalidFilter: an unknown delivery status or an out-of-range page in DeliveryFilter.
	ErrInvalidFilter = errors.New("webhooks: invalid filter")
	// ErrInvalidSecret: a signing secret that is not "whsec_" (optional) followed by non-empty
	// standard base64. A receiver's configuration error, not a forged request: it does not wrap
	// ErrVerification.
	ErrInvalidSecret = errors.New("webhooks: invalid signing secret")
)

// Verification errors, returned by Verify, VerifyAt and ConstructEvent. Each wraps
// ErrVerification, so a receiver answers 400 for errors.Is(err, ErrVerification) without telling
// the cases apart.
var (
	// ErrVerification is wrapped by every error that means "this request is not an authentic,
	// fresh delivery".
	ErrVerification = errors.New("webhooks: verification failed")
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature is absent or empty.
	ErrMissingHeaders = fmt.Errorf("%w: missing webhook-id, webhook-timestamp or webhook-signature header", ErrVerification)
	// ErrInvalidSignature: no v1 signature in webhook-signature matches the payload, or the
	// timestamp is not an integer.
	ErrInvalidSignature = fmt.Errorf("%w: invalid signature", ErrVerification)
	// ErrTimestampTooOld: webhook-timestamp is more than Tolerance before now (a replay).
	ErrTimestampTooOld = fmt.Errorf("%w: timestamp too old", ErrVerification)
	// ErrTimestampTooNew: webhook-timestamp is more than Tolerance after now.
	ErrTimestampTooNew = fmt.Errorf("%w: timestamp too new", ErrVerification)
)
