package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settle-go/settle/internal/dbtest"
)

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	var total time.Duration
	for n := 1; n < cfg.MaxAttempts; n++ {
		want := DefaultBaseBackoff << (n - 1)
		for range 50 {
			got := cfg.backoff(n)
			if got < want*8/10 || got > want*12/10 {
				t.Fatalf("backoff(%d) = %v, want %v ± 20 %%", n, got, want)
			}
		}
		total += want
	}
	// 2 + 4 + … + 512 minutes between ten attempts.
	if total != 1022*time.Minute {
		t.Fatalf("default schedule spans %v", total)
	}
	for _, n := range []int{20, 64, 1000} {
		if got := cfg.backoff(n); got > MaxBackoff*12/10 || got < MaxBackoff*8/10 {
			t.Fatalf("backoff(%d) = %v, want MaxBackoff ± 20 %%", n, got)
		}
	}
}

// A dispatcher that dies between claim and record leaves a lease; once it expires the delivery
// goes out again, and the dead dispatcher's late record is refused.
func TestExpiredLeaseIsRedelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.Open(t)
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s := New(db, Config{Now: func() time.Time { return now }, AllowPrivateEndpoints: true})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	if _, err := s.SetEndpoint(ctx, "mch_1", srv.URL); err != nil {
		t.Fatal(err)
	}
	ev, err := s.EnqueueTx(ctx, db, EventInput{MerchantID: "mch_1", Type: EventPayoutSuccessful})
	if err != nil {
		t.Fatal(err)
	}

	token, jobs, err := s.claim(ctx) // … and the process dies here
	if err != nil || len(jobs) != 1 || jobs[0].EventID != ev.ID || jobs[0].URL != srv.URL {
		t.Fatalf("claim = %v, %+v", err, jobs)
	}
	if n, err := s.DeliverDue(ctx); n != 0 || err != nil || hits.Load() != 0 {
		t.Fatalf("leased delivery went out: %d, %v", n, err)
	}
	now = now.Add(s.cfg.lease() - time.Second)
	if n, _ := s.DeliverDue(ctx); n != 0 {
		t.Fatal("delivered before the lease expired")
	}
	now = now.Add(2 * time.Second)
	if n, err := s.DeliverDue(ctx); n != 1 || err != nil || hits.Load() != 1 {
		t.Fatalf("after the lease: delivered %d, %v, %d hits", n, err, hits.Load())
	}
	if err := s.record(ctx, token, jobs[0], outcome{start: now, statusCode: 500, err: errors.New("late")}); !errors.Is(err, errLeaseLost) {
		t.Fatalf("late record = %v, want errLeaseLost", err)
	}
	d, _ := s.Delivery(ctx, jobs[0].ID)
	if d.Status != StatusSuccess || d.Attempts != 1 {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		part, whole int
		want        string
	}{{0, 0, "0.0"}, {480, 500, "96.0"}, {1, 3, "33.3"}, {2, 3, "66.7"}, {1, 1, "100.0"}, {1, 2000, "0.1"}, {1, 2001, "0.0"}} {
		if got := percent(c.part, c.whole); got != c.want {
			t.Errorf("percent(%d, %d) = %s, want %s", c.part, c.whole, got, c.want)
		}
	}
}

// TestPublicOnlyEmbeddedIPv4: an IPv6 address that carries an IPv4 one for a NAT64 or 6to4
// gateway is judged by the IPv4 address too, so 64:ff9b::a9fe:a9fe cannot reach the cloud
// metadata service at 169.254.169.254 (found by review); a public one passes.
func TestPublicOnlyEmbeddedIPv4(t *testing.T) {
	for addr, ok := range map[string]bool{
		"[64:ff9b::a9fe:a9fe]:80":   false, // 169.254.169.254
		"[64:ff9b::7f00:1]:443":     false, // 127.0.0.1
		"[64:ff9b:1::a00:1]:80":     false, // 10.0.0.1, local-use prefix
		"[2002:c0a8:101::1]:80":     false, // 6to4 of 192.168.1.1
		"[64:ff9b::808:808]:443":    true,  // 8.8.8.8
		"[2002:808:808::1]:443":     true,
		"[2606:4700:4700::1111]:80": true,
		"127.0.0.1:80":              false,
		"[::ffff:10.0.0.1]:80":      false,
	} {
		err := publicOnly("tcp", addr, nil)
		if (err == nil) != ok {
			t.Errorf("publicOnly(%s) = %v; want allowed %v", addr, err, ok)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("publicOnly(%s) = %v; want ErrForbiddenAddress", addr, err)
		}
	}
}
