package evm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/settle-go/settle/chains"
)

// NativeIndexFlag is the Index of a native-coin deposit (a transaction has one top-level value
// transfer), while a token deposit's Index is its log's position among its own transaction's logs.
// Neither depends on the block: when a reorg mines the same transaction again in another block or
// position, its deposits keep their Deposit.Key "<tx hash>:<index>" and are recognised, not
// credited a second time. A native and a token deposit of one transaction never collide.
const NativeIndexFlag uint32 = 1 << 31

// MaxDepositRange is the most blocks one Deposits call scans; ask for longer ranges in parts.
const MaxDepositRange = 100_000

// ErrReorged: the chain changed while Deposits scanned it (a log's or receipt's block hash is not
// the hash of the block fetched at that height). Nothing is returned; call again.
var ErrReorged = errors.New("evm: the chain changed during the scan (reorg); retry")

// Head returns the newest block (the node's "latest", which a reorg may still replace).
func (n *Network) Head(ctx context.Context) (chains.Block, error) {
	h, err := n.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return chains.Block{}, fmt.Errorf("evm: %s: newest header: %w", n.id, err)
	}
	return blockOf(h), nil
}

// BlockAt returns the canonical block at height now. A hash different from the one recorded for
// a deposit means a reorg replaced its block. Errors wrap ethereum.NotFound above the head.
func (n *Network) BlockAt(ctx context.Context, height uint64) (chains.Block, error) {
	h, err := n.client.HeaderByNumber(ctx, new(big.Int).SetUint64(height))
	if err != nil {
		return chains.Block{}, fmt.Errorf("evm: %s: header at %d: %w", n.id, height, err)
	}
	if h.Number == nil || !h.Number.IsUint64() || h.Number.Uint64() != height {
		return chains.Block{}, fmt.Errorf("evm: %s: asked for the header at %d, node returned %v", n.id, height, h.Number)
	}
	return blockOf(h), nil
}

// blockOf converts a header.
func blockOf(h *types.Header) chains.Block {
	t := int64(math.MaxInt64)
	if h.Time <= math.MaxInt64 {
		t = int64(h.Time)
	}
	return chains.Block{Height: h.Number.Uint64(), Hash: h.Hash().Hex(), Time: time.Unix(t, 0).UTC()}
}

// Deposits returns the transfers to any of addresses in blocks from..to (inclusive), oldest first
// (by block, transaction index, then native before token, then log index):
//
//   - ERC-20 Transfer(address,address,uint256) events emitted by the configured token contracts
//     with a watched "to" (eth_getLogs; removed logs are ignored). Index is the log's position in
//     its transaction's receipt (see NativeIndexFlag).
//   - Top-level native-coin transfers: transactions whose own "to" is watched, with a positive
//     value, that succeeded (receipt status 1). Index is NativeIndexFlag | the transaction index.
//     Native coin sent by a contract ("internal transactions") is not seen: it leaves no log, and
//     finding it needs a tracing node.
//
// Zero-amount transfers (address-poisoning spam) are skipped. Every block in the range is fetched
// (for native transfers), so keep ranges short; at most MaxDepositRange blocks. Addresses are
// checked as in ValidateAddress (format and EIP-55 checksum). Errors: *chains.AddressError,
// ErrReorged (retry), or the node's error; on error no deposits are returned.
func (n *Network) Deposits(ctx context.Context, from, to uint64, addresses []string) ([]chains.Deposit, error) {
	if from > to {
		return nil, fmt.Errorf("evm: %s: deposits: from %d is after to %d", n.id, from, to)
	}
	if to-from >= MaxDepositRange {
		return nil, fmt.Errorf("evm: %s: deposits: %d blocks asked, at most %d at once", n.id, to-from+1, MaxDepositRange)
	}
	watched := make(map[common.Address]bool, len(addresses))
	for _, s := range addresses {
		a, err := parseAddress(n.id, s)
		if err != nil {
			return nil, err
		}
		watched[a] = true
	}
	if len(watched) == 0 {
		return nil, nil
	}
	blocks, deposits, err := n.scanBlocks(ctx, from, to, watched)
	if err != nil {
		return nil, err
	}
	tokenDeposits, err := n.tokenDeposits(ctx, from, to, watched, blocks)
	if err != nil {
		return nil, err
	}
	deposits = append(deposits, tokenDeposits...)
	slices.SortFunc(deposits, func(a, b orderedDeposit) int {
		return cmp.Or(
			cmp.Compare(a.Block.Height, b.Block.Height),
			cmp.Compare(a.txIndex, b.txIndex),
			compareKind(a, b),
			cmp.Compare(a.logIndex, b.logIndex),
		)
	})
	out := make([]chains.Deposit, len(deposits))
	for i, d := range deposits {
		out[i] = d.Deposit
	}
	return out, nil
}

