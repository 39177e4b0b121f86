package webhooks_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/settle-go/settle/webhooks"
)

// The Standard Webhooks specification's published test vector.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeader(sig string, ts int64) http.Header {
	h := http.Header{}
	h.Set(webhooks.HeaderID, vectorID)
	h.Set(webhooks.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(webhooks.HeaderSignature, sig)
	return h
}

func TestSignMatchesStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	got, err := webhooks.Sign(vectorSecret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil || got != vectorSignature {
		t.Fatalf("Sign = %q, %v; want %q", got, err, vectorSignature)
	}
	// Libraries accept the secret without its prefix too.
	got, err = webhooks.Sign(vectorSecret[len("whsec_"):], vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil || got != vectorSignature {
		t.Fatalf("Sign without prefix = %q, %v", got, err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	at := time.Unix(vectorTimestamp, 0)
	body := []byte(vectorBody)
	otherSig, _ := webhooks.Sign("whsec_"+"c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=", vectorID, at, body)
	tests := []struct {
		name   string
		body   []byte
		header http.Header
		secret string
		now    time.Time
		want   error
	}{
		{"vector", body, vectorHeader(vectorSignature, vectorTimestamp), vectorSecret, at, nil},
		{"within tolerance after", body, vectorHeader(vectorSignature, vectorTimestamp), vectorSecret, at.Add(webhooks.Tolerance), nil},
		{"within tolerance before", body, vectorHeader(vectorSignature, vectorTimestamp), vectorSecret, at.Add(-webhooks.Tolerance), nil},
		{"rotation: second of several signatures", body, vectorHeader(otherSig+" v1a,abc "+vectorSignature, vectorTimestamp), vectorSecret, at, nil},
		{"tampered body", []byte(`{"test": 2432232315}`), vectorHeader(vectorSignature, vectorTimestamp), vectorSecret, at, webhooks.ErrInvalidSignature},
		{"wrong secret", body, vectorHeader(otherSig, vectorTimestamp), vectorSecret, at, webhooks.ErrInvalidSignature},
		{"signature under another id", body, func() http.Header {
			h := vectorHeader(vectorSignature, vectorTimestamp)
			h.Set(webhooks.HeaderID, "msg_other")
			return h
		}(), vectorSecret, at, webhooks.ErrInvalidSignature},
		{"timestamp changed", body, vectorHeader(vectorSignature, vectorTimestamp+1), vectorSecret, at, webhooks.ErrInvalidSignature},
		{"malformed timestamp", body, func() http.Header {
			h := vectorHeader(vectorSignature, vectorTimestamp)
			h.Set(webhooks.HeaderTimestamp, "1614265330.5")
			return h
		}(), vectorSecret, at, webhooks.ErrInvalidSignature},
		{"unknown version only", body, vectorHeader("v2,"+vectorSignature[3:], vectorTimestamp), vectorSecret, at, webhooks.ErrInvalidSignature},
		{"too old", body, vectorHeader(vectorSignature, vectorTimestamp), vectorSecret, at.Add(webhooks.Tolerance + time.Second), webhooks.ErrTimestampTooOld},
		{"too new", body, vectorHeader(vectorSignature, vectorTimestamp), vectorSecret, at.Add(-webhooks.Tolerance - time.Second), webhooks.ErrTimestampTooNew},
		{"no headers", body, http.Header{}, vectorSecret, at, webhooks.ErrMissingHeaders},
		{"no signature", body, func() http.Header {
			h := vectorHeader(vectorSignature, vectorTimestamp)
			h.Del(webhooks.HeaderSignature)
			return h
		}(), vectorSecret, at, webhooks.ErrMissingHeaders},
		{"no id", body, func() http.Header {
			h := vectorHeader(vectorSignature, vectorTimestamp)
			h.Del(webhooks.HeaderID)
			return h
		}(), vectorSecret, at, webhooks.ErrMissingHeaders},
		{"lower-case map keys", body, http.Header{
			"webhook-id":        {vectorID},
			"webhook-timestamp": {strconv.Itoa(vectorTimestamp)},
			"webhook-signature": {vectorSignature},
		}, vectorSecret, at, nil},
		{"malformed secret", body, vectorHeader(vectorSignature, vectorTimestamp), "whsec_not base64!", at, webhooks.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhooks.VerifyAt(tt.body, tt.header, tt.secret, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyAt = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyAt = %v, want %v", err, tt.want)
			}
			if tt.want != webhooks.ErrInvalidSecret && !errors.Is(err, webhooks.ErrVerification) {
				t.Fatalf("%v does not wrap ErrVerification", err)
			}
		})
	}
}

func TestVerifyUsesCurrentTime(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1"}`)
	now := time.Now()
	sig, err := webhooks.Sign(vectorSecret, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(webhooks.HeaderID, "evt_1")
	h.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhooks.HeaderSignature, sig)
	if err := webhooks.Verify(body, h, vectorSecret); err != nil {
		t.Fatalf("Verify fresh = %v", err)
	}
	// The vector's own timestamp is years old.
	if err := webhooks.Verify([]byte(vectorBody), vectorHeader(vectorSignature, vectorTimestamp), vectorSecret); !errors.Is(err, webhooks.ErrTimestampTooOld) {
		t.Fatalf("Verify old vector = %v, want ErrTimestampTooOld", err)
	}
}

func TestConstructEvent(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"payout.successful","created_at":"2026-05-16T12:00:00Z","merchant_id":"mch_1","data":{"amount":"1.5"}}`)
	now := time.Now()
	sig, _ := webhooks.Sign(vectorSecret, "evt_1", now, body)
	h := http.Header{}
	h.Set(webhooks.HeaderID, "evt_1")
	h.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhooks.HeaderSignature, sig)
	ev, err := webhooks.ConstructEvent(body, h, vectorSecret)
	if err != nil {
		t.Fatalf("ConstructEvent: %v", err)
	}
	if ev.ID != "evt_1" || ev.Type != webhooks.EventPayoutSuccessful || ev.MerchantID != "mch_1" ||
		string(ev.Data) != `{"amount":"1.5"}` || !ev.CreatedAt.Equal(time.Date(2026, 5, 16, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("ConstructEvent = %+v", ev)
	}
	if _, err := webhooks.ConstructEvent(append(body, ' '), h, vectorSecret); !errors.Is(err, webhooks.ErrInvalidSignature) {
		t.Fatalf("ConstructEvent tampered = %v", err)
	}
	bad := []byte(`not json`)
	sig, _ = webhooks.Sign(vectorSecret, "evt_1", now, bad)
	h.Set(webhooks.HeaderSignature, sig)
	if _, err := webhooks.ConstructEvent(bad, h, vectorSecret); !errors.Is(err, webhooks.ErrInvalidEvent) {
		t.Fatalf("ConstructEvent not json = %v", err)
	}
}

func TestSignBody(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256 under the vector's key, computed independently with
	// printf '%s' '{"test": 2432232314}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>.
	got, err := webhooks.SignBody(vectorSecret, []byte(vectorBody))
	if err != nil || len(got) != 64 {
		t.Fatalf("SignBody = %q, %v", got, err)
	}
	if got != signBodyVector {
		t.Fatalf("SignBody = %s, want %s", got, signBodyVector)
	}
	if _, err := webhooks.SignBody("whsec_", nil); !errors.Is(err, webhooks.ErrInvalidSecret) {
		t.Fatalf("SignBody empty secret = %v", err)
	}
}

const signBodyVector = "e2cb4f5251572539d458bfb8a7adb533b08801e6a794467e06f771debbb0818b"
