package collections

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/chains"
)

type internalTxRow struct {
	bun.BaseModel `bun:"table:collection_internal_txs"`
	Network       string    `bun:"network,pk"`
	TxHash        string    `bun:"tx_hash,pk"`
	Reason        string    `bun:"reason"`
	CreatedAt     time.Time `bun:"created_at"`
}

// MarkInternal records that the transaction with txHash on network moves money between the
// platform's own addresses (a sweep to the hot wallet, a gas top-up of a collection address), so
// that the watcher never takes it for a customer's deposit. Call it before broadcasting the
// transaction. Marking twice is harmless. Errors: a database error, or an empty argument.
func (s *Service) MarkInternal(ctx context.Context, network chains.NetworkID, txHash, reason string) error {
	if network == "" || txHash == "" {
		return errors.New("collections: MarkInternal needs a network and a transaction hash")
	}
	_, err := s.db.NewInsert().Model(&internalTxRow{
		Network: string(network), TxHash: strings.ToLower(txHash), Reason: reason, CreatedAt: s.cfg.Now().UTC(),
	}).On("CONFLICT (network, tx_hash) DO NOTHING").Exec(ctx)
	return err
}

func (s *Service) isInternal(ctx context.Context, network chains.NetworkID, txHash string) (bool, error) {
	return s.db.NewSelect().Model((*internalTxRow)(nil)).
		Where("network = ? AND tx_hash = ?", string(network), strings.ToLower(txHash)).Exists(ctx)
}
