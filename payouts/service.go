package payouts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/fielderr"
	"github.com/settle-go/settle/internal/ids"
	"github.com/settle-go/settle/internal/units"
	"github.com/settle-go/settle/ledger"
)

// Service creates and processes payouts. It is safe for concurrent use.
type Service struct {
	db      *bun.DB
	cfg     Config
	log     *slog.Logger
	workers sync.Map // chains.NetworkID → *sync.Mutex: one processor per network in this process
}

// New returns a Service. The tables must exist (Migrate). Errors: a required Config field is nil.
func New(db *bun.DB, cfg Config) (*Service, error) {
	if db == nil || cfg.Ledger == nil || cfg.Chains == nil || cfg.Webhooks == nil {
		return nil, errors.New("payouts: New needs a db, Ledger, Chains and Webhooks")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.RebroadcastAfter == 0 {
		cfg.RebroadcastAfter = time.Minute
	}
	return &Service{db: db, cfg: cfg, log: cfg.Logger}, nil
}

func (s *Service) confirmations(n chains.NetworkID) uint64 {
	if c, ok := s.cfg.Confirmations[n]; ok && c > 0 {
		return c
	}
	return chains.DefaultConfirmations(n)
}

var errReferenceRace = errors.New("payouts: merchant_reference taken concurrently")

// Create validates in and, in one transaction, holds the amount on the merchant's API account and
// stores the payout as PENDING. With a MerchantReference that was used before, it returns the
// first payout if the request is the same.
//
// Errors: *ValidationError (unwraps to ErrValidation; field network, token, amount,
// merchant_reference (over fielderr.MaxReferenceBytes, or control characters) or to_address,
// the latter also unwrapping to chains.ErrInvalidAddress), ErrInsufficientBalance (also
// ledger.ErrInsufficientFunds), ErrReferenceConflict, or a database error. On error nothing is
// written.
func (s *Service) Create(ctx context.Context, in CreateInput) (Payout, error) {
	network, asset, amount, err := s.validate(ctx, in)
	if err != nil {
		return Payout{}, err
	}
	if in.MerchantReference != "" {
		if p, ok, err := s.byReference(ctx, in, amount); ok || err != nil {
			return p, err
		}
	}
	now := s.cfg.Now().UTC()
	row := &payoutRow{
		ID:                ids.New("pay"),
		MerchantID:        in.MerchantID,
		Network:           string(network.ID()),
		Token:             in.Token,
		Amount:            amount,
		Precision:         asset.Precision,
		ToAddress:         in.ToAddress,
		MerchantReference: in.MerchantReference,
		Status:            string(StatusPending),
		Stage:             string(StageQueued),
		ClientIP:          in.ClientIP,
		CreatedAt:         now,
		UpdatedAt:         now,
	}
	err = database.RunInTx(ctx, s.db, 0, s.log, func(ctx context.Context, tx bun.Tx) error {
		// The payout row first: with a merchant reference, a concurrent request with the same
		// reference waits here on the unique index and then inserts nothing, before it could hold
		// any funds.
		q := tx.NewInsert().Model(row)
		if in.MerchantReference != "" {
			q = q.On("CONFLICT (merchant_id, merchant_reference) DO NOTHING")
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errReferenceRace // the other request's payout stands
		}
		// A payout on a test network spends the merchant's test balance; one on a mainnet, the
		// live balance only (testnet deposits never fund it).
		testnet := chains.NetworkID(row.Network).IsTestnet()
		api, err := s.cfg.Ledger.EnsureAccountTx(ctx, tx, ledger.MerchantAPIFor(in.MerchantID, in.Token, testnet))
		if err != nil {
			return err
		}
		custody, err := s.cfg.Ledger.EnsureAccountTx(ctx, tx, ledger.Custody(row.Network, in.Token))
		if err != nil {
			return err
		}
		hold, err := s.cfg.Ledger.HoldTx(ctx, tx, ledger.HoldInput{
			Debit:       api.Code,
			Credit:      custody.Code,
			Amount:      in.Amount,
			Description: "payout " + row.ID,
			Metadata:    map[string]any{"payout_id": row.ID, "to_address": in.ToAddress},
		})
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return fmt.Errorf("%w: %w", ErrInsufficientBalance, err)
		}
		if err != nil {
			return err
		}
		row.HoldID = hold.ID
		if row.BalanceBefore, err = units.FromDecimal(hold.AvailableBefore, asset.Precision); err != nil {
			return err
		}
		if row.BalanceAfter, err = units.FromDecimal(hold.AvailableAfter, asset.Precision); err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model(row).Column("hold_id", "balance_before", "balance_after").WherePK().Exec(ctx)
		return err
	})
	if errors.Is(err, errReferenceRace) {
		p, ok, err := s.byReference(ctx, in, amount)
		if err == nil && !ok {
			err = fmt.Errorf("payouts: merchant_reference %q conflicted but no payout holds it", in.MerchantReference)
		}
		return p, err
	}
	if err != nil {
		return Payout{}, err
	}
	s.log.InfoContext(ctx, "payouts: created", "payout", row.ID, "merchant", row.MerchantID,
		"network", row.Network, "token", row.Token, "amount", in.Amount.String())
	return row.public(), nil
}

