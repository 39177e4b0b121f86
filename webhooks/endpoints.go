package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
)

// MaxURLLength is the longest endpoint URL SetEndpoint accepts, in bytes.
const MaxURLLength = 2048

// rotationOverlap is how long a rotated-out secret still signs deliveries, next to the new one.
const rotationOverlap = 24 * time.Hour

// Endpoint is a merchant's webhook endpoint: one per merchant.
type Endpoint struct {
	MerchantID string
	// URL is the absolute http or https URL deliveries are POSTed to.
	URL string
	// Secret is the signing secret, "whsec_" + base64 of 32 random bytes. The receiver passes it
	// to Verify. It is stored in the clear, since signing needs it.
	Secret    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SetEndpoint sets the URL the merchant's deliveries are POSTed to, creating the endpoint and its
// signing secret on first use; an existing secret is kept. When the endpoint is new or its URL
// changes, the merchant's pending deliveries that are not in flight become due at once, so that
// events stored before there was an endpoint, or retries waiting out a backoff against a broken
// URL, go out now. Setting the same URL again changes nothing.
//
// Errors: ErrInvalidMerchant; ErrInvalidURL unless rawURL is an absolute http or https URL with a
// host, of at most MaxURLLength bytes.
func (s *Service) SetEndpoint(ctx context.Context, merchantID, rawURL string) (Endpoint, error) {
	if err := checkMerchantID(merchantID); err != nil {
		return Endpoint{}, err
	}
	if err := checkURL(rawURL); err != nil {
		return Endpoint{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return Endpoint{}, err
	}
	now := s.now()
	var ep endpointRow
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockEndpoint(ctx, tx, merchantID); err != nil {
			return err
		}
		// Insert, or update the URL only if it differs: a row comes back exactly when the
		// endpoint was created or moved.
		var changed []endpointRow
		err := tx.NewRaw(`INSERT INTO webhook_endpoints (merchant_id, url, secret, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (merchant_id) DO UPDATE SET url = EXCLUDED.url, updated_at = EXCLUDED.updated_at
			WHERE webhook_endpoints.url <> EXCLUDED.url
			RETURNING *`, merchantID, rawURL, secret, now, now).Scan(ctx, &changed)
		if err != nil {
			return err
		}
		if len(changed) == 0 {
			return tx.NewSelect().Model(&ep).Where("merchant_id = ?", merchantID).Scan(ctx)
		}
		ep = changed[0]
		_, err = tx.NewUpdate().Model((*deliveryRow)(nil)).
			Set("next_attempt_at = ?", now).Set("updated_at = ?", now).
			Where("merchant_id = ?", merchantID).Where("status = ?", StatusPending).
			Where("lease_token IS NULL").Where("next_attempt_at > ?", now).
			Exec(ctx)
		return err
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: set endpoint of %s: %w", merchantID, err)
	}
	return ep.endpoint(), nil
}

// Endpoint returns the merchant's endpoint. Errors: ErrNotFound.
func (s *Service) Endpoint(ctx context.Context, merchantID string) (Endpoint, error) {
	var ep endpointRow
	err := s.db.NewSelect().Model(&ep).Where("merchant_id = ?", merchantID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, fmt.Errorf("%w: no webhook endpoint for merchant %q", ErrNotFound, merchantID)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: endpoint of %s: %w", merchantID, err)
	}
	return ep.endpoint(), nil
}

// RotateSecret gives the merchant's endpoint a new signing secret and returns it. For 24 hours
// after, deliveries carry two webhook-signature entries, one under each secret, so a receiver
// verifying with either keeps accepting them while it switches; settle-signature uses the new
// secret only. Errors: ErrNotFound if the merchant has no endpoint.
func (s *Service) RotateSecret(ctx context.Context, merchantID string) (Endpoint, error) {
	secret, err := newSecret()
	if err != nil {
		return Endpoint{}, err
	}
	now := s.now()
	var rows []endpointRow
	// The right-hand sides see the row as it was, so previous_secret gets the old secret.
	err = s.db.NewRaw(`UPDATE webhook_endpoints
		SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?, updated_at = ?
		WHERE merchant_id = ?
		RETURNING *`, now.Add(rotationOverlap), secret, now, merchantID).Scan(ctx, &rows)
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: rotate secret of %s: %w", merchantID, err)
	}
	if len(rows) == 0 {
		return Endpoint{}, fmt.Errorf("%w: no webhook endpoint for merchant %q", ErrNotFound, merchantID)
	}
	return rows[0].endpoint(), nil
}

func checkMerchantID(id string) error {
	if id == "" || len(id) > maxIDLength {
		return fmt.Errorf("%w: %q", ErrInvalidMerchant, id)
	}
	return nil
}

func checkURL(raw string) error {
	if len(raw) > MaxURLLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: does not parse", ErrInvalidURL) // the URL may hold credentials: not echoed
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return fmt.Errorf("%w: scheme must be http or https", ErrInvalidURL)
	}
	if u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	return nil
}

// lockEndpoint serialises, on PostgreSQL, the transactions that decide on a merchant's endpoint:
// SetEndpoint, and park, which parks a claimed delivery when there is none. Without it park's
// check could miss an endpoint SetEndpoint had inserted but not committed, while SetEndpoint skips
// the delivery park holds, and the delivery would wait out noEndpointDelay although the endpoint
// exists. A transaction-scoped advisory lock, released at commit. SQLite's writers are serial
// already.
func lockEndpoint(ctx context.Context, tx bun.Tx, merchantID string) error {
	if !database.IsPostgres(tx) {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "settle-webhooks-endpoint:"+merchantID)
	return err
}
