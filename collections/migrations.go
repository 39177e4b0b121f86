package collections

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/units"
)

// Migrate creates or updates the collections tables. It is safe to call on every start.
func Migrate(ctx context.Context, db *bun.DB) error {
	ms := migrate.NewMigrations()
	ms.Add(database.Step("20261121000100", "collections_init", func(ctx context.Context, tx bun.IDB) error {
		amt, ts := units.SQLType(database.IsPostgres(tx)), database.TimestampType(tx)
		return database.Exec(ctx, tx,
			`CREATE TABLE collections (
				id TEXT PRIMARY KEY,
				merchant_id TEXT NOT NULL,
				network TEXT NOT NULL,
				token TEXT NOT NULL,
				address TEXT NOT NULL,
				derivation_index BIGINT NOT NULL,
				amount `+amt+` NOT NULL,
				received `+amt+` NOT NULL,
				precision INTEGER NOT NULL,
				status TEXT NOT NULL,
				reference TEXT,
				metadata TEXT,
				expires_at `+ts+` NOT NULL,
				watch_until `+ts+` NOT NULL,
				paid_at `+ts+`,
				created_at `+ts+` NOT NULL,
				updated_at `+ts+` NOT NULL
			)`,
			`CREATE UNIQUE INDEX collections_network_address ON collections (network, address)`,
			`CREATE INDEX collections_merchant ON collections (merchant_id, created_at)`,
			`CREATE INDEX collections_watch ON collections (network, watch_until)`,
			`CREATE INDEX collections_status_expiry ON collections (status, expires_at)`,
			`CREATE TABLE collection_deposits (
				id TEXT PRIMARY KEY,
				collection_id TEXT NOT NULL REFERENCES collections (id),
				merchant_id TEXT NOT NULL,
				network TEXT NOT NULL,
				token TEXT NOT NULL,
				tx_hash TEXT NOT NULL,
				tx_index BIGINT NOT NULL,
				address TEXT NOT NULL,
				amount `+amt+` NOT NULL,
				precision INTEGER NOT NULL,
				block_height BIGINT NOT NULL,
				block_hash TEXT NOT NULL,
				confirmations BIGINT NOT NULL,
				status TEXT NOT NULL,
				late BOOLEAN NOT NULL,
				entry_id TEXT,
				created_at `+ts+` NOT NULL,
				updated_at `+ts+` NOT NULL
			)`,
			`CREATE UNIQUE INDEX collection_deposits_tx ON collection_deposits (network, tx_hash, tx_index)`,
			`CREATE INDEX collection_deposits_status ON collection_deposits (network, status)`,
			`CREATE TABLE collection_address_counters (
				network TEXT PRIMARY KEY,
				next_index BIGINT NOT NULL
			)`,
			`CREATE TABLE collection_cursors (
				network TEXT PRIMARY KEY,
				height BIGINT NOT NULL
			)`,
		)
	}))
	ms.Add(database.Step("20261121000101", "collection_internal_txs", func(ctx context.Context, tx bun.IDB) error {
		return database.Exec(ctx, tx,
			`CREATE TABLE collection_internal_txs (
				network TEXT NOT NULL,
				tx_hash TEXT NOT NULL,
				reason TEXT NOT NULL,
				created_at `+database.TimestampType(tx)+` NOT NULL,
				PRIMARY KEY (network, tx_hash)
			)`,
		)
	}))
	ms.Add(database.Step("20261121000102", "collection_cursors_block_hash", func(ctx context.Context, tx bun.IDB) error {
		return database.Exec(ctx, tx, `ALTER TABLE collection_cursors ADD COLUMN block_hash TEXT NOT NULL DEFAULT ''`)
	}))
	ms.Add(database.Step("20261121000103", "collection_deposits_identity_in_tx", func(ctx context.Context, tx bun.IDB) error {
		// A deposit's index no longer depends on its block (chains/evm.NativeIndexFlag): native
		// deposits convert exactly (the flag alone); a token deposit's position in its
		// transaction needs the node, so it is marked and adopted when next seen (record).
		return database.Exec(ctx, tx,
			`ALTER TABLE collection_deposits ADD COLUMN legacy_index BOOLEAN NOT NULL DEFAULT FALSE`,
			`UPDATE collection_deposits SET legacy_index = TRUE WHERE tx_index < 2147483648`,
			`UPDATE collection_deposits SET tx_index = 2147483648 WHERE tx_index > 2147483648`,
		)
	}))
	return database.Migrate(ctx, db, "collections", ms)
}

