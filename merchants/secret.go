package merchants

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// secretChars is the length of a key's random part: 43 base62 characters carry
	// 43·log2(62) ≈ 256.03 bits, as much as 32 random bytes.
	secretChars = 43
	// PrefixLength is the length of APIKey.Prefix: "sk_live_" and the first 4 random characters.
	PrefixLength = 12
)

// keyPrefix is what a secret key of mode m starts with: "sk_live_" or "sk_test_".
func keyPrefix(m Mode) string { return "sk_" + string(m) + "_" }

// newSecret returns a fresh key of mode m: its prefix and secretChars base62 characters drawn
// uniformly from crypto/rand (bytes of 248 and above are rejected, so that every character is
// equally likely).
func newSecret(m Mode) (string, error) {
	var b strings.Builder
	b.Grow(len(keyPrefix(m)) + secretChars)
	b.WriteString(keyPrefix(m))
	buf := make([]byte, 64)
	for n := 0; n < secretChars; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("merchants: generate key: %w", err)
		}
		for _, c := range buf {
			if c >= 248 { // 248 = 4·62
				continue
			}
			b.WriteByte(base62[c%62])
			if n++; n == secretChars {
				break
			}
		}
	}
	return b.String(), nil
}

// parseSecret reports the mode of a well-formed key, and whether it is well formed.
func parseSecret(key string) (Mode, bool) {
	for _, m := range []Mode{Live, Test} {
		rest, ok := strings.CutPrefix(key, keyPrefix(m))
		if !ok {
			continue
		}
		if len(rest) != secretChars {
			return "", false
		}
		for i := 0; i < len(rest); i++ {
			if strings.IndexByte(base62, rest[i]) < 0 {
				return "", false
			}
		}
		return m, true
	}
	return "", false
}

// hashSecret is the stored form of a key: hex SHA-256. A plain fast hash is the right tool here,
// not a password hash such as bcrypt or argon2: the key is 256 bits from crypto/rand, so there is
// no dictionary to try and brute force is out of reach however fast the hash; a slow hash would
// only cost time on every request. Being unsalted and deterministic, it also lets Authenticate
// find the key by an indexed lookup.
func hashSecret(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
