package httpapi

import (
	"encoding/json"
	"net/http"
)

// Error codes of the API (DESIGN.md); every error response carries one in "code".
const (
	CodeValidation          = "validation_error"
	CodeAuthentication      = "authentication_error"
	CodePermission          = "permission_error"
	CodeNotFound            = "not_found_error"
	CodeInsufficientBalance = "insufficient_balance"
	CodeConflict            = "conflict_error"
	CodeRateLimit           = "rate_limit_error"
	CodeInternal            = "internal_error"
)

// Envelope is the shape of every response: on success Data (and Pagination for lists) is set; on
// failure Error, Code and, for validation errors, Errors (field name → messages).
type Envelope struct {
	Success    bool                `json:"success"`
	StatusCode int                 `json:"status_code"`
	Message    string              `json:"message"`
	Data       any                 `json:"data,omitempty"`
	Pagination *Pagination         `json:"pagination,omitempty"`
	Error      string              `json:"error,omitempty"`
	Code       string              `json:"code,omitempty"`
	Errors     map[string][]string `json:"errors,omitempty"`
}

// Pagination describes a page of a list: page-numbered (Page, Limit, Total) or cursor-based
// (Limit, NextCursor; an empty NextCursor means the last page).
type Pagination struct {
	Page       int    `json:"page,omitempty"`
	Limit      int    `json:"limit"`
	Total      int    `json:"total,omitempty"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeOK(w http.ResponseWriter, status int, message string, data any, page *Pagination) {
	writeJSON(w, status, Envelope{Success: true, StatusCode: status, Message: message, Data: data, Pagination: page})
}

// apiError is an error response ready to write.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  map[string][]string
}

func (e *apiError) Error() string { return e.Message }

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, Envelope{
		Success:    false,
		StatusCode: e.Status,
		Message:    e.Message,
		Error:      e.Message,
		Code:       e.Code,
		Errors:     e.Fields,
	})
}

func validation(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: field + ": " + msg,
		Fields: map[string][]string{field: {msg}}}
}
