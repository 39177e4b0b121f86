package payouts

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/units"
)

// Migrate creates or updates the payouts tables. It is safe to call on every start.
func Migrate(ctx context.Context, db *bun.DB) error {
	ms := migrate.NewMigrations()
	ms.Add(database.Step("20261121000200", "payouts_init", func(ctx context.Context, tx bun.IDB) error {
		amt, ts := units.SQLType(database.IsPostgres(tx)), database.TimestampType(tx)
		return database.Exec(ctx, tx,
			`CREATE TABLE payouts (
				id TEXT PRIMARY KEY,
				merchant_id TEXT NOT NULL,
				network TEXT NOT NULL,
				token TEXT NOT NULL,
				amount `+amt+` NOT NULL,
				precision INTEGER NOT NULL,
				to_address TEXT NOT NULL,
				merchant_reference TEXT,
				status TEXT NOT NULL,
				stage TEXT NOT NULL,
				hold_id TEXT NOT NULL,
				balance_before `+amt+` NOT NULL,
				balance_after `+amt+` NOT NULL,
				from_address TEXT,
				tx_hash TEXT,
				raw_tx TEXT,
				nonce BIGINT,
				failure_reason TEXT,
				client_ip TEXT,
				broadcast_at `+ts+`,
				completed_at `+ts+`,
				created_at `+ts+` NOT NULL,
				updated_at `+ts+` NOT NULL
			)`,
			`CREATE UNIQUE INDEX payouts_merchant_reference ON payouts (merchant_id, merchant_reference)`,
			`CREATE INDEX payouts_merchant ON payouts (merchant_id, created_at)`,
			`CREATE INDEX payouts_work ON payouts (network, stage, created_at)`,
		)
	}))
	return database.Migrate(ctx, db, "payouts", ms)
}

type payoutRow struct {
	bun.BaseModel `bun:"table:payouts"`

	ID                string     `bun:"id,pk"`
	MerchantID        string     `bun:"merchant_id"`
	Network           string     `bun:"network"`
	Token             string     `bun:"token"`
	Amount            units.Int  `bun:"amount"`
	Precision         int32      `bun:"precision"`
	ToAddress         string     `bun:"to_address"`
	MerchantReference string     `bun:"merchant_reference,nullzero"`
	Status            string     `bun:"status"`
	Stage             string     `bun:"stage"`
	HoldID            string     `bun:"hold_id"`
	BalanceBefore     units.Int  `bun:"balance_before"`
	BalanceAfter      units.Int  `bun:"balance_after"`
	FromAddress       string     `bun:"from_address,nullzero"`
	TxHash            string     `bun:"tx_hash,nullzero"`
	RawTx             string     `bun:"raw_tx,nullzero"` // hex of the signed transaction
	Nonce             int64      `bun:"nonce"`
	FailureReason     string     `bun:"failure_reason,nullzero"`
	ClientIP          string     `bun:"client_ip,nullzero"`
	BroadcastAt       *time.Time `bun:"broadcast_at"`
	CompletedAt       *time.Time `bun:"completed_at"`
	CreatedAt         time.Time  `bun:"created_at"`
	UpdatedAt         time.Time  `bun:"updated_at"`
}

func (r *payoutRow) public() Payout {
	p := Payout{
		ID:                r.ID,
		MerchantID:        r.MerchantID,
		Network:           chains.NetworkID(r.Network),
		Token:             r.Token,
		Amount:            r.Amount.Decimal(r.Precision),
		ToAddress:         r.ToAddress,
		MerchantReference: r.MerchantReference,
		Status:            Status(r.Status),
		Stage:             Stage(r.Stage),
		TxHash:            r.TxHash,
		BalanceBefore:     r.BalanceBefore.Decimal(r.Precision),
		BalanceAfter:      r.BalanceAfter.Decimal(r.Precision),
		FailureReason:     r.FailureReason,
		ClientIP:          r.ClientIP,
		CreatedAt:         r.CreatedAt.UTC(),
		UpdatedAt:         r.UpdatedAt.UTC(),
	}
	if r.CompletedAt != nil {
		t := r.CompletedAt.UTC()
		p.CompletedAt = &t
	}
	return p
}
