// Package collections hands out single-use collection addresses and turns confirmed deposits to
// them into ledger credits on the merchant's API account (seed 000).
//
// A collection asks a customer to pay an expected amount of one token on one network to a fresh
// address, derived from an extended public key or through the network's Signer (never a private
// key in the database). The watcher records every transfer it sees to a watched address; once a
// deposit has the network's required confirmations it is credited exactly once, however often it
// is seen: debit custody:<network>:<asset>, credit merchant:<id>:api:<asset>, in the same database
// transaction as the deposit's and collection's status and the webhook event. A collection goes
// CREATED → SUCCESSFUL when the credited total reaches the expected amount, or CREATED → FAILED when
// it expires unpaid. Money that arrives late, short or in excess is still credited and reported,
// never dropped.
package collections

import (
	"errors"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/fielderr"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/webhooks"
)

// Status is a collection's state.
type Status string

// The collection states of seed 000.
const (
	StatusCreated    Status = "CREATED"
	StatusSuccessful Status = "SUCCESSFUL"
	StatusFailed     Status = "FAILED"
)

// Errors returned by the service; match with errors.Is.
var (
	// ErrValidation: every *ValidationError this package returns unwraps to it.
	ErrValidation = errors.New("collections: invalid request")
	// ErrNotFound: no such collection for this merchant.
	ErrNotFound = errors.New("collections: not found")
	// ErrNoDeriver: the network cannot hand out addresses (its adapter lacks chains.AddressDeriver).
	ErrNoDeriver = errors.New("collections: network cannot derive addresses")
)

// ValidationError names the request field at fault (Field, Message). It unwraps to ErrValidation
// and, where there is one, to the cause. It is the type all flow packages share
// (fielderr.Error), so one errors.As handles every flow's validation errors.
type ValidationError = fielderr.Error

// Config configures a Service. Ledger, Chains and Webhooks are required.
type Config struct {
	Ledger   *ledger.Ledger
	Chains   *chains.Registry
	Webhooks *webhooks.Service
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// DefaultTTL is how long a collection waits for payment when the request names none.
	// Default 60 minutes. Requests may ask for 1 minute to 7 days.
	DefaultTTL time.Duration
	// LateWindow is how long after expiry an address is still watched, so that late money is
	// credited rather than lost. Default 7 days.
	LateWindow time.Duration
	// Confirmations is the number of confirmations a deposit needs per network before it is
	// credited. Networks not listed use chains.DefaultConfirmations.
	Confirmations map[chains.NetworkID]uint64
	// PollInterval is how often Run scans the chains. Default 5 s.
	PollInterval time.Duration
	// ScanWindow caps the blocks scanned in one call to a watcher. Default 2000.
	ScanWindow uint64
	// ReorgDepth is how many blocks below the cursor are scanned again when the block the cursor
	// stopped at is no longer on the canonical chain: a reorg deeper than the confirmations, which
	// would otherwise hide a deposit mined again below the usual rescan. Default 128.
	ReorgDepth uint64
}

// Collection is a request for payment to a single-use address.
type Collection struct {
	ID         string           `json:"id"` // "col_…"
	MerchantID string           `json:"merchant_id"`
	Network    chains.NetworkID `json:"network"`
	Token      string           `json:"token"` // ledger asset code, such as "USDT"
	Address    string           `json:"address"`
	// Amount is the expected amount in token units; Received is what has been credited so far.
	Amount    decimal.Decimal `json:"amount"`
	Received  decimal.Decimal `json:"received"`
	Status    Status          `json:"status"`
	Reference string          `json:"reference,omitempty"`
	Metadata  map[string]any  `json:"metadata,omitempty"`
	ExpiresAt time.Time       `json:"expires_at"`
	// PaidAt is when the collection became SUCCESSFUL.
	PaidAt    *time.Time `json:"paid_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Deposit is a transfer to a collection address that the watcher has seen.
type Deposit struct {
	ID            string           `json:"id"` // "dep_…"
	CollectionID  string           `json:"collection_id"`
	MerchantID    string           `json:"merchant_id"`
	Network       chains.NetworkID `json:"network"`
	Token         string           `json:"token"`
	TxHash        string           `json:"tx_hash"`
	Index         uint32           `json:"tx_index"`
	Address       string           `json:"address"`
	Amount        decimal.Decimal  `json:"amount"`
	BlockHeight   uint64           `json:"block_height"`
	BlockHash     string           `json:"block_hash"`
	Confirmations uint64           `json:"confirmations"`
	Status        DepositStatus    `json:"status"`
	// Late is true for money that arrived after the collection had failed; Excess for money past
	// the expected amount. Both are credited.
	Late      bool      `json:"late"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DepositStatus is a deposit's state.
type DepositStatus string

// Deposit states: seen in a block, credited to the ledger, or orphaned by a reorg before credit.
const (
	DepositConfirming DepositStatus = "confirming"
	DepositCredited   DepositStatus = "credited"
	DepositOrphaned   DepositStatus = "orphaned"
)

// CreateInput is a request for a new collection.
type CreateInput struct {
	MerchantID string
	Network    chains.NetworkID
	Token      string
	// Amount is the expected amount in token units, positive, at most the token's ledger precision.
	Amount decimal.Decimal
	// TTL is how long to wait for payment; zero means Config.DefaultTTL.
	TTL       time.Duration
	Reference string
	Metadata  map[string]any
}

// ListFilter selects collections for List.
type ListFilter struct {
	Status Status
	Page   int // from 1; default 1
	Limit  int // default 20, max 100
	// Networks keeps only those on these networks. nil: every network; an empty, non-nil slice
	// selects nothing.
	Networks []chains.NetworkID
}
