package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery. The first three are Standard Webhooks'.
const (
	// HeaderID carries the event id; it is the same on every retry of one event.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the attempt's time in integer Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries one or more space-separated "v1,<base64 signature>" (several while
	// a rotated secret's overlap lasts).
	HeaderSignature = "webhook-signature"
	// HeaderEventType carries the event type, such as "invoice.confirmed".
	HeaderEventType = "settle-event"
	// HeaderBodySignature carries the lower-case hex HMAC-SHA256 of the raw body alone, keyed like
	// webhook-signature, for clients written against the seeds' x-…-signature header. It has no
	// timestamp, so it does not guard against replays: prefer webhook-signature.
	HeaderBodySignature = "settle-signature"
)

// Tolerance is how far webhook-timestamp may lie from the receiver's clock, either way, for
// Verify to accept a delivery: 5 minutes, as Standard Webhooks recommends.
const Tolerance = 5 * time.Minute

// SecretPrefix starts every signing secret: "whsec_" + standard base64 of the key bytes.
const SecretPrefix = "whsec_"

// newSecret returns SecretPrefix + base64 of 32 random bytes.
func newSecret() (string, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", fmt.Errorf("webhooks: generate secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key[:]), nil
}

// decodeSecret returns the HMAC key of a secret: the base64-decoded text after the optional
// "whsec_" prefix, as Standard Webhooks libraries accept it.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("%w: want %q followed by standard base64", ErrInvalidSecret, SecretPrefix)
	}
	return key, nil
}

// mac returns HMAC-SHA256(key, msgID + "." + unix + "." + body), the Standard Webhooks
// signed content.
func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the Standard Webhooks signature of a message: "v1," + base64 of
// HMAC-SHA256(key, msgID + "." + Unix seconds of ts + "." + body), where key is the secret
// base64-decoded after its optional "whsec_" prefix. Only ts's whole seconds are signed.
// Errors: ErrInvalidSecret.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, ts.Unix(), body)), nil
}

// SignBody returns the settle-signature header value for body: lower-case hex of
// HMAC-SHA256(key, body), with key decoded from secret as in Sign. Errors: ErrInvalidSecret.
func SignBody(secret string, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Verify checks that payload (the raw request body, unparsed) and header are an authentic
// delivery signed with secret, sent within Tolerance of the current time. It follows Standard
// Webhooks and accepts the delivery if any of the space-separated v1 signatures matches, so a
// receiver keeps working while a secret is rotated. Signatures are compared in constant time.
//
// Errors, all wrapping ErrVerification: ErrMissingHeaders, ErrTimestampTooOld,
// ErrTimestampTooNew, ErrInvalidSignature. A malformed secret gives ErrInvalidSecret.
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//		if err := webhooks.Verify(body, r.Header, secret); err != nil {
//			http.Error(w, "bad signature", http.StatusBadRequest)
//			return
//		}
//		…
//	}
func Verify(payload []byte, header http.Header, secret string) error {
	return VerifyAt(payload, header, secret, time.Now())
}

// VerifyAt is Verify with the receiver's clock reading given as now.
func VerifyAt(payload []byte, header http.Header, secret string, now time.Time) error {
	id := headerValue(header, HeaderID)
	tsText := headerValue(header, HeaderTimestamp)
	sigs := headerValue(header, HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not integer seconds", ErrInvalidSignature, tsText)
	}
	ts := time.Unix(unix, 0)
	if now.Sub(ts) > Tolerance {
		return fmt.Errorf("%w: sent at %s, now %s", ErrTimestampTooOld, ts.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if ts.Sub(now) > Tolerance {
		return fmt.Errorf("%w: sent at %s, now %s", ErrTimestampTooNew, ts.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	want := mac(key, id, unix, payload)
	for _, field := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(field, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", ErrInvalidSignature)
}

// ConstructEvent verifies payload and header as Verify does, then decodes the body into an
// Event. Errors: those of Verify; ErrInvalidEvent if the authentic body does not decode.
func ConstructEvent(payload []byte, header http.Header, secret string) (Event, error) {
	if err := Verify(payload, header, secret); err != nil {
		return Event{}, err
	}
	var e Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return Event{}, fmt.Errorf("%w: decode body: %v", ErrInvalidEvent, err)
	}
	return e, nil
}

// headerValue reads a header whether the map's keys are canonical (as net/http makes them) or
// written in lower case by hand.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}
