package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settle-go/settle/internal/dbtest"
)

// TestSetEndpointRacingPark (PostgreSQL): a dispatcher claims a delivery before the merchant has
// an endpoint and parks it while SetEndpoint is between its writes and its commit. park waits for
// SetEndpoint (lockEndpoint), sees the endpoint and releases the delivery, which goes out at once.
// Before, park could not see the uncommitted endpoint, SetEndpoint skipped the leased delivery,
// and it waited out noEndpointDelay (5 min) although the endpoint existed (found by review).
func TestSetEndpointRacingPark(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Postgres(t)
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	s := New(db, Config{Now: func() time.Time { return now }, AllowPrivateEndpoints: true})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)

	a, err := s.EnqueueTx(ctx, db, EventInput{MerchantID: "mch_1", Type: EventWebhookTest})
	if err != nil {
		t.Fatal(err)
	}
	// A second delivery of the merchant, waiting out a backoff: SetEndpoint's update will wait on
	// its row lock, which lets the test stop SetEndpoint between its writes and its commit.
	b, err := s.EnqueueTx(ctx, db, EventInput{MerchantID: "mch_1", Type: EventWebhookTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewUpdate().Model((*deliveryRow)(nil)).Set("next_attempt_at = ?", now.Add(time.Hour)).
		Where("event_id = ?", b.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	token, jobs, err := s.claim(ctx) // the dispatcher sees no endpoint
	if err != nil || len(jobs) != 1 || jobs[0].EventID != a.ID || jobs[0].URL != "" {
		t.Fatalf("claim = %v, %+v", err, jobs)
	}

	blocker, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.ExecContext(ctx, "SELECT 1 FROM webhook_deliveries WHERE event_id = ? FOR UPDATE", b.ID); err != nil {
		t.Fatal(err)
	}
	setDone := make(chan error, 1)
	go func() { _, err := s.SetEndpoint(ctx, "mch_1", srv.URL); setDone <- err }()
	// Wait until SetEndpoint has inserted the endpoint and is blocked in its delivery update.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var waiting int
		if err := db.NewRaw(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'UPDATE%webhook_deliveries%'`).Scan(ctx, &waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SetEndpoint never blocked")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The dispatcher found "no endpoint" and parks the delivery now, while SetEndpoint is between
	// its writes and its commit: park must wait for it (an advisory lock wait) rather than decide
	// (return) at once.
	parkDone := make(chan error, 1)
	go func() { parkDone <- s.park(ctx, token, jobs[0]) }()
	var parkErr error
	parked := false
	for deadline := time.Now().Add(5 * time.Second); !parked; time.Sleep(5 * time.Millisecond) {
		select {
		case parkErr = <-parkDone:
			parked = true
			continue
		default:
		}
		var waiting int
		if err := db.NewRaw(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(ctx, &waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("park neither returned nor waited")
		}
	}
	_ = blocker.Rollback()
	if err := <-setDone; err != nil {
		t.Fatal(err)
	}
	if !parked {
		parkErr = <-parkDone
	}
	if parkErr != nil {
		t.Fatal(parkErr)
	}

	// Both of the merchant's deliveries should now go out: b (reset by SetEndpoint) and a.
	n, err := s.DeliverDue(ctx)
	d, _ := s.Delivery(ctx, jobs[0].ID)
	if err != nil || n != 2 || d.Status != StatusSuccess {
		t.Fatalf("after SetEndpoint: delivered %d of 2 (%v); event a, which waited for the endpoint, is %s with next_attempt_at %s (now %s), last_error %q",
			n, err, d.Status, d.NextAttemptAt.Format(time.RFC3339), now.Format(time.RFC3339), d.LastError)
	}
}
