package payouts

import (
	"context"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/webhooks"
)

// Run works the payout queue every Config.PollInterval until ctx is done, logging (not returning)
// the errors of single passes. It returns ctx's error.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := s.Process(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "payouts: process", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Process runs one pass over every network: it broadcasts signed payouts, follows broadcast ones to
// COMPLETED or FAILED, and signs and broadcasts queued ones, oldest first, one at a time. Every
// step commits its outcome before the next begins, so a pass interrupted anywhere resumes where it
// stopped. On PostgreSQL a per-network advisory lock lets only one process sign at a time, so
// that nonces taken from the chain never collide.
func (s *Service) Process(ctx context.Context) error {
	var errs []error
	for _, n := range s.cfg.Chains.Networks() {
		sender, ok := n.(chains.Sender)
		if !ok {
			continue
		}
		if err := s.processNetwork(ctx, n.ID(), sender); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.ID(), err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) processNetwork(ctx context.Context, id chains.NetworkID, sender chains.Sender) error {
	// One worker per network in this process, and (PostgreSQL) in every process: nonces come
	// from the chain, so two signers at once could give two payouts one nonce.
	mu := s.networkMutex(id)
	if !mu.TryLock() {
		return nil
	}
	defer mu.Unlock()
	unlock, ok, err := s.lockNetwork(ctx, id)
	if err != nil || !ok {
		return err // another process works this network now
	}
	defer unlock()

	var errs []error
	// 1. Broadcast: follow each to a final state. One payout's trouble does not stop the others.
	var sent []payoutRow
	if err := s.db.NewSelect().Model(&sent).Where("network = ? AND stage = ?", string(id), string(StageBroadcast)).
		OrderExpr("nonce, created_at").Scan(ctx); err != nil {
		return err
	}
	lost := false // a broadcast transaction the node does not know
	for i := range sent {
		unknown, err := s.follow(ctx, id, sender, &sent[i])
		if err != nil {
			s.log.ErrorContext(ctx, "payouts: follow", "payout", sent[i].ID, "tx", sent[i].TxHash, "err", err)
			errs = append(errs, err)
		}
		lost = lost || unknown || err != nil
	}
	// 2. Signed but not yet broadcast (a crash or a node error came between): send the stored bytes.
	var signed []payoutRow
	if err := s.db.NewSelect().Model(&signed).Where("network = ? AND stage = ?", string(id), string(StageSigned)).
		OrderExpr("nonce, created_at").Scan(ctx); err != nil {
		return err
	}
	for i := range signed {
		if err := s.broadcast(ctx, sender, &signed[i]); err != nil {
			return errors.Join(append(errs, err)...) // do not sign more while one is unsent
		}
	}
	// 3. Queued: sign, store, broadcast, one at a time, but only while every earlier transaction
	// is known to the node: a new transaction signed with the node's pending nonce while an
	// earlier one is missing would take that one's nonce, and the two payouts would collide.
	if lost {
		return errors.Join(errs...)
	}
	var queued []payoutRow
	if err := s.db.NewSelect().Model(&queued).Where("network = ? AND stage = ?", string(id), string(StageQueued)).
		OrderExpr("created_at, id").Limit(100).Scan(ctx); err != nil {
		return err
	}
	for i := range queued {
		if err := s.sign(ctx, id, sender, &queued[i]); err != nil {
			// Nothing was signed for this payout, so no nonce is spent: one payout that cannot be
			// signed now (a node error, a fee above the cap) must not hold up the ones behind it.
			s.log.ErrorContext(ctx, "payouts: sign", "payout", queued[i].ID, "err", err)
			errs = append(errs, err)
			continue
		}
		if queued[i].Stage == string(StageSigned) {
			if err := s.broadcast(ctx, sender, &queued[i]); err != nil {
				return errors.Join(append(errs, err)...)
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Service) networkMutex(id chains.NetworkID) *sync.Mutex {
	mu, _ := s.workers.LoadOrStore(id, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// sign builds and signs p's transfer and stores the signed transaction before anything is sent.
// A transfer the chain cannot fund, or one the network rejects whoever sends it
// (chains.ErrTransferRejected: a contract that refuses the coin), fails the payout (hold voided); a
// node error leaves it queued.
func (s *Service) sign(ctx context.Context, id chains.NetworkID, sender chains.Sender, p *payoutRow) error {
	network, err := s.cfg.Chains.Get(id)
	if err != nil {
		return err
	}
	asset, err := chains.FindAsset(network, p.Token)
	if err != nil {
		return s.fail(ctx, p, "token no longer carried on network: "+err.Error())
	}
	amount, err := asset.FromDecimal(p.Amount.Decimal(p.Precision))
	if err != nil {
		return s.fail(ctx, p, err.Error())
	}
	tx, err := sender.SignTransfer(ctx, chains.TransferRequest{To: p.ToAddress, Asset: asset, Amount: amount})
	if errors.Is(err, chains.ErrInsufficientOnChain) {
		s.log.ErrorContext(ctx, "payouts: hot wallet cannot fund payout", "payout", p.ID, "err", err)
		return s.fail(ctx, p, "hot wallet cannot fund the transfer")
	}
	if errors.Is(err, chains.ErrTransferRejected) {
		s.log.WarnContext(ctx, "payouts: the network rejects the transfer", "payout", p.ID, "err", err)
		return s.fail(ctx, p, "the network rejects the transfer to this address")
	}
	if err != nil {
		return fmt.Errorf("sign payout %s: %w", p.ID, err)
	}
	now := s.cfg.Now().UTC()
	res, err := s.db.NewUpdate().Model((*payoutRow)(nil)).
		Set("stage = ?, tx_hash = ?, raw_tx = ?, nonce = ?, from_address = ?, updated_at = ?",
			string(StageSigned), tx.Hash, hex.EncodeToString(tx.Raw), int64(tx.Nonce), tx.From, now).
		Where("id = ? AND stage = ?", p.ID, string(StageQueued)).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // taken by another process; our signature is discarded unsent
	}
	p.Stage, p.TxHash, p.RawTx, p.Nonce, p.FromAddress = string(StageSigned), tx.Hash, hex.EncodeToString(tx.Raw), int64(tx.Nonce), tx.From
	s.log.InfoContext(ctx, "payouts: signed", "payout", p.ID, "tx", tx.Hash, "nonce", tx.Nonce)
	return nil
}

func (s *Service) broadcast(ctx context.Context, sender chains.Sender, p *payoutRow) error {
	raw, err := hex.DecodeString(p.RawTx)
	if err != nil {
		return fmt.Errorf("payout %s: stored transaction is not hex: %w", p.ID, err)
	}
	tx := &chains.SignedTx{Network: chains.NetworkID(p.Network), Hash: p.TxHash, From: p.FromAddress, Nonce: uint64(p.Nonce), Raw: raw}
	if err := sender.Broadcast(ctx, tx); err != nil {
		return fmt.Errorf("broadcast payout %s: %w", p.ID, err)
	}
	now := s.cfg.Now().UTC()
	if _, err := s.db.NewUpdate().Model((*payoutRow)(nil)).
		Set("stage = ?, broadcast_at = ?, updated_at = ?", string(StageBroadcast), now, now).
		Where("id = ? AND stage IN (?)", p.ID, bun.In([]string{string(StageSigned), string(StageBroadcast)})).Exec(ctx); err != nil {
		return err
	}
	p.Stage, p.BroadcastAt = string(StageBroadcast), &now
	s.log.InfoContext(ctx, "payouts: broadcast", "payout", p.ID, "tx", p.TxHash)
	return nil
}

// follow moves a broadcast payout on: COMPLETED once its transaction has the required
// confirmations, FAILED once a reverted transaction has as many (a shallower revert could be
// undone by a reorg that re-includes the transaction successfully). unknown is true when the node
// does not know the transaction; it is sent again (the same bytes) once RebroadcastAfter passed.
func (s *Service) follow(ctx context.Context, id chains.NetworkID, sender chains.Sender, p *payoutRow) (unknown bool, err error) {
	st, err := sender.TxStatus(ctx, p.TxHash)
	if err != nil {
		return false, fmt.Errorf("status of payout %s: %w", p.ID, err)
	}
	need := s.confirmations(id)
	switch st.State {
	case chains.TxConfirmed:
		if st.Confirmations >= need {
			return false, s.complete(ctx, p)
		}
	case chains.TxFailed:
		if st.Confirmations >= need {
			return false, s.fail(ctx, p, "transaction reverted on chain")
		}
	case chains.TxUnknown:
		if p.BroadcastAt == nil || s.cfg.Now().Sub(*p.BroadcastAt) >= s.cfg.RebroadcastAfter {
			return true, s.broadcast(ctx, sender, p) // the same signed bytes: never a second payment
		}
		return true, nil
	}
	return false, nil
}

// complete captures the hold in full (the tokens left custody) and emits payout.successful.
func (s *Service) complete(ctx context.Context, p *payoutRow) error {
	return database.RunInTx(ctx, s.db, 0, s.log, func(ctx context.Context, tx bun.Tx) error {
		now := s.cfg.Now().UTC()
		res, err := tx.NewUpdate().Model((*payoutRow)(nil)).
			Set("status = ?, stage = ?, completed_at = ?, updated_at = ?", string(StatusCompleted), string(StageDone), now, now).
			Where("id = ? AND stage = ?", p.ID, string(StageBroadcast)).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if _, _, err := s.cfg.Ledger.CaptureTx(ctx, tx, p.HoldID, p.Amount.Decimal(p.Precision), "payout-capture:"+p.ID); err != nil {
			return fmt.Errorf("capture hold of payout %s: %w", p.ID, err)
		}
		p.Status, p.Stage, p.CompletedAt, p.UpdatedAt = string(StatusCompleted), string(StageDone), &now, now
		_, err = s.cfg.Webhooks.EnqueueTx(ctx, tx, webhooks.EventInput{
			MerchantID: p.MerchantID,
			Type:       webhooks.EventPayoutSuccessful,
			Data:       p.public(),
			Key:        webhooks.EventPayoutSuccessful + ":" + p.ID,
		})
		if err == nil {
			s.log.InfoContext(ctx, "payouts: completed", "payout", p.ID, "tx", p.TxHash)
		}
		return err
	})
}

// fail voids the hold (the funds are available again) and emits payout.failed.
func (s *Service) fail(ctx context.Context, p *payoutRow, reason string) error {
	return database.RunInTx(ctx, s.db, 0, s.log, func(ctx context.Context, tx bun.Tx) error {
		now := s.cfg.Now().UTC()
		res, err := tx.NewUpdate().Model((*payoutRow)(nil)).
			Set("status = ?, stage = ?, failure_reason = ?, updated_at = ?", string(StatusFailed), string(StageDone), reason, now).
			Where("id = ? AND stage = ?", p.ID, p.Stage).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if _, err := s.cfg.Ledger.VoidTx(ctx, tx, p.HoldID); err != nil {
			return fmt.Errorf("void hold of payout %s: %w", p.ID, err)
		}
		p.Status, p.Stage, p.FailureReason, p.UpdatedAt = string(StatusFailed), string(StageDone), reason, now
		_, err = s.cfg.Webhooks.EnqueueTx(ctx, tx, webhooks.EventInput{
			MerchantID: p.MerchantID,
			Type:       webhooks.EventPayoutFailed,
			Data:       p.public(),
			Key:        webhooks.EventPayoutFailed + ":" + p.ID,
		})
		if err == nil {
			s.log.WarnContext(ctx, "payouts: failed", "payout", p.ID, "reason", reason)
		}
		return err
	})
}

// lockNetwork takes a session-level advisory lock for signing on id (PostgreSQL); ok is false if
// another process holds it. SQLite is one process's database: its lock is this process's own.
func (s *Service) lockNetwork(ctx context.Context, id chains.NetworkID) (unlock func(), ok bool, err error) {
	if !database.IsPostgres(s.db) {
		return func() {}, true, nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("settle.payouts.sign:" + string(id)))
	key := int64(h.Sum64())
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?)", key).Scan(&ok); err != nil || !ok {
		_ = conn.Close()
		return nil, false, err
	}
	return func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", key); err != nil {
			// Never hand a connection that may still hold the lock back to the pool: every
			// other process would wait for it forever. Dropping the connection frees the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}, true, nil
}
