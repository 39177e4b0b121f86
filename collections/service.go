package collections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/fielderr"
	"github.com/settle-go/settle/internal/ids"
	"github.com/settle-go/settle/internal/units"
	"github.com/settle-go/settle/webhooks"
)

// Service creates collections and watches their addresses. It is safe for concurrent use.
type Service struct {
	db  *bun.DB
	cfg Config
	log *slog.Logger
}

// New returns a Service. The tables must exist (Migrate). Errors: a required Config field is nil.
func New(db *bun.DB, cfg Config) (*Service, error) {
	if db == nil || cfg.Ledger == nil || cfg.Chains == nil || cfg.Webhooks == nil {
		return nil, errors.New("collections: New needs a db, Ledger, Chains and Webhooks")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = time.Hour
	}
	if cfg.LateWindow == 0 {
		cfg.LateWindow = 7 * 24 * time.Hour
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.ScanWindow == 0 {
		cfg.ScanWindow = 2000
	}
	if cfg.ReorgDepth == 0 {
		cfg.ReorgDepth = 128
	}
	return &Service{db: db, cfg: cfg, log: cfg.Logger}, nil
}

func (s *Service) confirmations(n chains.NetworkID) uint64 {
	if c, ok := s.cfg.Confirmations[n]; ok && c > 0 {
		return c
	}
	return chains.DefaultConfirmations(n)
}

// TTL bounds for CreateInput.TTL.
const (
	MinTTL = time.Minute
	MaxTTL = 7 * 24 * time.Hour
)

// Create validates in, derives a fresh address and stores a CREATED collection, emitting
// collection.created in the same transaction. Errors: *ValidationError (field merchant_id,
// network, token, amount, ttl, reference (over fielderr.MaxReferenceBytes, or control characters)
// or metadata (over fielderr.MaxMetadataBytes as JSON, or a NUL); unwraps to ErrValidation and
// chains.ErrUnknownNetwork or chains.ErrUnknownAsset where those are the cause), or a database or
// node error. On error nothing is written.
func (s *Service) Create(ctx context.Context, in CreateInput) (Collection, error) {
	if in.MerchantID == "" {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "merchant_id", Message: "is required"}
	}
	network, err := s.cfg.Chains.Get(in.Network)
	if err != nil {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "network", Message: fmt.Sprintf("unknown network %q", in.Network), Err: err}
	}
	if _, err := chains.FindAsset(network, in.Token); err != nil {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "token", Message: fmt.Sprintf("%q is not carried on %s", in.Token, in.Network), Err: err}
	}
	asset, err := s.cfg.Ledger.Asset(ctx, in.Token)
	if err != nil {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "token", Message: fmt.Sprintf("%q is not a ledger asset", in.Token), Err: err}
	}
	if !in.Amount.IsPositive() {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "amount", Message: "must be positive"}
	}
	if msg := fielderr.CheckText(in.Reference, fielderr.MaxReferenceBytes); msg != "" {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "reference", Message: msg}
	}
	if msg := fielderr.CheckMetadata(in.Metadata); msg != "" {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "metadata", Message: msg}
	}
	amount, err := units.FromDecimal(in.Amount, asset.Precision)
	if errors.Is(err, units.ErrPrecision) {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "amount", Message: fmt.Sprintf("at most %d decimal places for %s", asset.Precision, in.Token), Err: err}
	}
	if err != nil {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "amount", Message: "is too large", Err: err}
	}
	ttl := in.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	if ttl < MinTTL || ttl > MaxTTL {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "ttl", Message: fmt.Sprintf("must be between %s and %s", MinTTL, MaxTTL)}
	}
	deriver, ok := network.(chains.AddressDeriver)
	if !ok {
		return Collection{}, &ValidationError{Kind: ErrValidation, Field: "network", Message: "cannot hand out addresses", Err: ErrNoDeriver}
	}
	// The network's first collection starts the watcher here: learn the head before the
	// transaction (later collections find the cursor set and skip the node call).
	var head uint64
	if w, ok := network.(chains.Watcher); ok {
		watched, err := s.db.NewSelect().Model((*cursorRow)(nil)).Where("network = ?", string(in.Network)).Exists(ctx)
		if err != nil {
			return Collection{}, err
		}
		if !watched {
			b, err := w.Head(ctx)
			if err != nil {
				return Collection{}, fmt.Errorf("collections: read head of %s: %w", in.Network, err)
			}
			head = b.Height
		}
	}

	now := s.cfg.Now().UTC()
	row := &collectionRow{
		ID:         ids.New("col"),
		MerchantID: in.MerchantID,
		Network:    string(in.Network),
		Token:      in.Token,
		Amount:     amount,
		Precision:  asset.Precision,
		Status:     string(StatusCreated),
		Reference:  in.Reference,
		Metadata:   in.Metadata,
		ExpiresAt:  now.Add(ttl),
		WatchUntil: now.Add(ttl + s.cfg.LateWindow),
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	err = database.RunInTx(ctx, s.db, 0, s.log, func(ctx context.Context, tx bun.Tx) error {
		idx, err := nextIndex(ctx, tx)
		if err != nil {
			return err
		}
		addr, err := deriver.DeriveAddress(ctx, uint32(idx))
		if err != nil {
			return fmt.Errorf("collections: derive address %d on %s: %w", idx, in.Network, err)
		}
		row.Address, row.DerivationIndex = addr, idx
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&cursorRow{Network: string(in.Network), Height: int64(head)}).
			On("CONFLICT (network) DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		_, err = s.cfg.Webhooks.EnqueueTx(ctx, tx, webhooks.EventInput{
			MerchantID: row.MerchantID,
			Type:       webhooks.EventCollectionCreated,
			Data:       row.public(),
			Key:        "collection.created:" + row.ID,
		})
		return err
	})
	if err != nil {
		return Collection{}, err
	}
	return row.public(), nil
}

