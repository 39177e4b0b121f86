package ledger

import (
	"errors"
	"time"

	"github.com/shopspring/decimal"
)

// Errors returned by the ledger. Match them with errors.Is; the returned error wraps the sentinel
// with detail (which account, which amount).
var (
	ErrNotFound            = errors.New("ledger: not found")
	ErrInvalidAmount       = errors.New("ledger: invalid amount")         // zero, negative, or too many decimals
	ErrUnbalanced          = errors.New("ledger: entry does not balance") // debits != credits for some asset
	ErrAssetMismatch       = errors.New("ledger: asset mismatch")         // accounts of different assets in one transfer/hold
	ErrInsufficientFunds   = errors.New("ledger: insufficient funds")     // a no-overdraft account would go below zero
	ErrIdempotencyConflict = errors.New("ledger: idempotency key reused with a different request")
	ErrAccountConflict     = errors.New("ledger: account exists with different asset, side or flags")
	ErrHoldNotPending      = errors.New("ledger: hold is not pending") // captured, voided or expired
	ErrInvalidEntry        = errors.New("ledger: invalid entry")       // no postings, unknown direction, missing account code, a key or text the stores cannot hold

	ErrAssetConflict  = errors.New("ledger: asset exists with a different precision")
	ErrInvalidAsset   = errors.New("ledger: invalid asset")   // bad code or precision out of 0–30
	ErrInvalidAccount = errors.New("ledger: invalid account") // bad code, normal side or flags, unencodable metadata or NUL in it

	// ErrAlreadyReversed: the entry has a reversal already; an entry is reversed at most once.
	ErrAlreadyReversed = errors.New("ledger: entry already reversed")
	// ErrReversalOfReversal: the entry is itself a reversal, which cannot be reversed.
	ErrReversalOfReversal = errors.New("ledger: entry is a reversal")
	// ErrInvalidFilter: a History or Entries filter is malformed (a metadata key outside
	// [A-Za-z0-9_-]{1,64}, a cursor that is not one Entries returned).
	ErrInvalidFilter = errors.New("ledger: invalid filter")
)

// Side is an account's normal side, or a posting's direction.
type Side string

// The two sides. An account's normal side is the one that increases its balance: debit-normal
// accounts are assets and expenses (custody, network fees), credit-normal ones liabilities and
// revenue (merchant balances, fees).
const (
	Debit  Side = "debit"
	Credit Side = "credit"
)

// Asset is a unit of account with a fixed precision: Precision fractional digits, so one unit is
// 10^Precision base units (BTC 8, ETH 18, USDT 6).
type Asset struct {
	Code      string // "USDT", upper case, 1–16 characters
	Precision int32  // 0–30
}

// AccountFlags restrict an account.
type AccountFlags uint32

const (
	// NoOverdraft forbids the account's available balance (in its normal direction, holds
	// subtracted) from going below zero. TigerBeetle's debits_must_not_exceed_credits for a
	// credit-normal account, credits_must_not_exceed_debits for a debit-normal one.
	NoOverdraft AccountFlags = 1 << iota
)

// AccountSpec describes an account to create (or find, if one with the same code exists).
type AccountSpec struct {
	Code     string // unique readable path, such as "merchant:mch_…:api:USDT"
	Asset    string // asset code; the asset must exist
	Normal   Side
	Flags    AccountFlags
	Metadata map[string]any
}

// Account is a ledger account.
type Account struct {
	ID        string
	Code      string
	Asset     string
	Normal    Side
	Flags     AccountFlags
	Metadata  map[string]any
	CreatedAt time.Time
}

// Balance is an account's balance in its normal direction, in asset units (not base units).
type Balance struct {
	Account string // account code
	Asset   string
	// Posted is the sum of posted credits minus debits (credit-normal) or debits minus credits
	// (debit-normal). It may be negative on an account without NoOverdraft.
	Posted decimal.Decimal
	// Held is the sum of pending holds that will move value out of the account.
	Held decimal.Decimal
	// Available is Posted minus Held.
	Available decimal.Decimal
}

// PostingInput is one leg of an entry to post.
type PostingInput struct {
	Account   string // account code
	Direction Side   // Debit or Credit
	Amount    decimal.Decimal
}

// EntryInput is a journal entry to post: postings that balance per asset.
type EntryInput struct {
	// IdempotencyKey, if not empty, makes the post idempotent: the same key with the same request
	// returns the first entry; with a different request, ErrIdempotencyConflict. At most
	// MaxKeyBytes of UTF-8 without NUL (ErrInvalidEntry).
	IdempotencyKey string
	// Description and Metadata are free text and JSON; neither may contain a NUL character
	// (ErrInvalidEntry), which no store can hold.
	Description string
	Metadata    map[string]any
	Postings    []PostingInput
}

// Transfer is the common two-leg entry: Amount from Debit account to Credit account (one asset).
func Transfer(idempotencyKey, debit, credit string, amount decimal.Decimal, description string) EntryInput {
	return EntryInput{
		IdempotencyKey: idempotencyKey,
		Description:    description,
		Postings: []PostingInput{
			{Account: debit, Direction: Debit, Amount: amount},
			{Account: credit, Direction: Credit, Amount: amount},
		},
	}
}