// compareKind orders a native deposit before the token deposits of the same transaction.
func compareKind(a, b orderedDeposit) int {
	rank := func(d orderedDeposit) int {
		if d.Asset.Native() {
			return 0
		}
		return 1
	}
	return cmp.Compare(rank(a), rank(b))
}

// orderedDeposit is a deposit with its transaction's index in the block, for sorting.
type orderedDeposit struct {
	chains.Deposit
	txIndex  uint
	logIndex uint // a token deposit's log index in its block
}

// scanBlocks fetches the blocks from..to and returns them (indexed by height-from) with the
// native-coin deposits to watched addresses.
func (n *Network) scanBlocks(ctx context.Context, from, to uint64, watched map[common.Address]bool) ([]chains.Block, []orderedDeposit, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	count := int(to - from + 1)
	blocks := make([]chains.Block, count)
	perBlock := make([][]orderedDeposit, count)
	heights := make(chan uint64)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for range min(n.concurrency, count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range heights {
				b, ds, err := n.scanBlock(ctx, h, watched)
				if err != nil {
					fail(err)
					continue // drain
				}
				blocks[h-from], perBlock[h-from] = b, ds
			}
		}()
	}
feed:
	for h := from; h <= to; h++ {
		select {
		case heights <- h:
		case <-ctx.Done():
			break feed
		}
	}
	close(heights)
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var deposits []orderedDeposit
	for _, ds := range perBlock {
		deposits = append(deposits, ds...)
	}
	return blocks, deposits, nil
}

// scanBlock fetches one block and returns it with its native-coin deposits to watched addresses.
func (n *Network) scanBlock(ctx context.Context, height uint64, watched map[common.Address]bool) (chains.Block, []orderedDeposit, error) {
	blk, err := n.client.BlockByNumber(ctx, new(big.Int).SetUint64(height))
	if err != nil {
		return chains.Block{}, nil, fmt.Errorf("evm: %s: block %d: %w", n.id, height, err)
	}
	if blk.NumberU64() != height {
		return chains.Block{}, nil, fmt.Errorf("evm: %s: asked for block %d, node returned %d", n.id, height, blk.NumberU64())
	}
	block := blockOf(blk.Header())
	var out []orderedDeposit
	signer := types.LatestSignerForChainID(n.chainID)
	for i, tx := range blk.Transactions() {
		to := tx.To()
		if to == nil || !watched[*to] || tx.Value().Sign() <= 0 {
			continue
		}
		if uint64(i) >= uint64(NativeIndexFlag) {
			return chains.Block{}, nil, fmt.Errorf("evm: %s: block %d: transaction index %d out of range", n.id, height, i)
		}
		r, err := n.client.TransactionReceipt(ctx, tx.Hash())
		if err != nil {
			return chains.Block{}, nil, fmt.Errorf("evm: %s: receipt of %s: %w", n.id, tx.Hash().Hex(), err)
		}
		if r.BlockHash != blk.Hash() {
			return chains.Block{}, nil, fmt.Errorf("%w: receipt of %s is in block %s, block %d is %s", ErrReorged, tx.Hash().Hex(), r.BlockHash.Hex(), height, block.Hash)
		}
		if r.Status != types.ReceiptStatusSuccessful {
			n.log.DebugContext(ctx, "evm: reverted native transfer ignored", "tx", tx.Hash().Hex(), "to", to.Hex())
			continue
		}
		fromAddr := ""
		if f, err := types.Sender(signer, tx); err == nil {
			fromAddr = f.Hex()
		} else {
			n.log.WarnContext(ctx, "evm: cannot recover the sender of a deposit", "tx", tx.Hash().Hex(), "err", err)
		}
		out = append(out, orderedDeposit{
			Deposit: chains.Deposit{
				Network: n.id,
				Asset:   n.native,
				TxHash:  tx.Hash().Hex(),
				Index:   NativeIndexFlag,
				From:    fromAddr,
				To:      to.Hex(),
				Amount:  new(big.Int).Set(tx.Value()),
				Block:   block,
			},
			txIndex: uint(i),
		})
	}
	return block, out, nil
}

