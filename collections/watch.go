package collections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/ids"
	"github.com/settle-go/settle/internal/units"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/webhooks"
)

// Run polls every Config.PollInterval until ctx is done, logging (not returning) the errors of
// single passes. It returns ctx's error.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := s.Poll(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "collections: poll", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Poll runs one pass over every network that can be watched: it scans new blocks for deposits to
// watched addresses, follows the confirmations of deposits not yet credited (orphaning those a
// reorg removed), credits the confirmed ones, and then fails the network's collections that
// expired unpaid (only after a successful scan, so that a node outage fails nothing). A pass can
// be interrupted at any point and run again, also by several processes at once: every step is
// idempotent.
func (s *Service) Poll(ctx context.Context) error {
	var errs []error
	for _, n := range s.cfg.Chains.Networks() {
		if w, ok := n.(chains.Watcher); ok {
			if err := s.pollNetwork(ctx, n, w); err != nil {
				// Expire nothing on a network that could not be scanned: a collection paid in
				// time must not fail because the node was down.
				errs = append(errs, fmt.Errorf("%s: %w", n.ID(), err))
				continue
			}
		}
		if err := s.expire(ctx, n.ID()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.ID(), err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) pollNetwork(ctx context.Context, n chains.Network, w chains.Watcher) error {
	var cur cursorRow
	err := s.db.NewSelect().Model(&cur).Where("network = ?", string(n.ID())).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no collection was ever made on this network
	}
	if err != nil {
		return err
	}
	head, err := w.Head(ctx)
	if err != nil {
		return err
	}
	need := s.confirmations(n.ID())
	back := need
	if cur.BlockHash != "" {
		// The usual rescan of the last need blocks finds what a shallow reorg moved; if the
		// cursor's own block was replaced, the reorg may go deeper: rescan ReorgDepth blocks.
		b, err := w.BlockAt(ctx, uint64(cur.Height))
		if err != nil && uint64(cur.Height) <= head.Height {
			return err
		}
		if err != nil || b.Hash != cur.BlockHash {
			back = max(need, s.cfg.ReorgDepth)
			s.log.WarnContext(ctx, "collections: the block at the scan cursor was replaced; rescanning deeper",
				"network", n.ID(), "height", cur.Height, "was", cur.BlockHash, "now", b.Hash, "blocks", back)
		}
	}
	if err := s.scan(ctx, n, w, uint64(cur.Height), head.Height, back); err != nil {
		return err
	}
	return s.confirm(ctx, n, w, head.Height, need)
}

// scan looks for deposits in blocks after the cursor, re-reading the last back blocks each time so
// that a transaction moved by a reorg into another block is found again (recording a deposit is
// idempotent: its identity does not depend on its block). The cursor moves to the last block
// scanned, with that block's hash.
func (s *Service) scan(ctx context.Context, n chains.Network, w chains.Watcher, cursor, head, back uint64) error {
	now := s.cfg.Now().UTC()
	var watched []collectionRow
	if err := s.db.NewSelect().Model(&watched).
		Where("network = ? AND watch_until > ?", string(n.ID()), now).Scan(ctx); err != nil {
		return err
	}
	byAddr := make(map[string]*collectionRow, len(watched))
	addrs := make([]string, 0, len(watched))
	for i := range watched {
		byAddr[strings.ToLower(watched[i].Address)] = &watched[i]
		addrs = append(addrs, watched[i].Address)
	}
	from := uint64(1)
	if cursor+1 > back {
		from = cursor + 1 - back
	}
	for from <= head {
		to := min(head, from+s.cfg.ScanWindow-1)
		if len(addrs) > 0 {
			deps, err := w.Deposits(ctx, from, to, addrs)
			if err != nil {
				return err
			}
			for _, d := range deps {
				c := byAddr[strings.ToLower(d.To)]
				if c == nil {
					continue
				}
				internal, err := s.isInternal(ctx, n.ID(), d.TxHash)
				if err != nil {
					return err
				}
				if internal {
					continue // a transfer between the platform's own addresses
				}
				if err := s.record(ctx, c, d); err != nil {
					return err
				}
			}
		}
		b, err := w.BlockAt(ctx, to)
		if err != nil {
			return err
		}
		if _, err := s.db.NewUpdate().Model((*cursorRow)(nil)).Set("height = ?, block_hash = ?", int64(to), b.Hash).
			Where("network = ? AND (height < ? OR (height = ? AND block_hash <> ?))", string(n.ID()), int64(to), int64(to), b.Hash).
			Exec(ctx); err != nil {
			return err
		}
		from = to + 1
	}
	return nil
}

// record stores a deposit seen on chain, or moves a known one to the block it is in now.
func (s *Service) record(ctx context.Context, c *collectionRow, d chains.Deposit) error {
	asset, err := s.cfg.Ledger.Asset(ctx, d.Asset.Code)
	if err != nil {
		return fmt.Errorf("deposit %s of %s: %w", d.Key(), d.Asset.Code, err)
	}
	amt := d.Asset.ToDecimal(d.Amount)
	if trunc := amt.Truncate(asset.Precision); !trunc.Equal(amt) {
		// On-chain precision beyond the ledger's (USDT on BNB Smart Chain has 18 decimals):
		// credit what the ledger can hold; the dust stays in custody, on the safe side.
		s.log.WarnContext(ctx, "collections: deposit below ledger precision truncated",
			"deposit", d.Key(), "amount", amt.String(), "credited", trunc.String())
		amt = trunc
	}
	amount, err := units.FromDecimal(amt, asset.Precision)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	row := &depositRow{
		ID:            ids.New("dep"),
		CollectionID:  c.ID,
		MerchantID:    c.MerchantID,
		Network:       string(d.Network),
		Token:         d.Asset.Code,
		TxHash:        d.TxHash,
		TxIndex:       int64(d.Index),
		Address:       c.Address,
		Amount:        amount,
		Precision:     asset.Precision,
		BlockHeight:   int64(d.Block.Height),
		BlockHash:     d.Block.Hash,
		Confirmations: 0,
		Status:        string(DepositConfirming),
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	// A deposit recorded under its block-level log index (LegacyIndex) is this one when its
	// transaction, address, token and amount match: it takes the new index, so that it is not
	// recorded, and credited, twice. Identical transfers in one transaction match in order.
	if _, err := s.db.NewUpdate().Model((*depositRow)(nil)).
		Set("tx_index = ?, legacy_index = ?", row.TxIndex, false).
		Where("id = (?)", s.db.NewSelect().Model((*depositRow)(nil)).Column("id").
			Where("network = ? AND tx_hash = ? AND legacy_index = ?", row.Network, row.TxHash, true).
			Where("address = ? AND token = ? AND amount = ?", row.Address, row.Token, row.Amount).
			OrderExpr("tx_index").Limit(1)).
		Where("NOT EXISTS (?)", s.db.NewSelect().TableExpr("collection_deposits AS x").ColumnExpr("1").
			Where("x.network = ? AND x.tx_hash = ? AND x.tx_index = ?", row.Network, row.TxHash, row.TxIndex)).
		Exec(ctx); err != nil {
		return err
	}
	// New deposits are inserted; a known one not yet credited follows its transaction into the
	// block it is in now (after a reorg), and an orphaned one seen again in a canonical block
	// (the reorg flipped back) comes back to confirming.
	_, err = s.db.NewInsert().Model(row).
		On("CONFLICT (network, tx_hash, tx_index) DO UPDATE").
		Set("block_height = EXCLUDED.block_height, block_hash = EXCLUDED.block_hash, status = ?, updated_at = EXCLUDED.updated_at", string(DepositConfirming)).
		Where("d.status <> ?", string(DepositCredited)).
		Where("(d.status = ? OR d.block_hash <> EXCLUDED.block_hash)", string(DepositOrphaned)).
		Exec(ctx)
	return err
}

// confirm follows every deposit not yet credited on n: a deposit whose block left the canonical
// chain is orphaned; one with enough confirmations is credited.
func (s *Service) confirm(ctx context.Context, n chains.Network, w chains.Watcher, head, need uint64) error {
	var pending []depositRow
	if err := s.db.NewSelect().Model(&pending).
		Where("network = ? AND status = ?", string(n.ID()), string(DepositConfirming)).
		OrderExpr("block_height, tx_hash, tx_index").Scan(ctx); err != nil {
		return err
	}
	var failed []error
	for i := range pending {
		d := &pending[i]
		height := uint64(d.BlockHeight)
		if height > head {
			continue
		}
		b, err := w.BlockAt(ctx, height)
		if err != nil {
			return err
		}
		if !strings.EqualFold(b.Hash, d.BlockHash) {
			s.log.WarnContext(ctx, "collections: deposit orphaned by reorg", "deposit", d.ID, "tx", d.TxHash, "height", height)
			// Only the block we checked: a concurrent poller may have moved the deposit meanwhile.
			if _, err := s.db.NewUpdate().Model((*depositRow)(nil)).
				Set("status = ?, updated_at = ?", string(DepositOrphaned), s.cfg.Now().UTC()).
				Where("id = ? AND status = ? AND block_hash = ?", d.ID, string(DepositConfirming), d.BlockHash).Exec(ctx); err != nil {
				return err
			}
			continue
		}
		confs := head - height + 1
		if confs < need {
			if _, err := s.db.NewUpdate().Model((*depositRow)(nil)).
				Set("confirmations = ?, updated_at = ?", int64(confs), s.cfg.Now().UTC()).
				Where("id = ? AND status = ?", d.ID, string(DepositConfirming)).Exec(ctx); err != nil {
				return err
			}
			continue
		}
		if err := s.credit(ctx, d.ID, d.BlockHash, confs); err != nil {
			// One deposit that cannot be credited now must not hold up the others: it is
			// tried again on the next pass.
			s.log.ErrorContext(ctx, "collections: credit deposit", "deposit", d.ID, "err", err)
			failed = append(failed, fmt.Errorf("credit deposit %s: %w", d.ID, err))
		}
	}
	return errors.Join(failed...)
}

// credit posts a confirmed deposit to the ledger and updates its collection, in one transaction.
// It is idempotent: a deposit already credited is left alone, and the ledger entry carries the
// deposit's on-chain identity as its idempotency key.
func (s *Service) credit(ctx context.Context, depositID, blockHash string, confs uint64) error {
	return database.RunInTx(ctx, s.db, 0, s.log, func(ctx context.Context, tx bun.Tx) error {
		var d depositRow
		q := tx.NewSelect().Model(&d).Where("id = ?", depositID)
		if database.IsPostgres(tx) {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		if d.Status != string(DepositConfirming) || d.BlockHash != blockHash {
			return nil // credited, orphaned or moved by a concurrent poller: the next pass decides
		}
		var c collectionRow
		cq := tx.NewSelect().Model(&c).Where("id = ?", d.CollectionID)
		if database.IsPostgres(tx) {
			cq = cq.For("UPDATE")
		}
		if err := cq.Scan(ctx); err != nil {
			return err
		}
		now := s.cfg.Now().UTC()
		late := c.Status == string(StatusFailed)
		if d.Amount.Sign() > 0 {
			// A test network's coins credit the merchant's test account, never the live one.
			testnet := chains.NetworkID(d.Network).IsTestnet()
			api, err := s.cfg.Ledger.EnsureAccountTx(ctx, tx, ledger.MerchantAPIFor(d.MerchantID, d.Token, testnet))
			if err != nil {
				return err
			}
			custody, err := s.cfg.Ledger.EnsureAccountTx(ctx, tx, ledger.Custody(d.Network, d.Token))
			if err != nil {
				return err
			}
			in := ledger.Transfer(
				fmt.Sprintf("deposit:%s:%s:%d", d.Network, d.TxHash, d.TxIndex),
				custody.Code, api.Code, d.Amount.Decimal(d.Precision),
				fmt.Sprintf("deposit to collection %s", c.ID))
			in.Metadata = map[string]any{"collection_id": c.ID, "deposit_id": d.ID, "tx_hash": d.TxHash, "late": late}
			entry, err := s.cfg.Ledger.PostTx(ctx, tx, in)
			if err != nil {
				return err
			}
			d.EntryID = entry.ID
		}
		if _, err := tx.NewUpdate().Model((*depositRow)(nil)).
			Set("status = ?, confirmations = ?, late = ?, entry_id = ?, updated_at = ?",
				string(DepositCredited), int64(confs), late, nullable(d.EntryID), now).
			Where("id = ?", d.ID).Exec(ctx); err != nil {
			return err
		}
		c.UpdatedAt = now
		event := ""
		if d.Token != c.Token {
			// Another asset sent to the address: credited in its own asset above, flagged, and not
			// counted toward the expected amount (the units differ).
			s.log.WarnContext(ctx, "collections: deposit in another asset credited", "collection", c.ID, "deposit", d.ID, "token", d.Token, "want", c.Token)
		} else {
			c.Received = c.Received.Add(d.Amount)
		}
		if c.Status == string(StatusCreated) && c.Received.Cmp(c.Amount) >= 0 {
			c.Status = string(StatusSuccessful)
			c.PaidAt = &now
			event = webhooks.EventCollectionSuccessful
		}
		if _, err := tx.NewUpdate().Model(&c).Column("received", "status", "paid_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		if late {
			s.log.WarnContext(ctx, "collections: late deposit credited", "collection", c.ID, "deposit", d.ID)
		}
		if event == "" {
			return nil
		}
		_, err := s.cfg.Webhooks.EnqueueTx(ctx, tx, webhooks.EventInput{
			MerchantID: c.MerchantID,
			Type:       event,
			Data:       c.public(),
			Key:        event + ":" + c.ID,
		})
		return err
	})
}

// expire fails network's CREATED collections past their deadline that have no deposit on the
// way. The no-deposit condition is part of the UPDATE itself, so a deposit recorded by a
// concurrent poller between the two statements keeps the collection open.
func (s *Service) expire(ctx context.Context, network chains.NetworkID) error {
	now := s.cfg.Now().UTC()
	var due []collectionRow
	if err := s.db.NewSelect().Model(&due).
		Where("network = ? AND status = ? AND expires_at <= ?", string(network), string(StatusCreated), now).
		OrderExpr("expires_at").Limit(500).Scan(ctx); err != nil {
		return err
	}
	for i := range due {
		c := &due[i]
		err := database.RunInTx(ctx, s.db, 0, s.log, func(ctx context.Context, tx bun.Tx) error {
			res, err := tx.NewUpdate().Model((*collectionRow)(nil)).
				Set("status = ?, updated_at = ?", string(StatusFailed), now).
				Where("id = ? AND status = ?", c.ID, string(StatusCreated)).
				Where("NOT EXISTS (SELECT 1 FROM collection_deposits dd WHERE dd.collection_id = ? AND dd.status = ?)", c.ID, string(DepositConfirming)).
				Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // paid, failed, or a deposit is confirming
			}
			c.Status, c.UpdatedAt = string(StatusFailed), now
			_, err = s.cfg.Webhooks.EnqueueTx(ctx, tx, webhooks.EventInput{
				MerchantID: c.MerchantID,
				Type:       webhooks.EventCollectionFailed,
				Data:       c.public(),
				Key:        webhooks.EventCollectionFailed + ":" + c.ID,
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("expire collection %s: %w", c.ID, err)
		}
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
