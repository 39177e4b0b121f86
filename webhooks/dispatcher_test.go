package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/webhooks"
)

func TestDeliverySucceedsOnThirdAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, c := setup(t, webhooks.Config{BaseBackoff: time.Minute})
	rcv := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ep := mustEndpoint(t, s, "mch_1", rcv.URL)
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventPayoutSuccessful, Data: map[string]string{"payout_id": "pay_1"}})

	if n := deliverDue(t, s); n != 0 {
		t.Fatalf("attempt 1 delivered %d", n)
	}
	d := deliveryOf(t, s, ev.ID)
	if d.Status != webhooks.StatusPending || d.Attempts != 1 || d.LastStatusCode != 500 || d.LastError != "unexpected status 500" {
		t.Fatalf("after attempt 1: %+v", d)
	}
	// The retry waits one BaseBackoff, ±20 %.
	if wait := d.NextAttemptAt.Sub(*d.LastAttemptAt); wait < 48*time.Second || wait > 72*time.Second {
		t.Fatalf("first retry in %v, want 1 min ± 20 %%", wait)
	}
	if n := deliverDue(t, s); n != 0 || len(rcv.requests()) != 1 {
		t.Fatalf("retried before its backoff: %d requests", len(rcv.requests()))
	}
	c.Advance(73 * time.Second)
	deliverDue(t, s)
	if d = deliveryOf(t, s, ev.ID); d.Attempts != 2 || d.Status != webhooks.StatusPending {
		t.Fatalf("after attempt 2: %+v", d)
	}
	if wait := d.NextAttemptAt.Sub(*d.LastAttemptAt); wait < 96*time.Second || wait > 144*time.Second {
		t.Fatalf("second retry in %v, want 2 min ± 20 %%", wait)
	}
	c.Advance(145 * time.Second)
	if n := deliverDue(t, s); n != 1 {
		t.Fatalf("attempt 3 delivered %d, want 1", n)
	}
	d = deliveryOf(t, s, ev.ID)
	if d.Status != webhooks.StatusSuccess || d.Attempts != 3 || d.LastStatusCode != 200 || d.LastError != "" || d.DeliveredAt == nil {
		t.Fatalf("after attempt 3: %+v", d)
	}
	c.Advance(time.Hour)
	if deliverDue(t, s); len(rcv.requests()) != 3 {
		t.Fatalf("delivered again after success: %d requests", len(rcv.requests()))
	}

	atts, err := s.Attempts(ctx, d.ID)
	if err != nil || len(atts) != 3 {
		t.Fatalf("Attempts = %d, %v; want 3", len(atts), err)
	}
	for i, a := range atts {
		want := 500
		if i == 2 {
			want = 200
		}
		if a.Number != i+1 || a.StatusCode != want || a.URL != ep.URL || a.ResponseBody != "ok" || a.AttemptedAt.IsZero() || a.DurationMS < 0 {
			t.Errorf("attempt %d = %+v", i+1, a)
		}
	}

	// Every request is the same event, signed, with the seeds' headers.
	for i, r := range rcv.requests() {
		if err := webhooks.VerifyAt(r.body, r.header, ep.Secret, r.sentAt()); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		bodySig, _ := webhooks.SignBody(ep.Secret, r.body)
		h := r.header
		if h.Get(webhooks.HeaderID) != ev.ID || h.Get(webhooks.HeaderEventType) != "payout.successful" ||
			h.Get(webhooks.HeaderBodySignature) != bodySig || h.Get("Content-Type") != "application/json" ||
			h.Get("User-Agent") != webhooks.UserAgent {
			t.Errorf("request %d headers: %v", i, h)
		}
		if string(r.body) != string(rcv.requests()[0].body) {
			t.Errorf("request %d body differs from the first", i)
		}
	}
	want := fmt.Sprintf(`{"id":%q,"type":"payout.successful","created_at":%q,"merchant_id":"mch_1","data":{"payout_id":"pay_1"}}`,
		ev.ID, ev.CreatedAt.Format(time.RFC3339Nano))
	if got := string(rcv.requests()[0].body); got != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
	var got webhooks.Event
	if err := json.Unmarshal(rcv.requests()[2].body, &got); err != nil ||
		!got.CreatedAt.Equal(ev.CreatedAt) || got.ID != ev.ID || got.MerchantID != ev.MerchantID || string(got.Data) != string(ev.Data) {
		t.Fatalf("decoded body = %+v, %v; want %+v", got, err, ev)
	}
}

func TestDeliveryFailsAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, c := setup(t, webhooks.Config{MaxAttempts: 4, BaseBackoff: time.Millisecond})
	rcv := newReceiver(t, always(http.StatusInternalServerError))
	mustEndpoint(t, s, "mch_1", rcv.URL)
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventInvoiceConfirmed})
	for range 10 {
		deliverDue(t, s)
		c.Advance(time.Hour)
	}
	d := deliveryOf(t, s, ev.ID)
	if d.Status != webhooks.StatusFailed || d.Attempts != 4 || d.DeliveredAt != nil || d.LastStatusCode != 500 {
		t.Fatalf("delivery = %+v, want failed after 4 attempts", d)
	}
	if n := len(rcv.requests()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
	if atts, _ := s.Attempts(ctx, d.ID); len(atts) != 4 || atts[3].Number != 4 {
		t.Fatalf("attempts = %+v", atts)
	}
}

func TestDeliveryNetworkErrorAndRedirectAreFailures(t *testing.T) {
	t.Parallel()
	db, s, c := setup(t, webhooks.Config{MaxAttempts: 1})
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	mustEndpoint(t, s, "mch_dead", deadURL)
	redirect := newReceiver(t, always(http.StatusTemporaryRedirect))
	mustEndpoint(t, s, "mch_redirect", redirect.URL)
	e1 := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_dead", Type: webhooks.EventWebhookTest})
	e2 := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_redirect", Type: webhooks.EventWebhookTest})
	deliverDue(t, s)
	c.Advance(time.Hour)
	if d := deliveryOf(t, s, e1.ID); d.Status != webhooks.StatusFailed || d.LastStatusCode != 0 || d.LastError == "" {
		t.Fatalf("unreachable endpoint: %+v", d)
	}
	if d := deliveryOf(t, s, e2.ID); d.Status != webhooks.StatusFailed || d.LastStatusCode != 307 {
		t.Fatalf("redirect: %+v", d)
	}
}

func TestDeliveryKeepsFirstKiBOfResponse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, _ := setup(t, webhooks.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("é\x00"))
		_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
	}))
	t.Cleanup(srv.Close)
	mustEndpoint(t, s, "mch_1", srv.URL)
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	deliverDue(t, s)
	atts, err := s.Attempts(ctx, deliveryOf(t, s, ev.ID).ID)
	if err != nil || len(atts) != 1 {
		t.Fatalf("attempts: %v %v", atts, err)
	}
	if b := atts[0].ResponseBody; len(b) > 1024 || !strings.HasPrefix(b, "éxxx") || atts[0].StatusCode != 400 {
		t.Fatalf("response body kept: %d bytes, prefix %q", len(b), b[:8])
	}
}

