package merchants

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/ids"
)

// lastUsedResolution is how stale APIKey.LastUsedAt may get: Authenticate writes it at most once
// a minute per key, not on every request.
const lastUsedResolution = time.Minute

// Mode says which network a key acts on: mainnets (Live) or testnets (Test).
type Mode string

// Modes of a key.
const (
	// Live keys act on mainnets and move real money; their secrets start "sk_live_".
	Live Mode = "live"
	// Test keys act on testnets; their secrets start "sk_test_".
	Test Mode = "test"
)

// Valid reports whether m is Live or Test.
func (m Mode) Valid() bool { return m == Live || m == Test }

// APIKey describes a merchant's API key. The key itself is returned once, by CreateAPIKey or
// RotateAPIKey, and never stored.
type APIKey struct {
	ID         string // "key_" + 32 hex digits
	MerchantID string
	Mode       Mode
	// Prefix is the key's first 12 characters, such as "sk_live_7Gq2", for telling keys apart
	// in a dashboard.
	Prefix    string
	CreatedAt time.Time
	// RevokedAt is when the key was revoked, nil while it is active.
	RevokedAt *time.Time
	// LastUsedAt is when the key last authenticated, to the minute; nil if never.
	LastUsedAt *time.Time
}

// CreateAPIKey makes a new key of mode for the merchant, next to its existing keys, and returns
// it with the secret key: "sk_live_" or "sk_test_" followed by 43 base62 characters (256 random
// bits). The secret is not stored and cannot be shown again. Errors: ErrInvalidMode, ErrNotFound.
func (s *Service) CreateAPIKey(ctx context.Context, merchantID string, mode Mode) (APIKey, string, error) {
	if !mode.Valid() {
		return APIKey{}, "", fmt.Errorf("%w: %q", ErrInvalidMode, mode)
	}
	if _, err := getMerchant(ctx, s.db, merchantID, false); err != nil {
		return APIKey{}, "", err
	}
	return s.insertKey(ctx, s.db, merchantID, mode)
}

// RotateAPIKey makes a new key of mode for the merchant and, in the same transaction, revokes
// all the merchant's other keys of that mode, effective immediately. Keys of the other mode are
// untouched. Concurrent rotations of one merchant are serialized, so exactly one key of the mode
// survives. Errors: ErrInvalidMode, ErrNotFound.
func (s *Service) RotateAPIKey(ctx context.Context, merchantID string, mode Mode) (APIKey, string, error) {
	if !mode.Valid() {
		return APIKey{}, "", fmt.Errorf("%w: %q", ErrInvalidMode, mode)
	}
	var (
		key    APIKey
		secret string
	)
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := getMerchant(ctx, tx, merchantID, true); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*apiKeyRow)(nil)).Set("revoked_at = ?", s.clock()).
			Where("merchant_id = ?", merchantID).Where("mode = ?", string(mode)).Where("revoked_at IS NULL").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("merchants: revoke %s keys of %s: %w", mode, merchantID, err)
		}
		key, secret, err = s.insertKey(ctx, tx, merchantID, mode)
		return err
	})
	return key, secret, err
}

// insertKey stores a fresh key's hash through db and returns the key with its secret.
func (s *Service) insertKey(ctx context.Context, db bun.IDB, merchantID string, mode Mode) (APIKey, string, error) {
	secret, err := newSecret(mode)
	if err != nil {
		return APIKey{}, "", err
	}
	row := apiKeyRow{
		ID: ids.New("key"), MerchantID: merchantID, Mode: string(mode), Prefix: secret[:PrefixLength],
		KeyHash: hashSecret(secret), CreatedAt: s.clock(),
	}
	if _, err := db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return APIKey{}, "", fmt.Errorf("merchants: store key for %s: %w", merchantID, err)
	}
	return row.apiKey(), secret, nil
}

