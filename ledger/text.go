package ledger

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/settle-go/settle/internal/fielderr"
)

// MaxKeyBytes caps an idempotency key: 255 bytes, as Stripe's keys, and far below what a
// PostgreSQL index entry can hold (a longer key would fail the database statement, and with it
// every entry of a batch, instead of failing alone).
const MaxKeyBytes = 255

// validateKey checks an idempotency key: at most MaxKeyBytes of UTF-8 without NUL (empty means
// none). Errors: sentinel, wrapped.
func validateKey(key string, sentinel error) error {
	switch {
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: idempotency key is %d bytes, at most %d", sentinel, len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: idempotency key is not UTF-8", sentinel)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: idempotency key contains a NUL character", sentinel)
	}
	return nil
}

// validateText checks a description and metadata: UTF-8 without NUL anywhere (neither store can
// hold a NUL: PostgreSQL's TEXT and JSONB refuse it, and bun cannot quote it for SQLite), and
// metadata that encodes as JSON. Caught here, such input fails its own entry; caught by the
// database, it would fail every entry of its batch. Errors: sentinel, wrapped.
func validateText(description string, meta map[string]any, sentinel error) error {
	if !utf8.ValidString(description) {
		return fmt.Errorf("%w: description is not UTF-8", sentinel)
	}
	if strings.IndexByte(description, 0) >= 0 {
		return fmt.Errorf("%w: description contains a NUL character", sentinel)
	}
	enc, err := encodeMeta(meta)
	if err != nil {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	if enc != nil && fielderr.JSONHasNUL([]byte(enc.(string))) {
		return fmt.Errorf("%w: metadata contains a NUL character", sentinel)
	}
	return nil
}
