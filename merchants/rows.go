package merchants

import (
	"time"

	"github.com/uptrace/bun"
)

type merchantRow struct {
	bun.BaseModel `bun:"table:merchants"`

	ID        string    `bun:"id,pk"`
	Name      string    `bun:"name"`
	CreatedAt time.Time `bun:"created_at"`
}

func (r merchantRow) merchant() Merchant {
	return Merchant{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
}

type apiKeyRow struct {
	bun.BaseModel `bun:"table:merchant_api_keys"`

	ID         string    `bun:"id,pk"`
	MerchantID string    `bun:"merchant_id"`
	Mode       string    `bun:"mode"`
	Prefix     string    `bun:"prefix"`
	KeyHash    string    `bun:"key_hash"`
	CreatedAt  time.Time `bun:"created_at"`
	RevokedAt  time.Time `bun:"revoked_at,nullzero"`
	LastUsedAt time.Time `bun:"last_used_at,nullzero"`
}

func (r apiKeyRow) apiKey() APIKey {
	return APIKey{
		ID: r.ID, MerchantID: r.MerchantID, Mode: Mode(r.Mode), Prefix: r.Prefix, CreatedAt: r.CreatedAt.UTC(),
		RevokedAt: optTime(r.RevokedAt), LastUsedAt: optTime(r.LastUsedAt),
	}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
