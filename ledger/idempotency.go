package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// requestHash is the SHA-256 of a canonical JSON encoding of a write request: a tag naming the
// operation and its fields in a fixed order, amounts normalized (1.50 and 1.5 are one amount),
// times in UTC microseconds, metadata with sorted keys.
func requestHash(op string, fields ...any) string {
	b, err := json.Marshal(append([]any{op}, fields...))
	if err != nil {
		// Only metadata can fail to encode, and it is validated before hashing; keep the error
		// visible in the hash rather than panicking.
		b = []byte(op + "\x00unencodable:" + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func entryHash(in EntryInput) string {
	legs := make([][3]string, len(in.Postings))
	for i, p := range in.Postings {
		legs[i] = [3]string{p.Account, string(p.Direction), canonDecimal(p.Amount)}
	}
	meta, _ := encodeMeta(in.Metadata)
	return requestHash("entry", in.Description, meta, legs)
}

func holdHash(in HoldInput, expiresAt time.Time) string {
	meta, _ := encodeMeta(in.Metadata)
	exp := ""
	if !expiresAt.IsZero() {
		exp = expiresAt.UTC().Format(time.RFC3339Nano)
	}
	return requestHash("hold", in.Debit, in.Credit, canonDecimal(in.Amount), exp, in.Description, meta)
}

func captureHash(holdID string, amount units) string {
	return requestHash("capture", holdID, amount.String())
}

// entryByKey looks up the entry written with idempotency key. It returns the entry's id, or "" if
// the key is unused. Errors: ErrIdempotencyConflict if the key was used for a different request.
func entryByKey(ctx context.Context, db bun.IDB, key, hash string) (string, error) {
	return byKey(ctx, db, "ledger_entries", "entry", key, hash)
}

// holdByKey is entryByKey for holds.
func holdByKey(ctx context.Context, db bun.IDB, key, hash string) (string, error) {
	return byKey(ctx, db, "ledger_holds", "hold", key, hash)
}

func byKey(ctx context.Context, db bun.IDB, table, what, key, hash string) (string, error) {
	if key == "" {
		return "", nil
	}
	var id, got string
	err := db.QueryRowContext(ctx, "SELECT id, request_hash FROM "+table+" WHERE idempotency_key = ?", key).Scan(&id, &got)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if got != hash {
		return "", fmt.Errorf("%w: key %q was used for %s %s", ErrIdempotencyConflict, key, what, id)
	}
	return id, nil
}

// nullKey stores an empty idempotency key as NULL, which never conflicts.
func nullKey(key string) any {
	if key == "" {
		return nil
	}
	return key
}
