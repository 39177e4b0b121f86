package webhooks_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/settle-go/settle/webhooks"
)

func TestSetEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, c := setup(t, webhooks.Config{})

	if _, err := s.Endpoint(ctx, "mch_1"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Endpoint before set = %v, want ErrNotFound", err)
	}
	ep := mustEndpoint(t, s, "mch_1", "https://example.com/hooks")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	if !strings.HasPrefix(ep.Secret, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("secret %q: want whsec_ + base64 of 32 bytes (%v, %d bytes)", ep.Secret, err, len(key))
	}
	got, err := s.Endpoint(ctx, "mch_1")
	if err != nil || got != ep {
		t.Fatalf("Endpoint = %+v, %v; want %+v", got, err, ep)
	}

	c.Advance(time.Minute)
	moved := mustEndpoint(t, s, "mch_1", "http://example.org/other")
	if moved.Secret != ep.Secret || moved.URL != "http://example.org/other" || !moved.CreatedAt.Equal(ep.CreatedAt) || !moved.UpdatedAt.After(ep.UpdatedAt) {
		t.Fatalf("moved endpoint = %+v (was %+v): URL and UpdatedAt change, secret and CreatedAt stay", moved, ep)
	}
	same := mustEndpoint(t, s, "mch_1", "http://example.org/other")
	if same != moved {
		t.Fatalf("setting the same URL changed the endpoint: %+v, was %+v", same, moved)
	}
	other := mustEndpoint(t, s, "mch_2", "https://example.com/hooks")
	if other.Secret == ep.Secret {
		t.Fatal("two merchants share a secret")
	}
}

func TestSetEndpointRejectsBadURLs(t *testing.T) {
	t.Parallel()
	_, s, _ := setup(t, webhooks.Config{})
	for _, u := range []string{"", "example.com/hooks", "/hooks", "ftp://example.com", "https://", "mailto:a@example.com",
		"https://exa mple.com", "https://example.com/" + strings.Repeat("a", webhooks.MaxURLLength)} {
		if _, err := s.SetEndpoint(context.Background(), "mch_1", u); !errors.Is(err, webhooks.ErrInvalidURL) {
			t.Errorf("SetEndpoint(%q) = %v, want ErrInvalidURL", u, err)
		}
	}
	if _, err := s.SetEndpoint(context.Background(), "", "https://example.com"); !errors.Is(err, webhooks.ErrInvalidMerchant) {
		t.Errorf("SetEndpoint without merchant = %v, want ErrInvalidMerchant", err)
	}
}

func TestRotateSecretSignsWithBothDuringOverlap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, c := setup(t, webhooks.Config{})
	if _, err := s.RotateSecret(ctx, "mch_1"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("RotateSecret without endpoint = %v, want ErrNotFound", err)
	}
	rcv := newReceiver(t, always(200))
	old := mustEndpoint(t, s, "mch_1", rcv.URL)
	rotated, err := s.RotateSecret(ctx, "mch_1")
	if err != nil || rotated.Secret == old.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
		t.Fatalf("RotateSecret = %+v, %v", rotated, err)
	}
	if got, _ := s.Endpoint(ctx, "mch_1"); got.Secret != rotated.Secret {
		t.Fatal("Endpoint does not return the new secret")
	}

	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	c.Advance(23 * time.Hour) // within the overlap
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	deliverDue(t, s)
	c.Advance(2 * time.Hour) // past it
	enqueue(t, db, s, webhooks.EventInput{MerchantID: "mch_1", Type: webhooks.EventWebhookTest})
	deliverDue(t, s)

	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if err := webhooks.VerifyAt(r.body, r.header, rotated.Secret, r.sentAt()); err != nil {
			t.Errorf("request %d does not verify under the new secret: %v", i, err)
		}
		errOld := webhooks.VerifyAt(r.body, r.header, old.Secret, r.sentAt())
		if i < 2 && errOld != nil {
			t.Errorf("request %d, during the overlap, does not verify under the old secret: %v", i, errOld)
		}
		if i == 2 && !errors.Is(errOld, webhooks.ErrInvalidSignature) {
			t.Errorf("request %d, after the overlap, verifies under the old secret: %v", i, errOld)
		}
		bodySig, _ := webhooks.SignBody(rotated.Secret, r.body)
		if r.header.Get(webhooks.HeaderBodySignature) != bodySig {
			t.Errorf("request %d: settle-signature is not under the new secret", i)
		}
	}
}