// Entry is a posted, immutable journal entry.
type Entry struct {
	ID             string
	IdempotencyKey string
	Description    string
	Metadata       map[string]any
	Postings       []Posting
	CreatedAt      time.Time
	// Reverses is the ID of the entry this one reverses, if it is a reversal (see Reverse).
	Reverses string
	// ReversedBy is the ID of the reversal of this entry, if it has been reversed. It is looked
	// up when the entry is read, so an Entry returned by Post or Reverse has it empty.
	ReversedBy string
	// Hash is the entry's SHA-256 in the ledger's hash chain, 64 lowercase hex digits: it covers
	// the entry's content, its postings with their running balances, and the hash of the previous
	// entry of each account it posts to (see Verify). Empty only for an entry written before the
	// chain existed.
	Hash string
}

// ReverseInput describes a reversal: a new entry that undoes a posted one (see Ledger.Reverse).
type ReverseInput struct {
	// IdempotencyKey, if not empty, makes the reversal idempotent: the same key with the same
	// request returns the first reversal; with a different request, ErrIdempotencyConflict. As
	// EntryInput.IdempotencyKey, and the same rules for Description and Metadata.
	IdempotencyKey string
	Description    string
	Metadata       map[string]any
}

// Posting is one posted leg with the account's running balance around it.
type Posting struct {
	ID        int64
	EntryID   string
	Account   string // account code
	Asset     string
	Direction Side
	Amount    decimal.Decimal
	// Seq numbers the account's postings 1, 2, 3, …: posting n's BalanceBefore is posting n-1's
	// BalanceAfter. Balances are posted balances in the account's normal direction.
	Seq           int64
	BalanceBefore decimal.Decimal
	BalanceAfter  decimal.Decimal
	CreatedAt     time.Time
}

// HoldStatus is a hold's state.
type HoldStatus string

// Hold states. A hold is pending until it is captured or voided, or its deadline passes; a
// pending hold past its deadline reads as expired at once, and ExpireHolds later stores it so.
const (
	HoldPending  HoldStatus = "pending"
	HoldCaptured HoldStatus = "captured"
	HoldVoided   HoldStatus = "voided"
	HoldExpired  HoldStatus = "expired"
)

// HoldInput reserves Amount of the Debit account's available balance for a later transfer to the
// Credit account (a two-phase transfer's pending phase).
type HoldInput struct {
	// IdempotencyKey, Description and Metadata follow EntryInput's rules.
	IdempotencyKey string
	Debit          string // account code whose available balance is reserved
	Credit         string // account code the captured amount is credited to
	Amount         decimal.Decimal
	// ExpiresAt, if not zero, is when an uncaptured hold stops reserving funds.
	ExpiresAt   time.Time
	Description string
	Metadata    map[string]any
}

// Hold is a pending (or finished) two-phase transfer.
type Hold struct {
	ID             string
	IdempotencyKey string
	Debit          string
	Credit         string
	Asset          string
	Amount         decimal.Decimal
	Captured       decimal.Decimal // amount posted by the capture; zero unless captured
	Status         HoldStatus
	ExpiresAt      time.Time // zero: no deadline
	// AvailableBefore and AvailableAfter are the Debit account's available balance just before and
	// just after the hold was placed (the seeds' balanceBefore / balanceAfter for a payout).
	AvailableBefore decimal.Decimal
	AvailableAfter  decimal.Decimal
	EntryID         string // capture's journal entry; empty unless captured
	Description     string
	Metadata        map[string]any
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// PostingFilter selects postings for History. Its filters combine (AND); zero values select
// everything.
type PostingFilter struct {
	Account string // account code; empty: every account
	// AccountPrefix selects accounts whose code starts with it, such as "merchant:mch_…:".
	AccountPrefix string
	Asset         string
	// From and To select postings created in [From, To): From inclusive, To exclusive. A zero
	// time leaves that end open.
	From, To time.Time
	// Metadata selects postings whose entry's metadata has every one of these keys with a JSON
	// string value equal to the given one (a number 1 does not match "1"). Keys must match
	// [A-Za-z0-9_-]{1,64}.
	Metadata map[string]string
	// EntryID selects the postings of one entry.
	EntryID string
	// After is the cursor: postings with ID greater than After (ascending) are returned.
	After int64
	// Limit caps the page; zero means 50, the maximum is 1000.
	Limit int
}

// EntryFilter selects journal entries for Entries: the entries with at least one posting that
// matches all of its filters. Zero values select everything.
type EntryFilter struct {
	Account string // account code; empty: every account
	// AccountPrefix selects accounts whose code starts with it, such as "merchant:mch_…:".
	AccountPrefix string
	// From and To select entries created in [From, To): From inclusive, To exclusive. A zero
	// time leaves that end open.
	From, To time.Time
	// Metadata selects entries whose metadata has every one of these keys with a JSON string
	// value equal to the given one. Keys must match [A-Za-z0-9_-]{1,64}.
	Metadata map[string]string
	// After is the cursor returned by the previous page's call; empty for the first page.
	After string
	// Limit caps the page; zero means 50, the maximum is 1000.
	Limit int
}
