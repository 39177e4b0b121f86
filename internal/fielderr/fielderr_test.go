package fielderr_test

import (
	"encoding/json"
	"testing"

	"github.com/settle-go/settle/internal/fielderr"
)

// TestJSONHasNUL: a NUL in any string or key of the encoded value is found, however deep and
// whatever the Go type held it; the text backslash-u0000 is not a NUL.
func TestJSONHasNUL(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{map[string]any{"a": "x\x00y"}, true},
		{map[string]any{"k\x00": 1}, true},
		{map[string]any{"a": []string{"ok", "b\x00"}}, true},
		{map[string]any{"a": map[string]any{"b": []any{1, "\x00"}}}, true},
		{map[string]any{"a": `\u0000`}, false},    // the six characters, encoded \\u0000
		{map[string]any{"a": `\` + "\x00"}, true}, // a backslash, then a NUL: \\\u0000
		{map[string]any{"a": "tab\tquote\"é"}, false},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := fielderr.JSONHasNUL(b); got != tc.want {
			t.Errorf("JSONHasNUL(%s) = %v, want %v", b, got, tc.want)
		}
	}
}
