// Package merchants keeps settle's tenants and their API keys.
//
// A merchant has any number of API keys per mode (live, test). A key is shown once, when it is
// created: "sk_live_" or "sk_test_" followed by 43 base62 characters (256 bits from crypto/rand).
// The database keeps only its SHA-256 hash and a 12-character display prefix, so a leaked
// database does not leak usable keys. [Service.Authenticate] turns a presented key into its
// merchant, with one error, ErrInvalidAPIKey, for every key that does not authenticate.
package merchants
