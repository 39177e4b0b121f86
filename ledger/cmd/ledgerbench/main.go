// Command ledgerbench measures the ledger's posting throughput: workers post random two-leg
// transfers between accounts for a while, then the ledger is verified.
//
// Usage:
//
//	go run ./ledger/cmd/ledgerbench [-dsn DSN] [-accounts 50] [-workers 20] [-duration 20s]
//		[-warmup 2s] [-seed N] [-reuse] [-keep] [-json] [-v] [-cpuprofile FILE]
//		[-group-commit [-window 1ms] [-max-batch 256]]
//
// -dsn is "postgres://…" or "sqlite:PATH". Without it the bench uses a fresh SQLite file in a
// temporary directory (removed afterwards unless -keep). A PostgreSQL DSN is used as given: point
// it at an empty database dedicated to the bench (createdb lb1), since the bench migrates it and
// writes to it; it refuses a database that already holds ledger accounts or entries unless -reuse
// is given (then its accounts are added next to the existing data, and Verify checks it all).
// pgx's own DSN parameters pass through, for example default_query_exec_mode=simple_protocol.
//
// Setup: ledger.Migrate, the asset USDT (precision 6), one debit-normal funding account and
// -accounts credit-normal NoOverdraft accounts, each funded with 1,000,000,000 USDT by one setup
// entry (one per 500 accounts). Then -workers goroutines each post, one after another,
// ledger.Transfer entries of a random amount (0.000001 to 100 USDT) from one random account to
// another distinct one, each with its own idempotency key, through ledger.Post (one database
// transaction and commit per transfer; with -group-commit, ledger.Config.GroupCommit is enabled with
// -window and -max-batch, and concurrent workers' transfers are committed together in one
// transaction per batch). Transfers started during -warmup are posted but left out
// of the figures; the measured phase then lasts -duration. -accounts 2 is the hot-account case:
// every transfer touches both accounts. SIGINT or SIGTERM stops the workers early; the figures
// and Verify still follow (a second signal kills the process).
//
// The figures:
//
//   - transfers: transfers started in the measured phase that committed.
//   - transfers/s: transfers divided by the measured phase's length as it ran (until the last
//     transfer started in it returned).
//   - latency p50 / p90 / p99 / max / mean: exact nearest-rank percentiles of the time each
//     measured ledger.Post call took, committed or failed (it includes waiting for a pooled
//     connection, row locks and the ledger's own retries).
//   - errors: failed transfers of the whole run (warm-up included) by kind: insufficient funds
//     (the ledger refused an overdraft; not a fault), retries exhausted (a transient conflict
//     outlasted the ledger's retries), other. Transfers cut short by a signal are not counted.
//   - bytes/transfer: the database's growth over the run divided by every committed transfer
//     (warm-up included). PostgreSQL: pg_database_size(current_database()) (tables and indexes,
//     not the WAL); SQLite: the main file plus its -wal file after a TRUNCATE checkpoint.
//   - verify: ledger.Verify over the whole ledger after the run: OK, or the problems it found,
//     and how long it took.
//
// The exit status is 1 if Verify found problems (or failed), or any transfer failed for a reason
// other than insufficient funds; 2 for bad flags. -json prints the same figures as one JSON
// object (see Result). Diagnostics go to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/ledger"
)

const (
	asset          = "USDT"
	precision      = 6
	fundPerAccount = 1_000_000_000 // asset units each account starts with
	maxAmountUnits = 100_000_000   // largest transfer in base units (100 USDT)
	fundChunk      = 500           // accounts funded per setup entry (an entry holds at most 1000 postings)
	loggedErrors   = 5             // "other" errors logged in full
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ledgerbench:", err)
		return 2
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.cfg.Logger = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default: a second signal kills the process
	}()

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			log.Error("ledgerbench: cpu profile", "error", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Error("ledgerbench: cpu profile", "error", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	res, err := run(ctx, o.cfg)
	if err != nil {
		log.Error("ledgerbench: failed", "error", err)
		return 1
	}
	if o.json {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			log.Error("ledgerbench: write result", "error", err)
			return 1
		}
	} else {
		printText(stdout, res)
	}
	if res.Failed() {
		return 1
	}
	return 0
}