func TestEventWaitsForEndpoint(t *testing.T) {
	t.Parallel()
	db, s, c := setup(t, webhooks.Config{})
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventCollectionCreated})
	if n := deliverDue(t, s); n != 0 {
		t.Fatalf("delivered %d without an endpoint", n)
	}
	d := deliveryOf(t, s, ev.ID)
	if d.Status != webhooks.StatusPending || d.Attempts != 0 || d.LastError != "no webhook endpoint" || !d.NextAttemptAt.After(c.Now()) {
		t.Fatalf("waiting delivery = %+v", d)
	}
	rcv := newReceiver(t, always(http.StatusNoContent))
	mustEndpoint(t, s, "mch_1", rcv.URL) // makes it due at once
	if n := deliverDue(t, s); n != 1 || len(rcv.requests()) != 1 {
		t.Fatalf("after SetEndpoint: delivered %d, %d requests", n, len(rcv.requests()))
	}
	if d = deliveryOf(t, s, ev.ID); d.Status != webhooks.StatusSuccess || d.Attempts != 1 || d.LastStatusCode != 204 {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestNewURLRetriesAtOnce(t *testing.T) {
	t.Parallel()
	db, s, _ := setup(t, webhooks.Config{BaseBackoff: time.Hour})
	broken := newReceiver(t, always(http.StatusBadGateway))
	mustEndpoint(t, s, "mch_1", broken.URL)
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	deliverDue(t, s)
	mustEndpoint(t, s, "mch_1", broken.URL) // unchanged: the backoff stands
	if deliverDue(t, s); len(broken.requests()) != 1 {
		t.Fatalf("same URL re-set: %d requests, want 1", len(broken.requests()))
	}
	fixed := newReceiver(t, always(http.StatusOK))
	mustEndpoint(t, s, "mch_1", fixed.URL)
	if n := deliverDue(t, s); n != 1 || deliveryOf(t, s, ev.ID).Attempts != 2 {
		t.Fatalf("after moving the endpoint: delivered %d", n)
	}
}

func TestRunDeliversUntilCancelled(t *testing.T) {
	t.Parallel()
	db, s, _ := setup(t, webhooks.Config{PollInterval: 5 * time.Millisecond, BatchSize: 2})
	rcv := newReceiver(t, always(http.StatusOK))
	mustEndpoint(t, s, "mch_1", rcv.URL)
	for range 5 {
		enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := s.Stats(ctx, "mch_1"); err != nil || st.Success == 5 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if st, _ := s.Stats(context.Background(), "mch_1"); st.Success != 5 || len(rcv.requests()) != 5 {
		t.Fatalf("stats %+v, %d requests", st, len(rcv.requests()))
	}
}

// Two dispatchers side by side deliver every event exactly once when the receiver always
// succeeds: a claim hides a delivery from the other dispatcher until it is recorded.
func TestConcurrentDispatchersPostgres(t *testing.T) {
	t.Parallel()
	testConcurrentDispatchers(t, dbtest.Postgres(t))
}

func TestConcurrentDispatchersSQLite(t *testing.T) {
	t.Parallel()
	testConcurrentDispatchers(t, dbtest.OpenSQLite(t))
}

func testConcurrentDispatchers(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	const events = 150
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // keep requests in flight while the other dispatcher claims
		mu.Lock()
		seen[r.Header.Get(webhooks.HeaderID)]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	db, a, _ := setupDB(t, db, webhooks.Config{BatchSize: 7})
	b := webhooks.New(db, webhooks.Config{BatchSize: 7, AllowPrivateEndpoints: true})
	for m := range 3 {
		mustEndpoint(t, a, fmt.Sprintf("mch_%d", m), srv.URL)
	}
	for i := range events {
		enqueue(t, db, a, webhooks.EventInput{MerchantID: fmt.Sprintf("mch_%d", i%3), Type: webhooks.EventWebhookTest, Data: map[string]int{"i": i}})
	}

	var wg sync.WaitGroup
	counts := make([]int, 4)
	errs := make([]error, 4)
	for w, s := range []*webhooks.Service{a, b, a, b} {
		wg.Go(func() {
			for {
				n, err := s.DeliverDue(ctx)
				if err != nil {
					errs[w] = err
					return
				}
				if n == 0 {
					return
				}
				counts[w] += n
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("dispatcher %d: %v", w, err)
		}
	}
	// A worker stops at its first empty pass; finish whatever was claimed by the others then.
	for {
		n := deliverDue(t, a)
		if n == 0 {
			break
		}
		counts[0] += n
	}
	total := counts[0] + counts[1] + counts[2] + counts[3]
	if total != events || len(seen) != events {
		t.Fatalf("delivered %d (%v), %d distinct events received; want %d", total, counts, len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s received %d times", id, n)
		}
	}
	if counts[1]+counts[3] == 0 || counts[0]+counts[2] == 0 {
		t.Logf("one service delivered everything (%v): the race did not interleave", counts)
	}
	st, err := a.Stats(ctx, "")
	if err != nil || st.Success != events || st.Total != events {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	var attempts int
	if err := db.NewSelect().TableExpr("webhook_attempts").ColumnExpr("COUNT(*)").Scan(ctx, &attempts); err != nil || attempts != events {
		t.Fatalf("%d attempts logged (%v), want %d", attempts, err, events)
	}
}

func TestStatsAndDeliveryFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, c := setup(t, webhooks.Config{MaxAttempts: 1})
	ok := newReceiver(t, always(http.StatusOK))
	bad := newReceiver(t, always(http.StatusInternalServerError))
	mustEndpoint(t, s, "mch_ok", ok.URL)
	mustEndpoint(t, s, "mch_bad", bad.URL)
	var okEvents []webhooks.Event
	for i := range 24 {
		okEvents = append(okEvents, enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_ok", Type: webhooks.EventInvoiceConfirmed, Data: map[string]int{"i": i}}))
		c.Advance(time.Millisecond)
	}
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_bad", Type: webhooks.EventInvoiceExpired})
	deliverDue(t, s)
	// Arrive after the pass: still pending.
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_ok", Type: webhooks.EventInvoiceFailed})
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_bad", Type: webhooks.EventInvoiceFailed})

	st, err := s.Stats(ctx, "mch_ok")
	if err != nil || st != (webhooks.Stats{Total: 25, Success: 24, Pending: 1, SuccessRate: "96.0"}) {
		t.Fatalf("Stats(mch_ok) = %+v, %v", st, err)
	}
	if st, _ = s.Stats(ctx, "mch_bad"); st != (webhooks.Stats{Total: 2, Failed: 1, Pending: 1, SuccessRate: "0.0"}) {
		t.Fatalf("Stats(mch_bad) = %+v", st)
	}
	if st, _ = s.Stats(ctx, ""); st != (webhooks.Stats{Total: 27, Success: 24, Failed: 1, Pending: 2, SuccessRate: "88.9"}) {
		t.Fatalf("Stats(all) = %+v", st)
	}
	if st, _ = s.Stats(ctx, "mch_none"); st != (webhooks.Stats{SuccessRate: "0.0"}) {
		t.Fatalf("Stats(none) = %+v", st)
	}

	page1, total, err := s.Deliveries(ctx, webhooks.DeliveryFilter{MerchantID: "mch_ok", Status: webhooks.StatusSuccess, Limit: 10})
	if err != nil || total != 24 || len(page1) != 10 {
		t.Fatalf("page 1: %d rows, total %d, %v", len(page1), total, err)
	}
	if page1[0].EventID != okEvents[23].ID || page1[9].EventID != okEvents[14].ID {
		t.Fatalf("page 1 is not newest first")
	}
	page3, total, _ := s.Deliveries(ctx, webhooks.DeliveryFilter{MerchantID: "mch_ok", Status: webhooks.StatusSuccess, Limit: 10, Page: 3})
	if total != 24 || len(page3) != 4 || page3[3].EventID != okEvents[0].ID {
		t.Fatalf("page 3: %d rows, total %d", len(page3), total)
	}
	failed, total, _ := s.Deliveries(ctx, webhooks.DeliveryFilter{Status: webhooks.StatusFailed})
	if total != 1 || failed[0].MerchantID != "mch_bad" || failed[0].EventType != webhooks.EventInvoiceExpired {
		t.Fatalf("failed: %+v", failed)
	}
	pending, total, _ := s.Deliveries(ctx, webhooks.DeliveryFilter{Status: webhooks.StatusPending})
	if total != 2 || len(pending) != 2 {
		t.Fatalf("pending: %d", total)
	}
	all, total, _ := s.Deliveries(ctx, webhooks.DeliveryFilter{})
	if total != 27 || len(all) != webhooks.DefaultPageLimit {
		t.Fatalf("default page: %d of %d", len(all), total)
	}
	big, _, _ := s.Deliveries(ctx, webhooks.DeliveryFilter{Limit: 1000})
	if len(big) != 27 {
		t.Fatalf("limit clamp: %d", len(big))
	}
	if _, _, err := s.Deliveries(ctx, webhooks.DeliveryFilter{Status: "delivered"}); !errors.Is(err, webhooks.ErrInvalidFilter) {
		t.Fatalf("unknown status: %v, want ErrInvalidFilter", err)
	}
	if _, err := s.Delivery(ctx, "dlv_missing"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Delivery(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Attempts(ctx, "dlv_missing"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Attempts(missing) = %v, want ErrNotFound", err)
	}
	if atts, err := s.Attempts(ctx, pending[0].ID); err != nil || len(atts) != 0 {
		t.Fatalf("Attempts(pending) = %v, %v", atts, err)
	}
	d, err := s.Delivery(ctx, failed[0].ID)
	if err != nil || d.ID != failed[0].ID {
		t.Fatalf("Delivery = %+v, %v", d, err)
	}
}

// A dispatcher stopped mid-request hands the delivery back uncounted, due at once.
func TestCancelledPassReleasesDelivery(t *testing.T) {
	t.Parallel()
	db, s, c := setup(t, webhooks.Config{})
	arrived, stop := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	mustEndpoint(t, s, "mch_1", srv.URL)
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	if n, err := s.DeliverDue(ctx); n != 0 || err != nil {
		t.Fatalf("DeliverDue = %d, %v", n, err)
	}
	d := deliveryOf(t, s, ev.ID)
	if d.Status != webhooks.StatusPending || d.Attempts != 0 || d.NextAttemptAt.After(c.Now()) {
		t.Fatalf("delivery after cancelled pass = %+v", d)
	}
}
