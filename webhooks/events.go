package webhooks

import (
	"encoding/json"
	"time"
)

// Event types. An event's type is also sent in the settle-event header.
const (
	// EventCollectionCreated: a single-use collection address was created (seed 000, CREATED).
	EventCollectionCreated = "collection.created"
	// EventCollectionSuccessful: a collection received its amount with enough confirmations.
	EventCollectionSuccessful = "collection.successful"
	// EventCollectionFailed: a collection expired unpaid.
	EventCollectionFailed = "collection.failed"
	// EventPayoutSuccessful: a payout is confirmed on chain (seed 001, PAYOUT_SUCCESSFUL).
	EventPayoutSuccessful = "payout.successful"
	// EventPayoutFailed: a payout failed and its hold was released.
	EventPayoutFailed = "payout.failed"
	// EventInvoiceMempoolDetected: a payment for an invoice was seen unconfirmed (seed 002).
	EventInvoiceMempoolDetected = "invoice.mempool_detected"
	// EventInvoiceConfirming: an invoice's payment is gathering confirmations.
	EventInvoiceConfirming = "invoice.confirming"
	// EventInvoiceConfirmed: an invoice's payment reached the required confirmations.
	EventInvoiceConfirmed = "invoice.confirmed"
	// EventInvoiceExpired: an invoice timed out or was cancelled.
	EventInvoiceExpired = "invoice.expired"
	// EventInvoiceFailed: an invoice went unpaid.
	EventInvoiceFailed = "invoice.failed"
	// EventInvoicePartiallyPaid: less than an invoice's amount arrived.
	EventInvoicePartiallyPaid = "invoice.partially_paid"
	// EventInvoiceOverpaid: more than an invoice's amount arrived.
	EventInvoiceOverpaid = "invoice.overpaid"
	// EventWebhookTest: a test delivery the merchant asked for.
	EventWebhookTest = "webhook.test"
)

// Limits on EventInput.
const (
	// MaxDataBytes is the largest marshalled Data accepted by EnqueueTx: 256 KiB.
	MaxDataBytes = 256 << 10
	// MaxKeyLength is the longest dedup key, in bytes.
	MaxKeyLength  = 255
	maxTypeLength = 100
	maxIDLength   = 255
)

// EventInput is an event to enqueue.
type EventInput struct {
	// MerchantID is the merchant whose endpoint receives the event. Required.
	MerchantID string
	// Type is one of the Event… constants, or another lower-case dotted name of at most 100
	// bytes ([a-z0-9_.]). Required.
	Type string
	// Data is marshalled to JSON with encoding/json and sent as the body's "data" field. nil
	// sends {}. At most MaxDataBytes once marshalled.
	Data any
	// Key, if not empty, deduplicates: the same (MerchantID, Key) enqueues once, and a repeat
	// returns the first event unchanged. Use it for events a retried flow might emit twice, such
	// as "payout.successful:" + payout id. At most MaxKeyLength bytes.
	Key string
}

// Event is an enqueued event, and the body of its deliveries:
//
//	{"id":"evt_…","type":"payout.successful","created_at":"2026-05-16T12:00:00.123456Z",
//	 "merchant_id":"mch_…","data":{…}}
type Event struct {
	// ID is "evt_" + 32 hex digits; it is also the webhook-id header of every delivery attempt,
	// the receiver's deduplication key.
	ID         string `json:"id"`
	MerchantID string `json:"merchant_id"`
	Type       string `json:"type"`
	// Data is the event's payload, as marshalled at enqueue time.
	Data json.RawMessage `json:"data"`
	// CreatedAt is the enqueue time, UTC, to the microsecond; RFC 3339 in the body.
	CreatedAt time.Time `json:"created_at"`
}

// payload fixes the order of the body's fields: id, type, created_at, merchant_id, data.
type payload struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	CreatedAt  time.Time       `json:"created_at"`
	MerchantID string          `json:"merchant_id"`
	Data       json.RawMessage `json:"data"`
}

// body is the exact JSON posted for e. It is the same bytes on every attempt.
func (e Event) body() ([]byte, error) {
	return json.Marshal(payload{ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt.UTC(), MerchantID: e.MerchantID, Data: e.Data})
}

func validType(t string) bool {
	if t == "" || len(t) > maxTypeLength {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
