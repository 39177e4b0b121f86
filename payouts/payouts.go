// Package payouts sends a merchant's funds to external addresses (seed 001).
//
// A payout request names a network, a token, an amount (at least 0.01 token units) and a
// destination address, which the network's validator checks. The optional merchant_reference is
// unique per merchant and makes the request idempotent: a repeat returns the first payout. A valid
// request places a hold on the merchant's API account for the amount (so the available balance
// drops at once) and stores the payout as PENDING, together with its webhook-free audit fields, in
// one database transaction; insufficient available balance writes nothing.
//
// A processor then works each PENDING payout through recorded stages, each a committed row, so
// that a crash at any point resumes without paying twice or losing track:
//
//	queued → signed (the signed transaction is stored before it is broadcast)
//	       → broadcast → COMPLETED (confirmed on chain: hold captured into custody, payout.successful)
//	                   → FAILED    (reverted on chain, or refused before broadcast: hold voided, payout.failed)
//
// A FAILED payout is never retried automatically (seed 001): the merchant creates a new one.
package payouts

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

// Status is a payout's state as the API shows it.
type Status string

// The payout states of seed 001.
const (
	StatusPending   Status = "PENDING"
	StatusCompleted Status = "COMPLETED"
	StatusFailed    Status = "FAILED"
)

// Stage is where a PENDING payout is in its processing.
type Stage string

// The processing stages; see the package documentation.
const (
	StageQueued    Stage = "queued"
	StageSigned    Stage = "signed"
	StageBroadcast Stage = "broadcast"
	StageDone      Stage = "done"
)

// Errors returned by the service; match with errors.Is.
var (
	// ErrValidation: every *ValidationError this package returns unwraps to it (HTTP 400
	// validation_error; 422 when the cause is chains.ErrInvalidAddress).
	ErrValidation = errors.New("payouts: invalid request")
	// ErrInsufficientBalance: the API account's available balance is below the amount (HTTP 400
	// insufficient_balance). It also matches ledger.ErrInsufficientFunds.
	ErrInsufficientBalance = errors.New("payouts: insufficient balance")
	// ErrReferenceConflict: the merchant_reference was used before for a different request.
	ErrReferenceConflict = errors.New("payouts: merchant_reference already used for a different payout")
	// ErrNotFound: no such payout for this merchant.
	ErrNotFound = errors.New("payouts: not found")
)

// ValidationError names the request field at fault (Field, Message). It unwraps to ErrValidation
// and, where there is one, to the cause. It is the type all flow packages share
// (fielderr.Error), so one errors.As handles every flow's validation errors.
type ValidationError = fielderr.Error

// MinAmount is the smallest payout, in token units (seed 001).
var MinAmount = decimal.New(1, -2)

// Config configures a Service. Ledger, Chains and Webhooks are required.
type Config struct {
	Ledger   *ledger.Ledger
	Chains   *chains.Registry
	Webhooks *webhooks.Service
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Confirmations per network before a payout is COMPLETED; networks not listed need
	// chains.DefaultConfirmations.
	Confirmations map[chains.NetworkID]uint64
	// PollInterval is how often Run works the queue. Default 2 s.
	PollInterval time.Duration
	// RebroadcastAfter is how long a broadcast transaction may stay unknown to the node before it
	// is sent again (the same signed bytes, so never a second payment). Default 1 minute.
	RebroadcastAfter time.Duration
}

// Payout is a payout request and its progress.
type Payout struct {
	ID                string           `json:"id"` // "pay_…"
	MerchantID        string           `json:"merchant_id"`
	Network           chains.NetworkID `json:"network"`
	Token             string           `json:"token"`
	Amount            decimal.Decimal  `json:"amount"`
	ToAddress         string           `json:"to_address"`
	MerchantReference string           `json:"merchant_reference,omitempty"`
	Status            Status           `json:"status"`
	Stage             Stage            `json:"stage"`
	TxHash            string           `json:"tx_hash,omitempty"`
	// BalanceBefore and BalanceAfter are the API account's available balance just before and just
	// after the payout's hold (the seeds' balanceBefore / balanceAfter).
	BalanceBefore decimal.Decimal `json:"balance_before"`
	BalanceAfter  decimal.Decimal `json:"balance_after"`
	FailureReason string          `json:"failure_reason,omitempty"`
	ClientIP      string          `json:"-"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	CompletedAt   *time.Time      `json:"completed_at,omitempty"`
}

// CreateInput is a payout request.
type CreateInput struct {
	MerchantID string
	Network    chains.NetworkID
	Token      string
	// Amount in token units: at least MinAmount, at most the token's ledger precision.
	Amount    decimal.Decimal
	ToAddress string
	// MerchantReference, if set, is unique per merchant and makes the request idempotent.
	MerchantReference string
	// ClientIP is stored for auditing.
	ClientIP string
}

// ListFilter selects payouts for List.
type ListFilter struct {
	Status Status
	Page   int // from 1
	Limit  int // default 20, max 100
	// Networks keeps only those on these networks. nil: every network; an empty, non-nil slice
	// selects nothing.
	Networks []chains.NetworkID
}
