package evmtest

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
)

// poolClient is the simulated node's client, but SendTransaction returns only once the node's
// transaction pool counts the transaction as pending. The pool promotes transactions in the
// background, and a block committed before that would leave the transaction out: a test that
// sends, commits and expects the transaction mined would fail now and then.
type poolClient struct{ simulated.Client }

// promotionTimeout bounds the wait for the pool; past it the send fails loudly, rather than let a
// later assertion fail for a reason it cannot name.
const promotionTimeout = 5 * time.Second

func (c poolClient) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	if err := c.Client.SendTransaction(ctx, tx); err != nil {
		return err
	}
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	for {
		if n, err := c.Client.PendingNonceAt(ctx, from); err == nil && n > tx.Nonce() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("evmtest: transaction %s sent but not pending in the pool after %s", tx.Hash().Hex(), promotionTimeout)
		case <-time.After(time.Millisecond):
		}
	}
}
