package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/ids"
)

// UserAgent is the User-Agent header of every delivery.
const UserAgent = "settle-webhooks/1 (+https://github.com/settle-go/settle)"

const (
	// maxLoggedResponse is how much of a response body an attempt keeps.
	maxLoggedResponse = 1 << 10
	// maxDrainedResponse is how much more of a response is read, unkept, so that the connection
	// can be reused.
	maxDrainedResponse = 64 << 10
	// writeTimeout bounds the bookkeeping writes made after a request, which run even when the
	// pass's context has been cancelled, so that a finished attempt is not forgotten.
	writeTimeout    = 10 * time.Second
	noEndpointError = "no webhook endpoint"
)

var errLeaseLost = errors.New("webhooks: lease lost")

// job is a claimed delivery with what posting it needs.
type job struct {
	ID                      string    `bun:"id"`
	Attempts                int       `bun:"attempts"`
	EventID                 string    `bun:"event_id"`
	MerchantID              string    `bun:"merchant_id"`
	Type                    string    `bun:"type"`
	Data                    string    `bun:"data"`
	CreatedAt               time.Time `bun:"created_at"`
	URL                     string    `bun:"url"` // "" if the merchant has no endpoint
	Secret                  string    `bun:"secret"`
	PreviousSecret          string    `bun:"previous_secret"`
	PreviousSecretExpiresAt time.Time `bun:"previous_secret_expires_at"`
}

// outcome is the result of one POST.
type outcome struct {
	start      time.Time // from the configured clock
	statusCode int       // 0 if no response
	err        error     // nil exactly on a 2xx
	body       string
	duration   time.Duration
}

// DeliverDue makes one pass: it claims up to BatchSize due deliveries, POSTs them concurrently and
// records each attempt. It returns how many were delivered (answered 2xx). Failed attempts are
// not errors, they are recorded and retried; err reports database failures, and a delivery whose
// result could not be recorded is retried after its lease.
func (s *Service) DeliverDue(ctx context.Context) (delivered int, err error) {
	_, delivered, err = s.pass(ctx)
	return delivered, err
}

// Run calls DeliverDue until ctx is done: again at once after a full batch, otherwise after
// PollInterval. Errors of a pass are logged and the loop goes on. It returns nil when ctx is done;
// attempts in flight are then abandoned without being counted and are retried by the next
// dispatcher to run.
func (s *Service) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		claimed, _, err := s.pass(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "webhooks: delivery pass failed", "err", err)
		}
		wait := s.cfg.PollInterval
		if claimed == s.cfg.BatchSize && err == nil {
			wait = 0
		}
		timer.Reset(wait)
	}
}

