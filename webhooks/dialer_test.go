package webhooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/webhooks"
)

// TestDefaultClientRefusesPrivateAddresses: with the default client, an endpoint on loopback is
// never contacted (SSRF guard); the attempt fails with the refusal and the delivery stays pending.
func TestDefaultClientRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.Open(t)
	if err := webhooks.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := webhooks.New(db, webhooks.Config{}) // production defaults: no AllowPrivateEndpoints
	rcv := newReceiver(t, func(int) int { return 200 })
	mustEndpoint(t, s, "mch_1", rcv.URL)
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventPayoutSuccessful})
	if n, err := s.DeliverDue(ctx); err != nil || n != 0 {
		t.Fatalf("DeliverDue = %d, %v; want 0 delivered", n, err)
	}
	if got := len(rcv.requests()); got != 0 {
		t.Fatalf("the loopback receiver got %d requests", got)
	}
	d := deliveryOf(t, s, ev.ID)
	if d.Status != webhooks.StatusPending || d.Attempts != 1 || !strings.Contains(d.LastError, "not public") {
		t.Fatalf("delivery after a refused attempt: %+v", d)
	}
}
