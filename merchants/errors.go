package merchants

import "errors"

// Errors returned by the service. Match them with errors.Is; returned errors wrap them with
// detail, except ErrInvalidAPIKey, which Authenticate returns bare.
var (
	// ErrNotFound: no such merchant, or no such key of that merchant.
	ErrNotFound = errors.New("merchants: not found")
	// ErrInvalidName: a merchant name that is empty after trimming spaces, longer than
	// MaxNameLength characters, not UTF-8, or holding control characters.
	ErrInvalidName = errors.New("merchants: invalid name")
	// ErrInvalidMode: a mode other than Live or Test.
	ErrInvalidMode = errors.New("merchants: invalid mode")
	// ErrInvalidAPIKey: a key that is malformed, unknown or revoked. One error for all three, so
	// a caller learns nothing about which keys exist.
	ErrInvalidAPIKey = errors.New("merchants: invalid API key")
)
