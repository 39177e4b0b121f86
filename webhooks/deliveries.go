package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Delivery statuses.
const (
	// StatusPending: not yet delivered; due at NextAttemptAt (first attempt, or a retry).
	StatusPending = "pending"
	// StatusSuccess: the endpoint answered 2xx.
	StatusSuccess = "success"
	// StatusFailed: MaxAttempts attempts failed; no more are made.
	StatusFailed = "failed"
)

// Paging of Deliveries.
const (
	// DefaultPageLimit is the page size when DeliveryFilter.Limit is 0.
	DefaultPageLimit = 20
	// MaxPageLimit is the largest page size; larger limits are lowered to it.
	MaxPageLimit = 100
	maxPage      = 1_000_000
)

// Delivery is the delivery of one event to its merchant's endpoint: one per event.
type Delivery struct {
	ID         string // "dlv_" + 32 hex digits
	EventID    string
	MerchantID string
	EventType  string
	// Status is StatusPending, StatusSuccess or StatusFailed.
	Status string
	// Attempts is the number of attempts recorded so far.
	Attempts int
	// NextAttemptAt is when a pending delivery is due; while an attempt is in flight it is the
	// end of that attempt's lease.
	NextAttemptAt time.Time
	// LastAttemptAt is the time of the latest attempt, nil before the first.
	LastAttemptAt *time.Time
	// LastStatusCode is the HTTP status of the latest attempt, 0 if none or if no response came.
	LastStatusCode int
	// LastError describes why the latest attempt failed ("" after a success), or why a delivery
	// is waiting ("no webhook endpoint").
	LastError string
	// DeliveredAt is when the endpoint answered 2xx, nil until then.
	DeliveredAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Attempt is one POST of a delivery.
type Attempt struct {
	ID          string // "att_" + 32 hex digits
	DeliveryID  string
	Number      int    // 1 for the first attempt
	URL         string // the endpoint URL at the time
	AttemptedAt time.Time
	// StatusCode is the HTTP status; 0 if no response came (network error, timeout).
	StatusCode int
	// DurationMS is the request's wall time in milliseconds, response body read included.
	DurationMS int64
	// Error is why the attempt failed: a network error or "unexpected status 500"; "" on success.
	Error string
	// ResponseBody is the first 1 KiB of the response body, as valid UTF-8.
	ResponseBody string
}

// DeliveryFilter selects deliveries. Empty fields do not filter: an API answering one merchant
// must set MerchantID.
type DeliveryFilter struct {
	MerchantID string
	// Status is "", StatusPending, StatusSuccess or StatusFailed.
	Status  string
	EventID string
	// Page is 1-based; 0 means 1.
	Page int
	// Limit is the page size; 0 means DefaultPageLimit, more than MaxPageLimit means
	// MaxPageLimit.
	Limit int
}

// Stats counts a merchant's deliveries by status.
type Stats struct {
	Total   int
	Success int
	Failed  int
	Pending int
	// SuccessRate is Success/Total as a percentage with one decimal, rounded half up, such as
	// "96.0"; "0.0" when there are no deliveries. A string so that it stays exact.
	SuccessRate string
}

// Deliveries returns one page of the deliveries that match f, newest first, and the number of
// all that match. Errors: ErrInvalidFilter for an unknown status or a page beyond 1,000,000.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, int, error) {
	switch f.Status {
	case "", StatusPending, StatusSuccess, StatusFailed:
	default:
		return nil, 0, fmt.Errorf("%w: status %q (want pending, success or failed)", ErrInvalidFilter, f.Status)
	}
	if f.Page > maxPage {
		return nil, 0, fmt.Errorf("%w: page %d beyond %d", ErrInvalidFilter, f.Page, maxPage)
	}
	page := max(f.Page, 1)
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPageLimit
	}
	limit = min(limit, MaxPageLimit)

	var rows []deliveryRow
	q := s.db.NewSelect().Model(&rows)
	if f.MerchantID != "" {
		q = q.Where("merchant_id = ?", f.MerchantID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.EventID != "" {
		q = q.Where("event_id = ?", f.EventID)
	}
	total, err := q.OrderExpr("created_at DESC, id DESC").Limit(int64(limit)).Offset(int64((page - 1) * limit)).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("webhooks: list deliveries: %w", err)
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, int(total), nil
}

// Delivery returns one delivery, whatever its merchant: an API answering one merchant checks
// Delivery.MerchantID before showing it or its Attempts. Errors: ErrNotFound.
func (s *Service) Delivery(ctx context.Context, id string) (Delivery, error) {
	var r deliveryRow
	err := s.db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("%w: delivery %q", ErrNotFound, id)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("webhooks: delivery %s: %w", id, err)
	}
	return r.delivery(), nil
}

// Attempts returns every attempt of a delivery, first to last. Errors: ErrNotFound if there is no
// such delivery.
func (s *Service) Attempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	var rows []attemptRow
	if err := s.db.NewSelect().Model(&rows).Where("delivery_id = ?", deliveryID).Order("number").Scan(ctx); err != nil {
		return nil, fmt.Errorf("webhooks: attempts of %s: %w", deliveryID, err)
	}
	if len(rows) == 0 {
		if _, err := s.Delivery(ctx, deliveryID); err != nil {
			return nil, err
		}
	}
	out := make([]Attempt, len(rows))
	for i, r := range rows {
		out[i] = r.attempt()
	}
	return out, nil
}

// Stats counts the merchant's deliveries by status; merchantID "" counts every merchant's.
func (s *Service) Stats(ctx context.Context, merchantID string) (Stats, error) {
	var counts []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	q := s.db.NewSelect().Model((*deliveryRow)(nil)).Column("status").ColumnExpr("COUNT(*) AS n").Group("status")
	if merchantID != "" {
		q = q.Where("merchant_id = ?", merchantID)
	}
	if err := q.Scan(ctx, &counts); err != nil {
		return Stats{}, fmt.Errorf("webhooks: stats of %s: %w", merchantID, err)
	}
	var st Stats
	for _, c := range counts {
		switch c.Status {
		case StatusSuccess:
			st.Success = c.N
		case StatusFailed:
			st.Failed = c.N
		case StatusPending:
			st.Pending = c.N
		}
		st.Total += c.N
	}
	st.SuccessRate = percent(st.Success, st.Total)
	return st, nil
}

// percent formats part/whole·100 with one decimal, rounded half up, in integer arithmetic.
func percent(part, whole int) string {
	if whole <= 0 {
		return "0.0"
	}
	tenths := (int64(part)*2000 + int64(whole)) / (2 * int64(whole))
	return fmt.Sprintf("%d.%d", tenths/10, tenths%10)
}
