package webhooks

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// Defaults applied by New to the zero fields of Config.
const (
	// DefaultMaxAttempts is the number of attempts before a delivery is marked failed.
	DefaultMaxAttempts = 10
	// DefaultBaseBackoff is the wait after the first failed attempt; it doubles after each.
	DefaultBaseBackoff = 2 * time.Minute
	// DefaultPollInterval is Run's sleep after a pass that found less than a full batch.
	DefaultPollInterval = time.Second
	// DefaultBatchSize is the most deliveries one pass claims and posts concurrently.
	DefaultBatchSize = 50
	// DefaultRequestTimeout bounds one delivery request when Config.HTTPClient is nil or has no
	// Timeout of its own.
	DefaultRequestTimeout = 10 * time.Second
)

// MaxBackoff caps a single wait between attempts, whatever BaseBackoff and MaxAttempts are. The
// default schedule never reaches it: its longest wait is 512 minutes.
const MaxBackoff = 12 * time.Hour

const (
	// leaseMargin is added to the request timeout to form the claim lease: the time a claimed
	// delivery stays invisible to other dispatchers while its request runs and its result is
	// recorded.
	leaseMargin = time.Minute
	// noEndpointDelay is how long a delivery for a merchant without an endpoint waits before the
	// dispatcher looks again. SetEndpoint makes such deliveries due at once.
	noEndpointDelay = 5 * time.Minute
	// jitterFraction is the ± spread applied to every backoff wait.
	jitterFraction = 0.2
)

// Config configures a Service. The zero value is usable: every zero field takes its default.
type Config struct {
	// Logger receives dispatcher warnings and errors. Default: discard.
	Logger *slog.Logger
	// HTTPClient posts deliveries. Default: a client with a 10 s timeout that does not follow
	// redirects (a 3xx is a failed attempt), uses no proxy, and dials public addresses only
	// (ErrForbiddenAddress; see AllowPrivateEndpoints), so that merchants' URLs cannot reach
	// your internal network. A client you supply keeps its own redirect policy and transport.
	// Each request is bounded by the client's Timeout, or 10 s if it has none; the claim lease
	// is that bound plus one minute.
	HTTPClient *http.Client
	// AllowPrivateEndpoints lets the default client reach loopback and private addresses, for
	// development and tests with receivers on localhost. Default false. Ignored when HTTPClient
	// is set.
	AllowPrivateEndpoints bool
	// MaxAttempts is the number of attempts before a delivery is marked failed. Default 10.
	MaxAttempts int
	// BaseBackoff is the wait after the first failed attempt; attempt n failing waits
	// BaseBackoff·2^(n-1), ±20 % jitter, each wait capped at MaxBackoff. Default 2 min, so the
	// ten default attempts span about 17 hours.
	BaseBackoff time.Duration
	// PollInterval is how long Run sleeps after a pass that found less than a full batch.
	// Default 1 s.
	PollInterval time.Duration
	// BatchSize is the most deliveries one pass claims; they are posted concurrently.
	// Default 50.
	BatchSize int
	// Now returns the current time; tests inject a clock. Default time.Now. Every stored time and
	// the webhook-timestamp header come from it.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultClient(c.AllowPrivateEndpoints)
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// requestTimeout bounds one delivery request.
func (c Config) requestTimeout() time.Duration {
	if c.HTTPClient.Timeout > 0 {
		return c.HTTPClient.Timeout
	}
	return DefaultRequestTimeout
}

// lease is how long a claim keeps a delivery from other dispatchers.
func (c Config) lease() time.Duration {
	return c.requestTimeout() + leaseMargin
}

// backoff returns the wait after failed attempt n (n ≥ 1): BaseBackoff·2^(n-1), capped at
// MaxBackoff, then spread by ±20 % so that a receiver's outage does not bring every retry back
// at the same instant.
func (c Config) backoff(n int) time.Duration {
	d := c.BaseBackoff
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	spread := int64(float64(d) * jitterFraction)
	if spread > 0 {
		d += time.Duration(rand.Int64N(2*spread+1) - spread)
	}
	return d
}
