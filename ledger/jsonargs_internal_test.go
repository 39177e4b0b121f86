package ledger

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONString checks the hand-written encoder against encoding/json's decoder.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\x00\x1f", "ünïcödé ✓ 🚀", "</script>&"} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil || got != s {
			t.Errorf("%q: decoded %q, %v", s, got, err)
		}
	}
}
