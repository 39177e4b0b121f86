// Package httpapi is settle's REST API as one http.Handler: collections, payouts, balances and
// ledger transactions under /v1, and /health. It uses only net/http (Go 1.22 method-and-path
// patterns), so it mounts in any router: net/http, chi, gin (gin.WrapH) or echo (echo.WrapHandler).
//
// Requests and responses are JSON in snake_case. Amounts are JSON strings or numbers on input,
// parsed exactly as decimals (never as floats), and strings on output. Every response uses one
// envelope (Envelope); errors carry a code (CodeValidation, …) and, for validation errors, the
// fields at fault. Authentication is by API key in the X-API-Key header.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/merchants"
	"github.com/settle-go/settle/payouts"
)

// Config configures the handler. Merchants, Ledger, Collections, Payouts and Chains are required.
type Config struct {
	Merchants   *merchants.Service
	Ledger      *ledger.Ledger
	Collections *collections.Service
	Payouts     *payouts.Service
	Chains      *chains.Registry
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Prefix is prepended to every route, such as "/api" for /api/v1/payouts. Default "".
	Prefix string
	// Version is reported by /health. Default "settle".
	Version string
	// Now defaults to time.Now.
	Now func() time.Time
	// MaxBodyBytes caps request bodies. Default 1 MiB.
	MaxBodyBytes int64
}

type handler struct {
	cfg     Config
	log     *slog.Logger
	started time.Time
	mux     *http.ServeMux
}

// New returns the API handler. Errors: a required Config field is nil.
func New(cfg Config) (http.Handler, error) {
	if cfg.Merchants == nil || cfg.Ledger == nil || cfg.Collections == nil || cfg.Payouts == nil || cfg.Chains == nil {
		return nil, errors.New("httpapi: New needs Merchants, Ledger, Collections, Payouts and Chains")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "settle"
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	h := &handler{cfg: cfg, log: cfg.Logger, started: cfg.Now(), mux: http.NewServeMux()}
	p := cfg.Prefix
	h.mux.HandleFunc("GET "+p+"/health", h.health)
	h.mux.Handle("POST "+p+"/v1/collections", h.auth(h.createCollection))
	h.mux.Handle("GET "+p+"/v1/collections", h.auth(h.listCollections))
	h.mux.Handle("GET "+p+"/v1/collections/{id}", h.auth(h.getCollection))
	h.mux.Handle("POST "+p+"/v1/payouts", h.auth(h.createPayout))
	h.mux.Handle("GET "+p+"/v1/payouts", h.auth(h.listPayouts))
	h.mux.Handle("GET "+p+"/v1/payouts/{id}", h.auth(h.getPayout))
	h.mux.Handle("GET "+p+"/v1/balances", h.auth(h.balances))
	h.mux.Handle("GET "+p+"/v1/transactions", h.auth(h.transactions))
	h.mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Message: "No route for " + r.Method + " " + r.URL.Path})
	})
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "httpapi: panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			writeError(w, &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "Internal server error"})
		}
	}()
	h.mux.ServeHTTP(w, r)
}

// caller is the authenticated merchant of a request.
type caller struct {
	Merchant merchants.Merchant
	Key      merchants.APIKey
}

// mayUse keeps each key to its mode's networks: a test-mode key is refused on a network where
// coins have value, so that a test key leaked from a CI log can never move real funds, and a live
// key on a test network, whose deposits and payouts belong to the test accounts the live key does
// not see (ledger.MerchantAPIFor). An unknown network is left to the flow's validation.
func (h *handler) mayUse(c caller, network chains.NetworkID) error {
	if _, err := h.cfg.Chains.Get(network); err != nil {
		return nil
	}
	if c.test() && !network.IsTestnet() {
		return &apiError{Status: http.StatusForbidden, Code: CodePermission,
			Message: fmt.Sprintf("a test-mode API key cannot use %s: use a live key, or a test network", network)}
	}
	if !c.test() && network.IsTestnet() {
		return &apiError{Status: http.StatusForbidden, Code: CodePermission,
			Message: fmt.Sprintf("a live API key cannot use the test network %s: use a test-mode key", network)}
	}
	return nil
}

// test reports whether c's key is a test-mode key.
func (c caller) test() bool { return c.Key.Mode == merchants.Test }

// networks returns the registered networks of c's mode (test networks for a test key, mainnets for
// a live one): the lists show only objects on them. Never nil, so that a mode without networks
// lists nothing.
func (h *handler) networks(c caller) []chains.NetworkID {
	out := []chains.NetworkID{}
	for _, n := range h.cfg.Chains.Networks() {
		if n.ID().IsTestnet() == c.test() {
			out = append(out, n.ID())
		}
	}
	return out
}

// ownMode answers 404 for an object on a network of the other mode: test and live objects are
// separate worlds, as in mayUse.
func ownMode(c caller, network chains.NetworkID, notFound error, id string) error {
	if network.IsTestnet() != c.test() {
		return fmt.Errorf("%w: %s", notFound, id)
	}
	return nil
}

// auth resolves the X-API-Key header to a merchant, or answers 401.
func (h *handler) auth(next func(http.ResponseWriter, *http.Request, caller) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimSpace(r.Header.Get("X-API-Key"))
		if key == "" {
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: CodeAuthentication, Message: "Missing API key: send it in the X-API-Key header"})
			return
		}
		m, k, err := h.cfg.Merchants.Authenticate(r.Context(), key)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := next(w, r, caller{Merchant: m, Key: k}); err != nil {
			h.fail(w, r, err)
		}
	})
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.Status >= 500 {
		h.log.ErrorContext(r.Context(), "httpapi: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, e)
}

// decode reads a JSON body into v, refusing unknown fields and trailing data.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &typ):
			return validation(typ.Field, "has the wrong type")
		case errors.As(err, &tooBig):
			return validation("body", fmt.Sprintf("is larger than %d bytes", h.cfg.MaxBodyBytes))
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return validation("body", "is not valid JSON")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return validation(f, "is not a known field")
		default:
			return validation("body", err.Error())
		}
	}
	if dec.More() {
		return validation("body", "has data after the JSON object")
	}
	return nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Now()
	writeOK(w, http.StatusOK, "ok", map[string]any{
		"status":    "ok",
		"engine":    h.cfg.Version,
		"timestamp": now.UTC().Format(time.RFC3339),
		"uptime":    int64(now.Sub(h.started) / time.Second),
	}, nil)
}
