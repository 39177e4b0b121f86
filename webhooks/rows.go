package webhooks

import (
	"time"

	"github.com/uptrace/bun"
)

// Row types: the tables as bun models. The exported types are built from them.

type endpointRow struct {
	bun.BaseModel `bun:"table:webhook_endpoints"`

	MerchantID              string    `bun:"merchant_id,pk"`
	URL                     string    `bun:"url"`
	Secret                  string    `bun:"secret"`
	PreviousSecret          string    `bun:"previous_secret,nullzero"`
	PreviousSecretExpiresAt time.Time `bun:"previous_secret_expires_at,nullzero"`
	CreatedAt               time.Time `bun:"created_at"`
	UpdatedAt               time.Time `bun:"updated_at"`
}

func (r endpointRow) endpoint() Endpoint {
	return Endpoint{MerchantID: r.MerchantID, URL: r.URL, Secret: r.Secret, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type eventRow struct {
	bun.BaseModel `bun:"table:webhook_events"`

	ID         string    `bun:"id,pk"`
	MerchantID string    `bun:"merchant_id"`
	Type       string    `bun:"type"`
	Data       string    `bun:"data"`
	DedupKey   string    `bun:"dedup_key,nullzero"`
	CreatedAt  time.Time `bun:"created_at"`
}

func (r eventRow) event() Event {
	return Event{ID: r.ID, MerchantID: r.MerchantID, Type: r.Type, Data: []byte(r.Data), CreatedAt: r.CreatedAt.UTC()}
}

type deliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	ID             string    `bun:"id,pk"`
	EventID        string    `bun:"event_id"`
	MerchantID     string    `bun:"merchant_id"`
	EventType      string    `bun:"event_type"`
	Status         string    `bun:"status"`
	Attempts       int       `bun:"attempts"`
	NextAttemptAt  time.Time `bun:"next_attempt_at"`
	LeaseToken     string    `bun:"lease_token,nullzero"`
	LastAttemptAt  time.Time `bun:"last_attempt_at,nullzero"`
	LastStatusCode int       `bun:"last_status_code,nullzero"`
	LastError      string    `bun:"last_error,nullzero"`
	DeliveredAt    time.Time `bun:"delivered_at,nullzero"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

func (r deliveryRow) delivery() Delivery {
	return Delivery{
		ID: r.ID, EventID: r.EventID, MerchantID: r.MerchantID, EventType: r.EventType,
		Status: r.Status, Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.UTC(),
		LastAttemptAt: optTime(r.LastAttemptAt), LastStatusCode: r.LastStatusCode,
		LastError: r.LastError, DeliveredAt: optTime(r.DeliveredAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type attemptRow struct {
	bun.BaseModel `bun:"table:webhook_attempts"`

	ID           string    `bun:"id,pk"`
	DeliveryID   string    `bun:"delivery_id"`
	Number       int       `bun:"number"`
	URL          string    `bun:"url"`
	AttemptedAt  time.Time `bun:"attempted_at"`
	StatusCode   int       `bun:"status_code,nullzero"`
	DurationMS   int64     `bun:"duration_ms"`
	Error        string    `bun:"error,nullzero"`
	ResponseBody string    `bun:"response_body,nullzero"`
}

func (r attemptRow) attempt() Attempt {
	return Attempt{
		ID: r.ID, DeliveryID: r.DeliveryID, Number: r.Number, URL: r.URL,
		AttemptedAt: r.AttemptedAt.UTC(), StatusCode: r.StatusCode, DurationMS: r.DurationMS,
		Error: r.Error, ResponseBody: r.ResponseBody,
	}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