// run sets the ledger up on cfg.DSN, runs the workers and verifies the ledger. The returned error
// is a setup failure; transfer errors and Verify's outcome are in the Result.
func run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	dsn := cfg.DSN
	if dsn == "" {
		dir, err := os.MkdirTemp("", "ledgerbench-")
		if err != nil {
			return Result{}, err
		}
		dsn = "sqlite:" + filepath.Join(dir, "ledgerbench.db")
		if cfg.Keep {
			log.Info("ledgerbench: keeping the SQLite database", "dsn", dsn)
		} else {
			defer os.RemoveAll(dir)
		}
	}

	db, err := database.Open(ctx, dsn)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	res := Result{Store: "sqlite", Accounts: cfg.Accounts, Workers: cfg.Workers, Seed: cfg.Seed,
		WarmupS: cfg.Warmup.Seconds(), GroupCommit: cfg.GroupCommit}
	if database.IsPostgres(db) {
		res.Store = "postgres"
	}
	if has, err := hasLedgerData(ctx, db); err != nil {
		return Result{}, err
	} else if has && !cfg.Reuse {
		return Result{}, errors.New("the database already holds ledger data: give an empty, dedicated database, or -reuse")
	}
	if err := ledger.Migrate(ctx, db); err != nil {
		return Result{}, err
	}
	l := ledger.New(db, ledger.Config{Logger: log, GroupCommit: ledger.GroupCommitConfig{
		Enabled: cfg.GroupCommit, Window: cfg.Window, MaxEntries: cfg.MaxBatch}})
	defer l.Close()
	runID := fmt.Sprintf("%x", time.Now().UnixNano())
	codes, err := setup(ctx, l, runID, cfg.Accounts)
	if err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	if res.BytesBefore, err = dbSize(ctx, db, dsn); err != nil {
		return Result{}, fmt.Errorf("database size: %w", err)
	}
	log.Info("ledgerbench: running", "store", res.Store, "accounts", cfg.Accounts, "workers", cfg.Workers,
		"warmup", cfg.Warmup, "duration", cfg.Duration, "seed", cfg.Seed)

	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	until := measureFrom.Add(cfg.Duration)
	stats := make([]workerStats, cfg.Workers)
	var logged atomic.Int32
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Go(func() {
			ws := &stats[w]
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			for n := 0; ; n++ {
				t0 := time.Now()
				if !t0.Before(until) || ctx.Err() != nil {
					return
				}
				i := rng.IntN(len(codes))
				j := rng.IntN(len(codes) - 1)
				if j >= i {
					j++
				}
				amount := decimal.New(1+rng.Int64N(maxAmountUnits), -precision)
				key := fmt.Sprintf("lb-%s-%d-%d", runID, w, n)
				_, err := l.Post(ctx, ledger.Transfer(key, codes[i], codes[j], amount, "ledgerbench"))
				lat := time.Since(t0)
				measured := !t0.Before(measureFrom)
				switch {
				case err == nil && measured:
					ws.transfers++
				case err == nil:
					ws.warmup++
				case ctx.Err() != nil:
					return // cut short by a signal: neither a transfer nor an error
				default:
					k := classify(err)
					ws.errors.count(k)
					if k != kindInsufficient && logged.Add(1) <= loggedErrors {
						log.Warn("ledgerbench: transfer failed", "error", err)
					}
				}
				if measured {
					ws.latencies = append(ws.latencies, lat)
				}
			}
		})
	}
	wg.Wait()
	finished := time.Now()
	res.Interrupted = ctx.Err() != nil

	// What follows runs even after a signal.
	ctx = context.WithoutCancel(ctx)
	var all []time.Duration
	for i := range stats {
		res.Transfers += stats[i].transfers
		res.WarmupTransfers += stats[i].warmup
		res.Errors.add(stats[i].errors)
		all = append(all, stats[i].latencies...)
		stats[i].latencies = nil
	}
	res.Latency = latencyStats(all)
	if elapsed := finished.Sub(measureFrom); elapsed > 0 {
		res.ElapsedS = elapsed.Seconds()
		res.TransfersPerSec = float64(res.Transfers) / elapsed.Seconds()
	}
	if res.BytesAfter, err = dbSize(ctx, db, dsn); err != nil {
		return Result{}, fmt.Errorf("database size: %w", err)
	}
	if n := res.Transfers + res.WarmupTransfers; n > 0 {
		res.BytesPerTransfer = float64(res.BytesAfter-res.BytesBefore) / float64(n)
	}

	log.Info("ledgerbench: verifying", "transfers", res.Transfers+res.WarmupTransfers)
	t0 := time.Now()
	rep, err := l.Verify(ctx)
	res.Verify.Seconds = time.Since(t0).Seconds()
	if err != nil {
		res.Verify.Error = err.Error()
	} else {
		res.Verify.OK = rep.OK()
		res.Verify.Problems, res.Verify.Truncated = rep.Problems, rep.Truncated
		res.Verify.Accounts, res.Verify.Entries, res.Verify.Postings, res.Verify.Holds =
			rep.Accounts, rep.Entries, rep.Postings, rep.Holds
	}
	return res, nil
}