type collectionRow struct {
	bun.BaseModel `bun:"table:collections,alias:c"`

	ID              string         `bun:"id,pk"`
	MerchantID      string         `bun:"merchant_id"`
	Network         string         `bun:"network"`
	Token           string         `bun:"token"`
	Address         string         `bun:"address"`
	DerivationIndex int64          `bun:"derivation_index"`
	Amount          units.Int      `bun:"amount"`
	Received        units.Int      `bun:"received"`
	Precision       int32          `bun:"precision"`
	Status          string         `bun:"status"`
	Reference       string         `bun:"reference,nullzero"`
	Metadata        map[string]any `bun:"metadata,type:text"`
	ExpiresAt       time.Time      `bun:"expires_at"`
	WatchUntil      time.Time      `bun:"watch_until"`
	PaidAt          *time.Time     `bun:"paid_at"`
	CreatedAt       time.Time      `bun:"created_at"`
	UpdatedAt       time.Time      `bun:"updated_at"`
}

func (r *collectionRow) public() Collection {
	return Collection{
		ID:         r.ID,
		MerchantID: r.MerchantID,
		Network:    chains.NetworkID(r.Network),
		Token:      r.Token,
		Address:    r.Address,
		Amount:     r.Amount.Decimal(r.Precision),
		Received:   r.Received.Decimal(r.Precision),
		Status:     Status(r.Status),
		Reference:  r.Reference,
		Metadata:   r.Metadata,
		ExpiresAt:  r.ExpiresAt.UTC(),
		PaidAt:     utcPtr(r.PaidAt),
		CreatedAt:  r.CreatedAt.UTC(),
		UpdatedAt:  r.UpdatedAt.UTC(),
	}
}

type depositRow struct {
	bun.BaseModel `bun:"table:collection_deposits,alias:d"`

	ID           string `bun:"id,pk"`
	CollectionID string `bun:"collection_id"`
	MerchantID   string `bun:"merchant_id"`
	Network      string `bun:"network"`
	Token        string `bun:"token"`
	TxHash       string `bun:"tx_hash"`
	TxIndex      int64  `bun:"tx_index"`
	// LegacyIndex marks a token deposit recorded before deposit identities stopped depending on
	// the block: its TxIndex is the log's index in its block, and record adopts it under the new
	// index when it sees the deposit again.
	LegacyIndex   bool      `bun:"legacy_index"`
	Address       string    `bun:"address"`
	Amount        units.Int `bun:"amount"`
	Precision     int32     `bun:"precision"`
	BlockHeight   int64     `bun:"block_height"`
	BlockHash     string    `bun:"block_hash"`
	Confirmations int64     `bun:"confirmations"`
	Status        string    `bun:"status"`
	Late          bool      `bun:"late"`
	EntryID       string    `bun:"entry_id,nullzero"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

func (r *depositRow) public() Deposit {
	return Deposit{
		ID:            r.ID,
		CollectionID:  r.CollectionID,
		MerchantID:    r.MerchantID,
		Network:       chains.NetworkID(r.Network),
		Token:         r.Token,
		TxHash:        r.TxHash,
		Index:         uint32(r.TxIndex),
		Address:       r.Address,
		Amount:        r.Amount.Decimal(r.Precision),
		BlockHeight:   uint64(r.BlockHeight),
		BlockHash:     r.BlockHash,
		Confirmations: uint64(r.Confirmations),
		Status:        DepositStatus(r.Status),
		Late:          r.Late,
		CreatedAt:     r.CreatedAt.UTC(),
		UpdatedAt:     r.UpdatedAt.UTC(),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
