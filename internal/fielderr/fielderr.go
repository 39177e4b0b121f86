// Package fielderr is the request-validation error the flow packages share, so that callers
// (httpapi among them) handle one type: which request field is at fault, what is wrong with it,
// the returning package's own sentinel, and the cause. collections.ValidationError and
// payouts.ValidationError are aliases of Error.
package fielderr

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error names the request field at fault. It unwraps to Kind (the returning package's sentinel,
// such as payouts.ErrValidation) and to Err, the cause, where there is one (such as
// chains.ErrInvalidAddress).
type Error struct {
	// Field is the request field, in the API's snake_case: "amount", "to_address".
	Field string
	// Message says what is wrong, for people: "must be at least 0.01".
	Message string
	// Kind is the returning package's validation sentinel.
	Kind error
	// Err is the cause, or nil.
	Err error
}

// Error returns "<kind>: <field>: <message>".
func (e *Error) Error() string {
	kind := "invalid request"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	return fmt.Sprintf("%s: %s: %s", kind, e.Field, e.Message)
}

// Unwrap returns Kind and Err, those that are set.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Limits on the free text and metadata a merchant sends with a request. Both ride on webhook
// events, whose data is capped (webhooks.MaxDataBytes): a larger value would be accepted with the
// request and then fail every later event of its object, such as the credit of its deposit.
const (
	// MaxReferenceBytes caps a reference (collections' reference, payouts' merchant_reference).
	MaxReferenceBytes = 255
	// MaxMetadataBytes caps metadata, encoded as JSON: 16 KiB.
	MaxMetadataBytes = 16 << 10
)

// CheckText says what is wrong with a free-text value: longer than max bytes, not UTF-8, or
// holding control characters (NUL among them, which no database column takes); "" when nothing.
func CheckText(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("is %d bytes, at most %d", len(s), max)
	case !utf8.ValidString(s):
		return "is not UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains control characters"
	}
	return ""
}

// CheckMetadata says what is wrong with metadata: not encodable as JSON, larger than
// MaxMetadataBytes encoded, or holding a NUL character anywhere (PostgreSQL's JSONB refuses
// \u0000); "" when nothing.
func CheckMetadata(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "cannot be encoded as JSON: " + err.Error()
	}
	if len(b) > MaxMetadataBytes {
		return fmt.Sprintf("is %d bytes as JSON, at most %d", len(b), MaxMetadataBytes)
	}
	if JSONHasNUL(b) {
		return "contains a NUL character"
	}
	return ""
}

// JSONHasNUL reports whether encoded JSON, as encoding/json writes it, holds a NUL character in a
// string or a key: the escape \u0000, which PostgreSQL's JSONB refuses. The text \u0000 itself
// (a backslash, then u0000) is written \\u0000 and is not a NUL.
func JSONHasNUL(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+5 < len(b) && string(b[i+1:i+6]) == "u0000" {
			return true
		}
		i++ // the escaped character
	}
	return false
}