// RevokeAPIKey revokes one of the merchant's keys, effective immediately. Revoking a revoked key
// does nothing and keeps its first RevokedAt. Errors: ErrNotFound if the merchant has no such key
// (another merchant's key is not found either).
func (s *Service) RevokeAPIKey(ctx context.Context, merchantID, keyID string) error {
	res, err := s.db.NewUpdate().Model((*apiKeyRow)(nil)).Set("revoked_at = COALESCE(revoked_at, ?)", s.clock()).
		Where("id = ?", keyID).Where("merchant_id = ?", merchantID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("merchants: revoke key %s: %w", keyID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("merchants: revoke key %s: %w", keyID, err)
	} else if n == 0 {
		return fmt.Errorf("%w: key %q of merchant %q", ErrNotFound, keyID, merchantID)
	}
	return nil
}

// APIKeys lists the merchant's keys, revoked ones included, newest first. A merchant without keys,
// or an unknown merchant, has none.
func (s *Service) APIKeys(ctx context.Context, merchantID string) ([]APIKey, error) {
	var rows []apiKeyRow
	err := s.db.NewSelect().Model(&rows).Where("merchant_id = ?", merchantID).OrderExpr("created_at DESC, id DESC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("merchants: keys of %s: %w", merchantID, err)
	}
	out := make([]APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.apiKey()
	}
	return out, nil
}

// Authenticate returns the merchant and key that a presented secret key belongs to, and records
// the key's use (at most once a minute). It looks the key up by its SHA-256 hash and compares
// the hashes in constant time. Errors: ErrInvalidAPIKey, unwrapped, for a malformed, unknown or
// revoked key alike; or a database error.
func (s *Service) Authenticate(ctx context.Context, key string) (Merchant, APIKey, error) {
	mode, ok := parseSecret(key)
	if !ok {
		return Merchant{}, APIKey{}, ErrInvalidAPIKey
	}
	hash := hashSecret(key)
	var rows []authRow
	err := s.db.NewRaw(`SELECT k.id, k.merchant_id, k.mode, k.prefix, k.key_hash, k.created_at, k.revoked_at, k.last_used_at,
			m.name AS merchant_name, m.created_at AS merchant_created_at
		FROM merchant_api_keys AS k JOIN merchants AS m ON m.id = k.merchant_id
		WHERE k.key_hash = ?`, hash).Scan(ctx, &rows)
	if err != nil {
		return Merchant{}, APIKey{}, fmt.Errorf("merchants: authenticate: %w", err)
	}
	if len(rows) != 1 {
		return Merchant{}, APIKey{}, ErrInvalidAPIKey
	}
	row := rows[0]
	if subtle.ConstantTimeCompare([]byte(row.KeyHash), []byte(hash)) != 1 || row.Mode != string(mode) {
		return Merchant{}, APIKey{}, ErrInvalidAPIKey
	}
	if !row.RevokedAt.IsZero() {
		s.log.InfoContext(ctx, "merchants: revoked API key presented", "key", row.ID, "merchant", row.MerchantID)
		return Merchant{}, APIKey{}, ErrInvalidAPIKey
	}
	now := s.clock()
	if row.LastUsedAt.IsZero() || now.Sub(row.LastUsedAt) >= lastUsedResolution {
		// Bookkeeping only: a failure here must not turn away a valid key.
		_, err := s.db.NewUpdate().Model((*apiKeyRow)(nil)).Set("last_used_at = ?", now).Where("id = ?", row.ID).Exec(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "merchants: record API key use", "key", row.ID, "err", err)
		} else {
			row.LastUsedAt = now
		}
	}
	m := Merchant{ID: row.MerchantID, Name: row.MerchantName, CreatedAt: row.MerchantCreatedAt.UTC()}
	return m, row.apiKeyRow().apiKey(), nil
}

// authRow is a key joined with its merchant.
type authRow struct {
	ID                string    `bun:"id"`
	MerchantID        string    `bun:"merchant_id"`
	Mode              string    `bun:"mode"`
	Prefix            string    `bun:"prefix"`
	KeyHash           string    `bun:"key_hash"`
	CreatedAt         time.Time `bun:"created_at"`
	RevokedAt         time.Time `bun:"revoked_at"`
	LastUsedAt        time.Time `bun:"last_used_at"`
	MerchantName      string    `bun:"merchant_name"`
	MerchantCreatedAt time.Time `bun:"merchant_created_at"`
}

func (r authRow) apiKeyRow() apiKeyRow {
	return apiKeyRow{
		ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, Prefix: r.Prefix, KeyHash: r.KeyHash,
		CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt, LastUsedAt: r.LastUsedAt,
	}
}