func (s *Service) validate(ctx context.Context, in CreateInput) (chains.Network, ledger.Asset, units.Int, error) {
	fail := func(field, msg string, err error) (chains.Network, ledger.Asset, units.Int, error) {
		return nil, ledger.Asset{}, units.Int{}, &ValidationError{Kind: ErrValidation, Field: field, Message: msg, Err: err}
	}
	if in.MerchantID == "" {
		return fail("merchant_id", "is required", nil)
	}
	network, err := s.cfg.Chains.Get(in.Network)
	if err != nil {
		return fail("network", fmt.Sprintf("unknown network %q", in.Network), err)
	}
	if _, ok := network.(chains.Sender); !ok {
		return fail("network", fmt.Sprintf("%s cannot send payouts", in.Network), nil)
	}
	if _, err := chains.FindAsset(network, in.Token); err != nil {
		return fail("token", fmt.Sprintf("%q is not carried on %s", in.Token, in.Network), err)
	}
	asset, err := s.cfg.Ledger.Asset(ctx, in.Token)
	if err != nil {
		return fail("token", fmt.Sprintf("%q is not a ledger asset", in.Token), err)
	}
	// Convert first, with the careful conversion: comparing decimals directly would expand an
	// absurd exponent such as 1e999999999.
	amount, err := units.FromDecimal(in.Amount, asset.Precision)
	switch {
	case errors.Is(err, units.ErrPrecision):
		return fail("amount", fmt.Sprintf("at most %d decimal places for %s", asset.Precision, in.Token), err)
	case err != nil:
		return fail("amount", "must be at least "+MinAmount.String()+" and at most 2^256-1 base units", err)
	}
	if min, err := units.FromDecimal(MinAmount, asset.Precision); err == nil && amount.Cmp(min) < 0 {
		return fail("amount", "must be at least "+MinAmount.String(), nil)
	}
	if msg := fielderr.CheckText(in.MerchantReference, fielderr.MaxReferenceBytes); msg != "" {
		return fail("merchant_reference", msg, nil)
	}
	if in.ToAddress == "" {
		return fail("to_address", "is required", chains.ErrInvalidAddress)
	}
	if err := network.ValidateAddress(in.ToAddress); err != nil {
		return fail("to_address", err.Error(), err)
	}
	return network, asset, amount, nil
}

// byReference returns the payout with in's merchant reference, if any: ok is true when one
// exists; err is ErrReferenceConflict when it differs from in.
func (s *Service) byReference(ctx context.Context, in CreateInput, amount units.Int) (Payout, bool, error) {
	var row payoutRow
	err := s.db.NewSelect().Model(&row).
		Where("merchant_id = ? AND merchant_reference = ?", in.MerchantID, in.MerchantReference).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Payout{}, false, nil
	}
	if err != nil {
		return Payout{}, false, err
	}
	if row.Network != string(in.Network) || row.Token != in.Token || row.Amount.Cmp(amount) != 0 || row.ToAddress != in.ToAddress {
		return Payout{}, true, fmt.Errorf("%w: %q is payout %s", ErrReferenceConflict, in.MerchantReference, row.ID)
	}
	return row.public(), true, nil
}

// Get returns merchantID's payout id. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, merchantID, id string) (Payout, error) {
	return database.GetOwned(ctx, s.db, merchantID, id, ErrNotFound, (*payoutRow).public)
}

// List returns merchantID's payouts, newest first, and the total matching f.
func (s *Service) List(ctx context.Context, merchantID string, f ListFilter) ([]Payout, int, error) {
	return database.ListOwned(ctx, s.db, merchantID, database.OwnedFilter{
		Status: string(f.Status), Networks: database.Strings(f.Networks), Page: f.Page, Limit: f.Limit,
	}, (*payoutRow).public)
}