// workerStats is one worker's tally; each worker writes only its own.
type workerStats struct {
	transfers, warmup int64
	errors            ErrorCounts
	latencies         []time.Duration
}

// setup creates the asset, the funding account and n accounts, funds them, and returns the n
// accounts' codes.
func setup(ctx context.Context, l *ledger.Ledger, runID string, n int) ([]string, error) {
	if err := l.EnsureAsset(ctx, ledger.Asset{Code: asset, Precision: precision}); err != nil {
		return nil, err
	}
	fund := "bench:" + runID + ":funding"
	if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: fund, Asset: asset, Normal: ledger.Debit}); err != nil {
		return nil, err
	}
	codes := make([]string, n)
	for i := range codes {
		codes[i] = fmt.Sprintf("bench:%s:acct:%04d", runID, i)
		spec := ledger.AccountSpec{Code: codes[i], Asset: asset, Normal: ledger.Credit, Flags: ledger.NoOverdraft}
		if _, err := l.EnsureAccount(ctx, spec); err != nil {
			return nil, err
		}
	}
	each := decimal.New(fundPerAccount, 0)
	for from := 0; from < n; from += fundChunk {
		chunk := codes[from:min(from+fundChunk, n)]
		in := ledger.EntryInput{
			IdempotencyKey: fmt.Sprintf("lb-%s-fund-%d", runID, from),
			Description:    "ledgerbench funding",
			Postings: []ledger.PostingInput{{Account: fund, Direction: ledger.Debit,
				Amount: each.Mul(decimal.NewFromInt(int64(len(chunk))))}},
		}
		for _, c := range chunk {
			in.Postings = append(in.Postings, ledger.PostingInput{Account: c, Direction: ledger.Credit, Amount: each})
		}
		if _, err := l.Post(ctx, in); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

// printText writes r for a reader.
func printText(w io.Writer, r Result) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	interrupted := ""
	if r.Interrupted {
		interrupted = " (interrupted)"
	}
	p("ledgerbench: %s, %d accounts, %d workers, %.1fs measured after %.1fs warm-up, seed %d%s",
		r.Store, r.Accounts, r.Workers, r.ElapsedS, r.WarmupS, r.Seed, interrupted)
	if r.GroupCommit {
		p("group commit       on")
	}
	p("transfers          %d (and %d in the warm-up)", r.Transfers, r.WarmupTransfers)
	p("transfers/s        %.1f", r.TransfersPerSec)
	p("latency            p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms  (mean %.2fms)",
		r.Latency.P50Ms, r.Latency.P90Ms, r.Latency.P99Ms, r.Latency.MaxMs, r.Latency.MeanMs)
	p("errors             insufficient funds %d, retries exhausted %d, other %d",
		r.Errors.InsufficientFunds, r.Errors.RetriesExhausted, r.Errors.Other)
	p("bytes/transfer     %.0f (database %s -> %s)", r.BytesPerTransfer, mib(r.BytesBefore), mib(r.BytesAfter))
	v := r.Verify
	switch {
	case v.Error != "":
		p("verify             FAILED in %.2fs: %s", v.Seconds, v.Error)
	case v.OK:
		p("verify             OK in %.2fs (%d accounts, %d entries, %d postings, %d holds)",
			v.Seconds, v.Accounts, v.Entries, v.Postings, v.Holds)
	default:
		more := ""
		if v.Truncated {
			more = " (and more)"
		}
		p("verify             %d PROBLEMS%s in %.2fs:", len(v.Problems), more, v.Seconds)
		for _, pr := range v.Problems {
			p("  %s %s", pr.Kind, strings.TrimSpace(pr.Account+" "+pr.Asset+": "+pr.Detail))
		}
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
