// Package settle embeds crypto payments in a Go backend: USD-priced invoices and single-use
// collection addresses paid in crypto, payouts to external addresses, signed webhooks, and a
// double-entry ledger that records every unit, behind one chains.Network interface per chain and
// a ready REST API.
//
// This package is the facade: Open opens the database (SQLite by default, PostgreSQL for
// production), runs every package's migrations and wires the services together; Run runs the
// background workers (chain watchers, the payout processor, the webhook dispatcher); Handler is the
// REST API. Each service is also usable on its own from its package.
package settle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/httpapi"
	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/merchants"
	"github.com/settle-go/settle/payouts"
	"github.com/settle-go/settle/webhooks"
)

// Version is the library's version, reported by /health.
const Version = "settle v0.1.0"

// Config configures Open. The zero value opens ./settle.db with no networks.
type Config struct {
	// DSN selects the database: "postgres://…" for PostgreSQL, "sqlite:PATH" for SQLite.
	// Default "sqlite:settle.db". Ignored when DB is set.
	DSN string
	// DB is an open database to use instead of DSN; the caller keeps closing it.
	DB *bun.DB
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Networks are the chain adapters payments can use.
	Networks []chains.Network
	// Confirmations per network; networks not listed use chains.DefaultConfirmations.
	Confirmations map[chains.NetworkID]uint64
	// PollInterval is how often the chain watchers and the payout processor run. Default 2 s.
	PollInterval time.Duration
	// Webhooks configures delivery (retries, backoff, HTTP client); its Logger defaults to Logger.
	Webhooks webhooks.Config
	// APIPrefix is prepended to the REST API's routes, such as "/api". Default "".
	APIPrefix string
	// HoldSweepInterval is how often Run releases expired ledger holds in storage (expiry is
	// already honoured at read time). Default 1 minute.
	HoldSweepInterval time.Duration
}

// Settle is an opened settle instance: the services, wired.
type Settle struct {
	DB          *bun.DB
	Ledger      *ledger.Ledger
	Chains      *chains.Registry
	Merchants   *merchants.Service
	Webhooks    *webhooks.Service
	Collections *collections.Service
	Payouts     *payouts.Service

	handler   http.Handler
	log       *slog.Logger
	ownDB     bool
	holdSweep time.Duration
}

// Open opens the database, applies every package's migrations, creates the standard assets
// (ledger.DefaultAssets) and wires the services. Errors: database.ErrUnsupportedDSN for a DSN it
// cannot open, or a migration's error.
func Open(ctx context.Context, cfg Config) (*Settle, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Settle{log: log, Chains: chains.NewRegistry(cfg.Networks...), holdSweep: cfg.HoldSweepInterval}
	if s.holdSweep <= 0 {
		s.holdSweep = time.Minute
	}
	if cfg.DB != nil {
		s.DB = cfg.DB
	} else {
		dsn := cfg.DSN
		if dsn == "" {
			dsn = "sqlite:settle.db"
		}
		db, err := database.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		s.DB, s.ownDB = db, true
	}
	if err := s.setup(ctx, cfg); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Settle) setup(ctx context.Context, cfg Config) error {
	if err := Migrate(ctx, s.DB); err != nil {
		return err
	}
	s.Ledger = ledger.New(s.DB, ledger.Config{Logger: s.log})
	for _, a := range ledger.DefaultAssets() {
		if err := s.Ledger.EnsureAsset(ctx, a); err != nil {
			return err
		}
	}
	s.Merchants = merchants.New(s.DB, merchants.Config{Logger: s.log})
	wcfg := cfg.Webhooks
	if wcfg.Logger == nil {
		wcfg.Logger = s.log
	}
	s.Webhooks = webhooks.New(s.DB, wcfg)
	var err error
	if s.Collections, err = collections.New(s.DB, collections.Config{
		Ledger: s.Ledger, Chains: s.Chains, Webhooks: s.Webhooks, Logger: s.log,
		Confirmations: cfg.Confirmations, PollInterval: cfg.PollInterval,
	}); err != nil {
		return err
	}
	if s.Payouts, err = payouts.New(s.DB, payouts.Config{
		Ledger: s.Ledger, Chains: s.Chains, Webhooks: s.Webhooks, Logger: s.log,
		Confirmations: cfg.Confirmations, PollInterval: cfg.PollInterval,
	}); err != nil {
		return err
	}
	s.handler, err = httpapi.New(httpapi.Config{
		Merchants: s.Merchants, Ledger: s.Ledger, Collections: s.Collections, Payouts: s.Payouts,
		Chains: s.Chains, Logger: s.log, Prefix: cfg.APIPrefix, Version: Version,
	})
	return err
}

// Migrate applies every package's migrations to db, in dependency order. It is safe to call on
// every start; each package records what it applied in its own table.
func Migrate(ctx context.Context, db *bun.DB) error {
	for _, m := range []func(context.Context, *bun.DB) error{
		ledger.Migrate, merchants.Migrate, webhooks.Migrate, collections.Migrate, payouts.Migrate,
	} {
		if err := m(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// Handler returns the REST API (see package httpapi).
func (s *Settle) Handler() http.Handler { return s.handler }

// Run runs the background workers until ctx is done: the chain watchers that credit confirmed
// deposits and expire collections, the payout processor, the webhook dispatcher, and the sweeper
// that releases expired ledger holds. Several processes may run them against one PostgreSQL
// database. It returns nil after ctx is done, or the first worker's unexpected error.
func (s *Settle) Run(ctx context.Context) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	workers := []func(context.Context) error{s.Collections.Run, s.Payouts.Run, s.Webhooks.Run, s.sweepHolds}
	errs := make(chan error, len(workers))
	for _, run := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Once the caller's ctx is done (cancelled or past its deadline), what the workers
			// return is their way of stopping, not a failure.
			if err := run(ctx); err != nil && parent.Err() == nil && !errors.Is(err, context.Canceled) {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// sweepHolds releases expired holds every HoldSweepInterval until ctx is done, logging (not
// returning) the errors of single passes.
func (s *Settle) sweepHolds(ctx context.Context) error {
	t := time.NewTicker(s.holdSweep)
	defer t.Stop()
	for {
		if n, err := s.Ledger.ExpireHolds(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "settle: expire holds", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "settle: expired holds released", "count", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close stops the ledger's group committer, if any, closes the webhook client's idle connections,
// and closes the database if Open opened it.
func (s *Settle) Close() error {
	if s.Ledger != nil {
		_ = s.Ledger.Close()
	}
	if s.Webhooks != nil {
		s.Webhooks.Close()
	}
	if s.ownDB && s.DB != nil {
		return s.DB.Close()
	}
	return nil
}
