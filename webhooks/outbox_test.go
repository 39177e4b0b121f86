package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/webhooks"
)

func TestEnqueueRolledBackIsNeverDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, _ := setup(t, webhooks.Config{})
	rcv := newReceiver(t, always(200))
	mustEndpoint(t, s, "mch_1", rcv.URL)

	errRollback := errors.New("the payout failed to record")
	var ev webhooks.Event
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if ev, err = s.EnqueueTx(ctx, tx, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventPayoutSuccessful}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) || ev.ID == "" {
		t.Fatalf("RunInTx = %v, event %+v", err, ev)
	}
	if n := deliverDue(t, s); n != 0 || len(rcv.requests()) != 0 {
		t.Fatalf("rolled-back event delivered: %d, %d requests", n, len(rcv.requests()))
	}
	if _, total, _ := s.Deliveries(ctx, webhooks.DeliveryFilter{}); total != 0 {
		t.Fatalf("%d deliveries stored after rollback", total)
	}

	// The same, committed, is delivered.
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := s.EnqueueTx(ctx, tx, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventPayoutSuccessful})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := deliverDue(t, s); n != 1 {
		t.Fatalf("committed event: delivered %d, want 1", n)
	}
}

func TestEnqueueDedupKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, _ := setup(t, webhooks.Config{})
	in := webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventPayoutSuccessful, Data: map[string]string{"payout_id": "pay_1"}, Key: "payout.successful:pay_1"}
	first := enqueue(t, db, s, in)
	var again webhooks.Event
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		again, err = s.EnqueueTx(ctx, tx, in)
		return err
	})
	if err != nil || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) || string(again.Data) != string(first.Data) {
		t.Fatalf("repeat = %+v, %v; want the first event %+v", again, err, first)
	}
	// Other merchants and keyless events are separate.
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_2", Type: in.Type, Key: in.Key})
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: in.Type})
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: in.Type})
	if _, total, _ := s.Deliveries(ctx, webhooks.DeliveryFilter{}); total != 4 {
		t.Fatalf("%d deliveries, want 4", total)
	}
}

func TestEnqueueData(t *testing.T) {
	t.Parallel()
	db, s, _ := setup(t, webhooks.Config{})
	type payout struct {
		PayoutID string `json:"payout_id"`
		Amount   string `json:"amount"`
	}
	ev := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventPayoutSuccessful, Data: payout{"pay_1", "0.02"}})
	if !strings.HasPrefix(ev.ID, "evt_") || string(ev.Data) != `{"payout_id":"pay_1","amount":"0.02"}` || ev.CreatedAt.IsZero() {
		t.Fatalf("event = %+v", ev)
	}
	raw := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest, Data: json.RawMessage(`{"b": 1, "a": [true]}`)})
	if string(raw.Data) != `{"b":1,"a":[true]}` {
		t.Fatalf("raw data = %s", raw.Data)
	}
	empty := enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	if string(empty.Data) != `{}` {
		t.Fatalf("nil data = %s, want {}", empty.Data)
	}
}

func TestEnqueueRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	db, s, _ := setup(t, webhooks.Config{})
	for name, in := range map[string]webhooks.EventInput{
		"no merchant":    {Type: webhooks.EventWebhookTest},
		"no type":        {MerchantID: "mch_1"},
		"upper type":     {MerchantID: "mch_1", Type: "PAYOUT_SUCCESSFUL"},
		"unmarshallable": {MerchantID: "mch_1", Type: webhooks.EventWebhookTest, Data: func() {}},
		"too large":      {MerchantID: "mch_1", Type: webhooks.EventWebhookTest, Data: strings.Repeat("x", webhooks.MaxDataBytes)},
		"long key":       {MerchantID: "mch_1", Type: webhooks.EventWebhookTest, Key: strings.Repeat("k", webhooks.MaxKeyLength+1)},
	} {
		if _, err := s.EnqueueTx(context.Background(), db, in); !errors.Is(err, webhooks.ErrInvalidEvent) {
			t.Errorf("%s: EnqueueTx = %v, want ErrInvalidEvent", name, err)
		}
	}
}