// pass claims due deliveries and delivers them; it reports how many it claimed and delivered.
func (s *Service) pass(ctx context.Context) (claimed, delivered int, err error) {
	token, jobs, err := s.claim(ctx)
	if err != nil {
		return 0, 0, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		ok   atomic.Int64
	)
	for _, j := range jobs {
		wg.Go(func() {
			success, err := s.deliver(ctx, token, j)
			if success {
				ok.Add(1)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("delivery %s: %w", j.ID, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(jobs), int(ok.Load()), errors.Join(errs...)
}

// claim leases up to BatchSize due deliveries in one short transaction: it selects them (skipping
// rows another dispatcher has locked, on PostgreSQL) and pushes their next_attempt_at past the
// time their requests can take, tagging them with a fresh lease token. Only the holder of the
// token records their results.
func (s *Service) claim(ctx context.Context) (string, []job, error) {
	now := s.now()
	token := ids.New("lease")
	lock := "" // SQLite: the transaction holds the database's write lock from its start
	if database.IsPostgres(s.db) {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	var jobs []job
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewRaw(`SELECT d.id, d.attempts, e.id AS event_id, e.merchant_id, e.type, e.data, e.created_at,
				ep.url, ep.secret, ep.previous_secret, ep.previous_secret_expires_at
			FROM webhook_deliveries AS d
			JOIN webhook_events AS e ON e.id = d.event_id
			LEFT JOIN webhook_endpoints AS ep ON ep.merchant_id = d.merchant_id
			WHERE d.status = ? AND d.next_attempt_at <= ?
			ORDER BY d.next_attempt_at, d.id
			LIMIT ?`+lock, StatusPending, now, s.cfg.BatchSize).Scan(ctx, &jobs)
		if err != nil || len(jobs) == 0 {
			return err
		}
		keys := make([]string, len(jobs))
		for i, j := range jobs {
			keys[i] = j.ID
		}
		_, err = tx.NewUpdate().Model((*deliveryRow)(nil)).
			Set("next_attempt_at = ?", now.Add(s.cfg.lease())).Set("lease_token = ?", token).Set("updated_at = ?", now).
			Where("id IN (?)", bun.In(keys)).Exec(ctx)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("webhooks: claim deliveries: %w", err)
	}
	return token, jobs, nil
}

// deliver posts one claimed delivery and records the outcome; it reports whether the endpoint
// answered 2xx.
func (s *Service) deliver(ctx context.Context, token string, j job) (bool, error) {
	if j.URL == "" {
		return false, s.park(ctx, token, j)
	}
	start := s.now()
	o := outcome{start: start}
	body, header, err := s.request(j, start)
	if err != nil {
		o.err = err
	} else {
		o = s.post(ctx, j.URL, body, header)
		o.start = start
		if ctx.Err() != nil && o.err != nil {
			// Shutting down, not the receiver's fault: hand the delivery back uncounted.
			return false, s.release(ctx, token, j)
		}
	}
	err = s.record(ctx, token, j, o)
	if errors.Is(err, errLeaseLost) {
		s.cfg.Logger.WarnContext(ctx, "webhooks: lease expired before the attempt was recorded; another dispatcher retries it",
			"delivery", j.ID, "event", j.EventID, "merchant", j.MerchantID)
		return false, nil
	}
	return o.err == nil && err == nil, err
}

// request builds the body and headers of one attempt made at ts.
func (s *Service) request(j job, ts time.Time) ([]byte, http.Header, error) {
	ev := Event{ID: j.EventID, MerchantID: j.MerchantID, Type: j.Type, Data: []byte(j.Data), CreatedAt: j.CreatedAt}
	body, err := ev.body()
	if err != nil {
		return nil, nil, fmt.Errorf("encode body: %w", err)
	}
	sig, err := Sign(j.Secret, j.EventID, ts, body)
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	if j.PreviousSecret != "" && j.PreviousSecretExpiresAt.After(ts) {
		if prev, err := Sign(j.PreviousSecret, j.EventID, ts, body); err == nil {
			sig += " " + prev
		}
	}
	bodySig, err := SignBody(j.Secret, body)
	if err != nil {
		return nil, nil, fmt.Errorf("sign body: %w", err)
	}
	h := make(http.Header, 7)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(HeaderID, j.EventID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set(HeaderEventType, j.Type)
	h.Set(HeaderBodySignature, bodySig)
	return body, h, nil
}

// post makes one request, bounded by the request timeout, and keeps the first KiB of the answer.
func (s *Service) post(ctx context.Context, url string, body []byte, header http.Header) outcome {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.requestTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: fmt.Errorf("build request: %w", err)}
	}
	req.Header = header
	began := time.Now()
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return outcome{err: err, duration: time.Since(began)}
	}
	defer resp.Body.Close()
	kept, _ := io.ReadAll(io.LimitReader(resp.Body, maxLoggedResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedResponse))
	o := outcome{statusCode: resp.StatusCode, body: cleanText(string(kept)), duration: time.Since(began)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		o.err = fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	return o
}

// record stores an attempt and moves its delivery on: to success, to a retry after backoff, or to
// failed after MaxAttempts. It writes nothing if the lease was lost (errLeaseLost).
func (s *Service) record(ctx context.Context, token string, j job, o outcome) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	now := s.now()
	n := j.Attempts + 1
	status, next, errText := StatusSuccess, now, ""
	if o.err != nil {
		errText = cleanText(o.err.Error())
		status = StatusPending
		next = now.Add(s.cfg.backoff(n))
		if n >= s.cfg.MaxAttempts {
			status, next = StatusFailed, now
		}
	}
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*deliveryRow)(nil)).
			Set("status = ?", status).Set("attempts = ?", n).Set("next_attempt_at = ?", next).
			Set("lease_token = NULL").Set("last_attempt_at = ?", o.start).
			Set("last_status_code = ?", nullable(o.statusCode)).Set("last_error = ?", nullable(errText)).
			Set("updated_at = ?", now)
		if status == StatusSuccess {
			q = q.Set("delivered_at = ?", now)
		}
		res, err := q.Where("id = ?", j.ID).Where("lease_token = ?", token).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errLeaseLost
		}
		if status == StatusFailed {
			s.cfg.Logger.WarnContext(ctx, "webhooks: delivery failed for good",
				"delivery", j.ID, "event", j.EventID, "merchant", j.MerchantID, "attempts", n, "err", errText)
		}
		_, err = tx.NewInsert().Model(&attemptRow{
			ID: ids.New("att"), DeliveryID: j.ID, Number: n, URL: j.URL, AttemptedAt: o.start,
			StatusCode: o.statusCode, DurationMS: o.duration.Milliseconds(), Error: errText, ResponseBody: o.body,
		}).Exec(ctx)
		return err
	})
}

// park reschedules a delivery whose merchant has no endpoint, without counting an attempt. If an
// endpoint appeared since the claim, the delivery is released to go out at once instead.
func (s *Service) park(ctx context.Context, token string, j job) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	now := s.now()
	parked := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// After a concurrent SetEndpoint has committed, not before (lockEndpoint).
		if err := lockEndpoint(ctx, tx, j.MerchantID); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*deliveryRow)(nil)).
			Set("next_attempt_at = ?", now.Add(noEndpointDelay)).Set("lease_token = NULL").
			Set("last_error = ?", noEndpointError).Set("updated_at = ?", now).
			Where("id = ?", j.ID).Where("lease_token = ?", token).
			Where("NOT EXISTS (SELECT 1 FROM webhook_endpoints AS ep WHERE ep.merchant_id = ?)", j.MerchantID).
			Exec(ctx)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		parked = err == nil && n == 1
		return err
	})
	if err != nil {
		return fmt.Errorf("park: %w", err)
	}
	if parked {
		return nil
	}
	return s.release(ctx, token, j)
}

// release hands a claimed delivery back, due now, without counting an attempt.
func (s *Service) release(ctx context.Context, token string, j job) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	now := s.now()
	_, err := s.db.NewUpdate().Model((*deliveryRow)(nil)).
		Set("next_attempt_at = ?", now).Set("lease_token = NULL").Set("updated_at = ?", now).
		Where("id = ?", j.ID).Where("lease_token = ?", token).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// nullable maps a zero value to SQL NULL.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// cleanText makes s storable as text on PostgreSQL (valid UTF-8, no NUL) and at most 1 KiB.
func cleanText(s string) string {
	if len(s) > maxLoggedResponse {
		s = s[:maxLoggedResponse]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}
