package webhooks_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/webhooks"
)

// clock is an injectable Config.Now that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setup migrates a fresh database (SQLite, or PostgreSQL when SETTLE_TEST_POSTGRES_DSN is set)
// and returns a service on it with a manual clock and a tiny backoff.
func setup(t *testing.T, cfg webhooks.Config) (*bun.DB, *webhooks.Service, *clock) {
	t.Helper()
	return setupDB(t, dbtest.Open(t), cfg)
}

func setupDB(t *testing.T, db *bun.DB, cfg webhooks.Config) (*bun.DB, *webhooks.Service, *clock) {
	t.Helper()
	if err := webhooks.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = time.Second
	}
	cfg.AllowPrivateEndpoints = true // receivers are httptest servers on 127.0.0.1
	return db, webhooks.New(db, cfg), c
}

type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest endpoint that answers the status respond(n) to its n-th request (1-based).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []received
	respond func(n int) int
}

func newReceiver(t *testing.T, respond func(n int) int) *receiver {
	t.Helper()
	r := &receiver{respond: respond}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, received{header: req.Header.Clone(), body: body})
		n := len(r.reqs)
		r.mu.Unlock()
		w.WriteHeader(r.respond(n))
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

// sentAt is the request's webhook-timestamp, the time a receiver's clock would show.
func (r received) sentAt() time.Time {
	unix, _ := strconv.ParseInt(r.header.Get(webhooks.HeaderTimestamp), 10, 64)
	return time.Unix(unix, 0)
}

func always(code int) func(int) int { return func(int) int { return code } }

func enqueue(t *testing.T, db bun.IDB, s *webhooks.Service, in webhooks.EventInput) webhooks.Event {
	t.Helper()
	ev, err := s.EnqueueTx(context.Background(), db, in)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return ev
}

func mustEndpoint(t *testing.T, s *webhooks.Service, merchantID, url string) webhooks.Endpoint {
	t.Helper()
	ep, err := s.SetEndpoint(context.Background(), merchantID, url)
	if err != nil {
		t.Fatalf("set endpoint: %v", err)
	}
	return ep
}

func deliveryOf(t *testing.T, s *webhooks.Service, eventID string) webhooks.Delivery {
	t.Helper()
	ds, total, err := s.Deliveries(context.Background(), webhooks.DeliveryFilter{EventID: eventID})
	if err != nil || total != 1 || len(ds) != 1 {
		t.Fatalf("deliveries of %s: %v, total %d, %d rows", eventID, err, total, len(ds))
	}
	return ds[0]
}

func deliverDue(t *testing.T, s *webhooks.Service) int {
	t.Helper()
	n, err := s.DeliverDue(context.Background())
	if err != nil {
		t.Fatalf("deliver due: %v", err)
	}
	return n
}
