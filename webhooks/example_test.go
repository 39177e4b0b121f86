package webhooks_test

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/settle-go/settle/webhooks"
)

// Sign reproduces the Standard Webhooks specification's test vector.
func ExampleSign() {
	sig, err := webhooks.Sign(
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0),
		[]byte(`{"test": 2432232314}`),
	)
	fmt.Println(sig, err)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= <nil>
}

// A receiver verifies a delivery with one call on the raw body and the request's headers.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // Endpoint.Secret
	body := []byte(`{"id":"evt_1","type":"invoice.confirmed","created_at":"2026-05-16T12:00:00Z","merchant_id":"mch_1","data":{}}`)

	// What the dispatcher sends.
	now := time.Now()
	sig, _ := webhooks.Sign(secret, "evt_1", now, body)
	header := http.Header{}
	header.Set(webhooks.HeaderID, "evt_1")
	header.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	header.Set(webhooks.HeaderSignature, sig)

	// What the receiver does, in its handler.
	fmt.Println(webhooks.Verify(body, header, secret))
	fmt.Println(webhooks.Verify([]byte(`{"id":"evt_1","forged":true}`), header, secret))
	// Output:
	// <nil>
	// webhooks: verification failed: invalid signature: no v1 signature matches
}