// allNetworks is the key of the one address counter.
const allNetworks = "*"

type cursorRow struct {
	bun.BaseModel `bun:"table:collection_cursors"`
	Network       string `bun:"network,pk"`
	Height        int64  `bun:"height"`
	// BlockHash is the hash of the block at Height when it was scanned ("" before the first scan):
	// if the chain no longer has it there, a reorg went deeper than the usual rescan.
	BlockHash string `bun:"block_hash"`
}

// nextIndex allocates the next derivation index. Index 0 is left to the hot wallet. There is one
// counter for every network, not one per network: networks that share a key (Ethereum, Polygon
// and BNB Smart Chain behind one signer derive the same address at the same index) must never
// hand one address to two collections. Gaps are harmless.
func nextIndex(ctx context.Context, tx bun.IDB) (int64, error) {
	var next int64
	err := tx.NewRaw(`INSERT INTO collection_address_counters (network, next_index) VALUES (?, 2)
		ON CONFLICT (network) DO UPDATE SET next_index = collection_address_counters.next_index + 1
		RETURNING next_index`, allNetworks).Scan(ctx, &next)
	if err != nil {
		return 0, fmt.Errorf("collections: allocate address index: %w", err)
	}
	return next - 1, nil
}

// Get returns merchantID's collection id. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, merchantID, id string) (Collection, error) {
	return database.GetOwned(ctx, s.db, merchantID, id, ErrNotFound, (*collectionRow).public)
}

// List returns merchantID's collections, newest first, and the total matching f.
func (s *Service) List(ctx context.Context, merchantID string, f ListFilter) ([]Collection, int, error) {
	return database.ListOwned(ctx, s.db, merchantID, database.OwnedFilter{
		Status: string(f.Status), Networks: database.Strings(f.Networks), Page: f.Page, Limit: f.Limit,
	}, (*collectionRow).public)
}

// Deposits returns the deposits seen for merchantID's collection id, oldest first.
func (s *Service) Deposits(ctx context.Context, merchantID, id string) ([]Deposit, error) {
	var rows []depositRow
	if err := s.db.NewSelect().Model(&rows).Where("collection_id = ? AND merchant_id = ?", id, merchantID).
		OrderExpr("block_height, tx_hash, tx_index").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]Deposit, len(rows))
	for i := range rows {
		out[i] = rows[i].public()
	}
	return out, nil
}
