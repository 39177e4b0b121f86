package ledger

import (
	"fmt"
	"strings"
	"unicode/utf8"
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
	if _, err := encodeMeta(meta); err != nil {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	if path, ok := metaNUL(meta, "metadata"); ok {
		return fmt.Errorf("%w: %s contains a NUL character", sentinel, path)
	}
	return nil
}

// metaNUL finds a NUL in metadata's keys or string values, however deep, and returns where.
// Invalid UTF-8 needs no check here: encoding/json replaces it.
func metaNUL(v any, path string) (string, bool) {
	switch v := v.(type) {
	case string:
		return path, strings.IndexByte(v, 0) >= 0
	case map[string]any:
		for k, x := range v {
			if strings.IndexByte(k, 0) >= 0 {
				return path + " key " + fmt.Sprintf("%q", k), true
			}
			if p, ok := metaNUL(x, path+"."+k); ok {
				return p, true
			}
		}
	case []any:
		for i, x := range v {
			if p, ok := metaNUL(x, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	}
	return "", false
}
