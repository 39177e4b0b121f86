package main

import (
	"errors"
	"slices"
	"time"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/ledger"
)

// Result is what a run measured. Durations in the JSON are milliseconds or seconds, as named.
type Result struct {
	Store    string  `json:"store"` // "postgres" or "sqlite"
	Accounts int     `json:"accounts"`
	Workers  int     `json:"workers"`
	Seed     uint64  `json:"seed"`
	WarmupS  float64 `json:"warmup_s"`
	// GroupCommit: the run posted through the ledger's group commit.
	GroupCommit bool `json:"group_commit,omitempty"`
	// ElapsedS is the measured phase as it ran: from the end of the warm-up until the last
	// transfer started in it returned (shorter if interrupted).
	ElapsedS float64 `json:"elapsed_s"`
	// Transfers is the number of transfers started in the measured phase that committed.
	Transfers       int64        `json:"transfers"`
	TransfersPerSec float64      `json:"transfers_per_s"`
	Latency         LatencyStats `json:"latency"`
	Errors          ErrorCounts  `json:"errors"`
	// WarmupTransfers committed during the warm-up (in the database, not in the figures).
	WarmupTransfers int64 `json:"warmup_transfers"`
	// Database size before the first transfer and after the last, and their difference divided
	// by every committed transfer (warm-up included).
	BytesBefore      int64        `json:"bytes_before"`
	BytesAfter       int64        `json:"bytes_after"`
	BytesPerTransfer float64      `json:"bytes_per_transfer"`
	Verify           VerifyResult `json:"verify"`
	Interrupted      bool         `json:"interrupted"` // stopped early (signal)
}

// Failed reports whether the run should exit non-zero: Verify found problems, or a transfer
// failed for a reason other than insufficient funds.
func (r Result) Failed() bool {
	return !r.Verify.OK || r.Errors.RetriesExhausted > 0 || r.Errors.Other > 0
}

// LatencyStats are exact nearest-rank percentiles over every measured transfer's latency (the
// time Post took, committed or not), in milliseconds.
type LatencyStats struct {
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// latencyStats sorts lat and summarizes it.
func latencyStats(lat []time.Duration) LatencyStats {
	if len(lat) == 0 {
		return LatencyStats{}
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return LatencyStats{
		P50Ms:  ms(percentile(lat, 50)),
		P90Ms:  ms(percentile(lat, 90)),
		P99Ms:  ms(percentile(lat, 99)),
		MaxMs:  ms(lat[len(lat)-1]),
		MeanMs: ms(sum / time.Duration(len(lat))),
	}
}

// percentile returns the nearest-rank p-th percentile of sorted, which must not be empty: the
// smallest value that at least p% of the values are less than or equal to.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n), 1-based
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ErrorCounts counts failed transfers of the measured phase by kind.
type ErrorCounts struct {
	// InsufficientFunds: the debited NoOverdraft account lacked the amount (ledger's answer, not
	// a fault).
	InsufficientFunds int64 `json:"insufficient_funds"`
	// RetriesExhausted: the ledger gave up after retrying a transient conflict (serialization
	// failure, deadlock, SQLite busy) its bounded number of times.
	RetriesExhausted int64 `json:"retries_exhausted"`
	// Other: anything else.
	Other int64 `json:"other"`
}

func (e *ErrorCounts) add(o ErrorCounts) {
	e.InsufficientFunds += o.InsufficientFunds
	e.RetriesExhausted += o.RetriesExhausted
	e.Other += o.Other
}

// errKind classifies a Post error.
type errKind int

const (
	kindInsufficient errKind = iota
	kindRetries
	kindOther
)

func classify(err error) errKind {
	switch {
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return kindInsufficient
	case database.Retryable(err):
		// The ledger returns the last transient error once its retries are spent.
		return kindRetries
	default:
		return kindOther
	}
}

func (e *ErrorCounts) count(k errKind) {
	switch k {
	case kindInsufficient:
		e.InsufficientFunds++
	case kindRetries:
		e.RetriesExhausted++
	default:
		e.Other++
	}
}

// VerifyResult is ledger.Verify's outcome after the run.
type VerifyResult struct {
	OK        bool             `json:"ok"`
	Error     string           `json:"error,omitempty"` // Verify itself failed (database error)
	Problems  []ledger.Problem `json:"problems,omitempty"`
	Truncated bool             `json:"truncated,omitempty"`
	Accounts  int              `json:"accounts"`
	Entries   int              `json:"entries"`
	Postings  int              `json:"postings"`
	Holds     int              `json:"holds"`
	Seconds   float64          `json:"seconds"`
}