// tokenDeposits returns the ERC-20 Transfer events of the configured tokens to watched addresses
// in from..to; blocks (indexed by height-from) give each event's block, and a log whose block
// hash differs from it is a reorg during the scan.
func (n *Network) tokenDeposits(ctx context.Context, from, to uint64, watched map[common.Address]bool, blocks []chains.Block) ([]orderedDeposit, error) {
	if len(n.tokens) == 0 {
		return nil, nil
	}
	contracts := make([]common.Address, 0, len(n.tokens))
	for c := range n.tokens {
		contracts = append(contracts, c)
	}
	slices.SortFunc(contracts, func(a, b common.Address) int { return a.Cmp(b) })
	topics := make([]common.Hash, 0, len(watched))
	for a := range watched {
		topics = append(topics, common.BytesToHash(a.Bytes()))
	}
	slices.SortFunc(topics, func(a, b common.Hash) int { return a.Cmp(b) })

	var out []orderedDeposit
	firstLogs := map[common.Hash]uint{} // transaction → the block-level index of its first log
	for lo := from; lo <= to; {
		hi := to
		if to-lo >= n.blockRange {
			hi = lo + n.blockRange - 1
		}
		for chunk := range slices.Chunk(topics, n.addrChunk) {
			q := ethereum.FilterQuery{
				FromBlock: new(big.Int).SetUint64(lo),
				ToBlock:   new(big.Int).SetUint64(hi),
				Addresses: contracts,
				Topics:    [][]common.Hash{{transferTopic}, nil, chunk},
			}
			logs, err := n.client.FilterLogs(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("evm: %s: Transfer logs in %d..%d: %w", n.id, lo, hi, err)
			}
			for _, l := range logs {
				d, ok, err := n.tokenDeposit(l, from, to, watched, blocks)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				first, err := n.firstLogIndex(ctx, l, firstLogs)
				if err != nil {
					return nil, err
				}
				d.logIndex, d.Index = l.Index, uint32(l.Index-first)
				out = append(out, d)
			}
		}
		if hi == to {
			break
		}
		lo = hi + 1
	}
	return out, nil
}

// firstLogIndex returns the block-level index of the first log of l's transaction, from its
// receipt (cached in firstLogs by transaction), so that l's position in its transaction is
// l.Index minus it. A receipt of another block is a reorg during the scan (ErrReorged).
func (n *Network) firstLogIndex(ctx context.Context, l types.Log, firstLogs map[common.Hash]uint) (uint, error) {
	if first, ok := firstLogs[l.TxHash]; ok {
		return first, nil
	}
	r, err := n.client.TransactionReceipt(ctx, l.TxHash)
	if err != nil {
		return 0, fmt.Errorf("evm: %s: receipt of %s: %w", n.id, l.TxHash.Hex(), err)
	}
	if r.BlockHash != l.BlockHash {
		return 0, fmt.Errorf("%w: receipt of %s is in block %s, its log in %s", ErrReorged, l.TxHash.Hex(), r.BlockHash.Hex(), l.BlockHash.Hex())
	}
	if len(r.Logs) == 0 || r.Logs[0].Index > l.Index {
		return 0, fmt.Errorf("evm: %s: receipt of %s does not hold its log %d", n.id, l.TxHash.Hex(), l.Index)
	}
	firstLogs[l.TxHash] = r.Logs[0].Index
	return r.Logs[0].Index, nil
}

// tokenDeposit turns one log into a deposit, or reports false for a log that is not one.
func (n *Network) tokenDeposit(l types.Log, from, to uint64, watched map[common.Address]bool, blocks []chains.Block) (orderedDeposit, bool, error) {
	asset, isToken := n.tokens[l.Address]
	if l.Removed || !isToken || len(l.Topics) != 3 || l.Topics[0] != transferTopic || len(l.Data) != 32 {
		return orderedDeposit{}, false, nil
	}
	dst := common.BytesToAddress(l.Topics[2].Bytes())
	if !watched[dst] {
		return orderedDeposit{}, false, nil
	}
	amount := new(big.Int).SetBytes(l.Data)
	if amount.Sign() == 0 {
		return orderedDeposit{}, false, nil
	}
	if l.BlockNumber < from || l.BlockNumber > to {
		return orderedDeposit{}, false, fmt.Errorf("evm: %s: node returned a log of block %d for the range %d..%d", n.id, l.BlockNumber, from, to)
	}
	if l.Index >= uint(NativeIndexFlag) {
		return orderedDeposit{}, false, fmt.Errorf("evm: %s: log index %d out of range", n.id, l.Index)
	}
	block := blocks[l.BlockNumber-from]
	if l.BlockHash.Hex() != block.Hash {
		return orderedDeposit{}, false, fmt.Errorf("%w: log of %s is in block %s, block %d is %s", ErrReorged, l.TxHash.Hex(), l.BlockHash.Hex(), l.BlockNumber, block.Hash)
	}
	return orderedDeposit{
		Deposit: chains.Deposit{
			Network: n.id,
			Asset:   asset,
			TxHash:  l.TxHash.Hex(),
			Index:   uint32(l.Index),
			From:    common.BytesToAddress(l.Topics[1].Bytes()).Hex(),
			To:      dst.Hex(),
			Amount:  amount,
			Block:   block,
		},
		txIndex: l.TxIndex,
	}, true, nil
}
