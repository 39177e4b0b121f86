// Package fielderr is the request-validation error the flow packages share, so that callers
// (httpapi among them) handle one type: which request field is at fault, what is wrong with it,
// the returning package's own sentinel, and the cause. collections.ValidationError and
// payouts.ValidationError are aliases of Error.
package fielderr

import "fmt"

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
