// Package ids makes settle's public identifiers: a short type prefix, an underscore and a
// time-ordered UUIDv7 in 32 lower-case hex digits, such as "pay_0193a1c2e3f47a8b9c0d1e2f3a4b5c6d".
// Time order keeps B-tree inserts local and makes ids sort by creation.
package ids

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// New returns prefix + "_" + 32 hex digits of a fresh UUIDv7. It never fails: should the system
// random source fail, it falls back to a random UUIDv4, which uuid.New panics on only if the
// random source is broken for good.
func New(prefix string) string {
	u, err := uuid.NewV7()
	if err != nil {
		u = uuid.New()
	}
	return prefix + "_" + hex.EncodeToString(u[:])
}
