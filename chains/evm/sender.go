package evm

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/settle-go/settle/chains"
)

// NativeTransferGas is the gas of a plain native-coin transfer to an account without code.
const NativeTransferGas = 21_000

// ErrNonceUsed: Broadcast was refused with "nonce too low" and the node does not know the
// transaction, so another transaction of the sender used its nonce. The refused transaction can
// then never be mined. Before treating its payment as failed, check that the transaction is not
// mined (the node may have pruned its transaction index), for example with TxStatus on an archive
// node or a block explorer.
var ErrNonceUsed = errors.New("evm: the sender's nonce was used by another transaction")

// ErrFeeTooHigh is returned by SignTransfer when the node's suggested fee is above
// Config.MaxFeePerGas or MaxTipPerGas: nothing is signed.
var ErrFeeTooHigh = errors.New("evm: suggested fee above the configured cap")

// HotWallet returns the EIP-55 address of the signer's index 0, which payouts are sent from by
// default. Errors: ErrNoSigner, or the signer's error.
func (n *Network) HotWallet(ctx context.Context) (string, error) {
	a, err := n.hotWallet(ctx)
	if err != nil {
		return "", err
	}
	return a.Hex(), nil
}

func (n *Network) hotWallet(ctx context.Context) (common.Address, error) {
	if n.signer == nil {
		return common.Address{}, ErrNoSigner
	}
	return n.signer.Address(ctx, 0)
}

// SignTransfer builds and signs a transfer of req.Amount base units of req.Asset from req.From
// (empty: the hot wallet) to req.To; it does not broadcast.
//
//   - Native coin: a value transfer with NativeTransferGas (21,000) gas, or, when req.To is a
//     contract, the node's estimate plus 25%.
//   - ERC-20: a call of transfer(to, amount) on the token contract, with Config.GasLimitToken gas
//     or the node's estimate plus 25%.
//
// The transaction is an EIP-1559 dynamic-fee transaction (max priority fee from the node's
// suggestion, max fee = 2 × base fee + priority fee) when the newest header has a base fee, else a
// legacy one at the node's suggested gas price; both are EIP-155 replay-protected. The nonce is the
// sender's pending nonce, so sign, store and broadcast one transfer before signing the next from
// the same address: two transfers signed before either reaches the node share a nonce, and only
// one of them can ever be mined. Which one is not certain: with fees within 10% of each other the
// node refuses the second ("replacement transaction underpriced"), but a second one paying at
// least 10% more replaces the first in the pool, and the first then fails with ErrNonceUsed. The
// payouts package therefore signs nothing new while an earlier transaction is unknown to the node.
// The fee is refused (ErrFeeTooHigh) above Config.MaxFeePerGas or MaxTipPerGas.
//
// The sender must hold the token amount and, in native coin, the amount (native transfers) plus
// the maximum fee (gas limit × max fee per gas), which is SignedTx.Fee. Errors: *chains.AddressError,
// chains.ErrUnknownAsset, chains.ErrAmountPrecision (amount not positive), an error wrapping
// chains.ErrInsufficientOnChain, ErrNoSigner, the signer's error, or the node's error (such as an
// estimate that reverts).
func (n *Network) SignTransfer(ctx context.Context, req chains.TransferRequest) (*chains.SignedTx, error) {
	if n.signer == nil {
		return nil, ErrNoSigner
	}
	asset, err := n.resolveAsset(req.Asset)
	if err != nil {
		return nil, err
	}
	if req.Amount == nil || req.Amount.Sign() <= 0 {
		return nil, fmt.Errorf("%w: transfer amount %v is not positive", chains.ErrAmountPrecision, req.Amount)
	}
	if req.Amount.BitLen() > 256 {
		return nil, fmt.Errorf("%w: transfer amount does not fit 256 bits", chains.ErrAmountPrecision)
	}
	if err := ValidateAddress(n.id, req.To); err != nil {
		return nil, err
	}
	to := common.HexToAddress(req.To)
	var from common.Address
	if req.From == "" {
		if from, err = n.hotWallet(ctx); err != nil {
			return nil, err
		}
	} else if from, err = parseAddress(n.id, req.From); err != nil {
		return nil, err
	}
	amount := new(big.Int).Set(req.Amount)

	head, err := n.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("evm: %s: newest header: %w", n.id, err)
	}
	var tipCap, feeCap *big.Int // feeCap is the gas price of a legacy transaction
	if head.BaseFee != nil {
		if tipCap, err = n.client.SuggestGasTipCap(ctx); err != nil {
			return nil, fmt.Errorf("evm: %s: suggest priority fee: %w", n.id, err)
		}
		feeCap = new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tipCap)
	} else if feeCap, err = n.client.SuggestGasPrice(ctx); err != nil {
		return nil, fmt.Errorf("evm: %s: suggest gas price: %w", n.id, err)
	}
	// A faulty or hostile node could suggest any fee: refuse to sign above the configured caps.
	if n.maxFeePerGas != nil && feeCap.Cmp(n.maxFeePerGas) > 0 {
		return nil, fmt.Errorf("%w: %s: fee %s wei/gas is above MaxFeePerGas %s", ErrFeeTooHigh, n.id, feeCap, n.maxFeePerGas)
	}
	if n.maxTipPerGas != nil && tipCap != nil && tipCap.Cmp(n.maxTipPerGas) > 0 {
		return nil, fmt.Errorf("%w: %s: tip %s wei/gas is above MaxTipPerGas %s", ErrFeeTooHigh, n.id, tipCap, n.maxTipPerGas)
	}

	var (
		txTo  common.Address
		value = new(big.Int)
		data  []byte
		gas   uint64
	)
	if asset.Native() {
		txTo, value = to, amount
		code, err := n.client.CodeAt(ctx, to, nil)
		if err != nil {
			return nil, fmt.Errorf("evm: %s: code at %s: %w", n.id, to.Hex(), err)
		}
		gas = NativeTransferGas
		if len(code) > 0 {
			est, err := n.client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &to, Value: amount})
			if err != nil {
				return nil, fmt.Errorf("evm: %s: estimate gas of a transfer to contract %s: %w", n.id, to.Hex(), rejected(err))
			}
			gas = withMargin(est)
		}
	} else {
		txTo = common.HexToAddress(asset.Contract)
		if data, err = packTransfer(n.erc20, to, amount); err != nil {
			return nil, fmt.Errorf("evm: pack transfer: %w", err)
		}
		bal, err := n.tokenBalance(ctx, txTo, from)
		if err != nil {
			return nil, err
		}
		if bal.Cmp(amount) < 0 && !n.skipBalanceCheck {
			return nil, fmt.Errorf("%w: %s holds %s base units of %s on %s, transfer needs %s",
				chains.ErrInsufficientOnChain, from.Hex(), bal, asset.Code, n.id, amount)
		}
		gas = n.gasToken
		if gas == 0 {
			est, err := n.client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &txTo, Data: data})
			if err != nil {
				return nil, fmt.Errorf("evm: %s: estimate gas of %s transfer: %w", n.id, asset.Code, rejected(err))
			}
			gas = withMargin(est)
		}
	}

	fee := new(big.Int).Mul(new(big.Int).SetUint64(gas), feeCap)
	need := new(big.Int).Add(value, fee)
	nativeBal, err := n.client.BalanceAt(ctx, from, nil)
	if err != nil {
		return nil, fmt.Errorf("evm: %s: balance of %s: %w", n.id, from.Hex(), err)
	}
	if nativeBal.Cmp(need) < 0 && !n.skipBalanceCheck {
		return nil, fmt.Errorf("%w: %s holds %s wei of %s on %s, transfer needs %s (value %s + max fee %s)",
			chains.ErrInsufficientOnChain, from.Hex(), nativeBal, n.native.Code, n.id, need, value, fee)
	}
	nonce, err := n.client.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("evm: %s: pending nonce of %s: %w", n.id, from.Hex(), err)
	}

	var unsigned *types.Transaction
	if tipCap != nil {
		unsigned = types.NewTx(&types.DynamicFeeTx{
			ChainID: n.ChainID(), Nonce: nonce, GasTipCap: tipCap, GasFeeCap: feeCap,
			Gas: gas, To: &txTo, Value: value, Data: data,
		})
	} else {
		unsigned = types.NewTx(&types.LegacyTx{
			Nonce: nonce, GasPrice: feeCap, Gas: gas, To: &txTo, Value: value, Data: data,
		})
	}
	signed, err := n.signer.SignTx(ctx, from, unsigned, n.ChainID())
	if err != nil {
		return nil, fmt.Errorf("evm: %s: sign: %w", n.id, err)
	}
	// The signer is outside this package: check that it signed this transaction, as from.
	s := types.LatestSignerForChainID(n.chainID)
	if signed == nil || s.Hash(signed) != s.Hash(unsigned) {
		return nil, fmt.Errorf("evm: %s: signer returned a different transaction", n.id)
	}
	if got, err := types.Sender(s, signed); err != nil || got != from {
		return nil, fmt.Errorf("evm: %s: signature does not recover to %s (got %s, %v)", n.id, from.Hex(), got.Hex(), err)
	}
	// EIP-155 replay protection: one key has one address on every EVM chain, so a signature
	// without this chain's id could be replayed on the others.
	if !signed.Protected() || signed.ChainId().Cmp(n.chainID) != 0 {
		return nil, fmt.Errorf("evm: %s: signer returned a transaction without EIP-155 replay protection for chain id %s", n.id, n.chainID)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("evm: encode transaction: %w", err)
	}
	n.log.InfoContext(ctx, "evm: transfer signed", "tx", signed.Hash().Hex(), "asset", asset.Code,
		"from", from.Hex(), "to", to.Hex(), "amount", amount.String(), "nonce", nonce, "gas", gas, "max_fee", fee.String())
	return &chains.SignedTx{
		Network: n.id,
		Hash:    signed.Hash().Hex(),
		From:    from.Hex(),
		Nonce:   nonce,
		Raw:     raw,
		Fee:     fee,
	}, nil
}

// withMargin adds 25% to a gas estimate.
func withMargin(est uint64) uint64 { return est + est/4 }

// Broadcast submits tx.Raw to the node. A transaction the node already has in its pool ("already
// known") or has already mined (a "nonce too low" refusal for a transaction the node knows) is
// not an error, so broadcasting a stored SignedTx again after a restart is safe and pays once.
// Errors: ErrNonceUsed (see there), or the node's error (such as "insufficient funds for gas *
// price + value", or "replacement transaction underpriced" when another transaction of the
// sender with the same nonce is pending).
func (n *Network) Broadcast(ctx context.Context, stx *chains.SignedTx) error {
	if stx == nil || len(stx.Raw) == 0 {
		return errors.New("evm: broadcast: no signed transaction")
	}
	if stx.Network != "" && stx.Network != n.id {
		return fmt.Errorf("evm: broadcast: transaction is for %s, this is %s", stx.Network, n.id)
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(stx.Raw); err != nil {
		return fmt.Errorf("evm: broadcast: decode transaction: %w", err)
	}
	hash := tx.Hash()
	if stx.Hash != "" && !strings.EqualFold(stx.Hash, hash.Hex()) {
		return fmt.Errorf("evm: broadcast: Raw has hash %s, SignedTx.Hash says %s", hash.Hex(), stx.Hash)
	}
	if !tx.Protected() || tx.ChainId().Cmp(n.chainID) != 0 {
		return fmt.Errorf("evm: broadcast: transaction is not replay-protected for chain id %s of %s", n.chainID, n.id)
	}
	err := n.client.SendTransaction(ctx, tx)
	if err == nil {
		n.log.InfoContext(ctx, "evm: transaction broadcast", "tx", hash.Hex())
		return nil
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "already known"), strings.Contains(msg, "known transaction"),
		strings.Contains(msg, "already imported"), strings.Contains(msg, "already exists"),
		strings.Contains(msg, "already in mempool"), strings.Contains(msg, "alreadyknown"):
		n.log.InfoContext(ctx, "evm: transaction already known to the node", "tx", hash.Hex())
		return nil
	case strings.Contains(msg, "nonce too low"), strings.Contains(msg, "oldnonce"):
		known, kerr := n.knows(ctx, hash)
		if kerr != nil {
			return fmt.Errorf("evm: broadcast %s: %w (and looking it up: %v)", hash.Hex(), err, kerr)
		}
		if known {
			n.log.InfoContext(ctx, "evm: transaction already mined", "tx", hash.Hex())
			return nil
		}
		return fmt.Errorf("%w: broadcast %s (nonce %d): %v", ErrNonceUsed, hash.Hex(), tx.Nonce(), err)
	}
	return fmt.Errorf("evm: broadcast %s: %w", hash.Hex(), err)
}

// knows reports whether the node has the transaction, mined or pending.
func (n *Network) knows(ctx context.Context, hash common.Hash) (bool, error) {
	if _, err := n.client.TransactionReceipt(ctx, hash); err == nil {
		return true, nil
	} else if !errors.Is(err, ethereum.NotFound) {
		return false, err
	}
	if _, _, err := n.client.TransactionByHash(ctx, hash); err == nil {
		return true, nil
	} else if !errors.Is(err, ethereum.NotFound) {
		return false, err
	}
	return false, nil
}

// TxStatus returns the state of the transaction with hash ("0x" and 64 hex digits):
//
//   - TxConfirmed or TxFailed (receipt status 1 or 0) once mined, with Confirmations = head −
//     block + 1, the block, and Fee = gas used × effective gas price (plus blob gas, if any) in
//     wei; a failed transaction moved no value but paid its fee.
//   - TxPending while the node has it but no receipt (in the pool).
//   - TxUnknown when the node does not know it (not yet propagated, dropped, or replaced).
//
// Errors: a malformed hash, ErrReorged when the receipt's block was just replaced (retry), an
// error while the node is still indexing transactions (go-ethereum's "transaction indexing is in
// progress", when "not found" would not mean unknown; retry), or the node's error.
func (n *Network) TxStatus(ctx context.Context, hash string) (chains.TxStatus, error) {
	h, err := parseHash(hash)
	if err != nil {
		return chains.TxStatus{}, err
	}
	r, err := n.client.TransactionReceipt(ctx, h)
	indexing := isIndexing(err)
	switch {
	case err == nil:
		return n.minedStatus(ctx, h, r)
	case !errors.Is(err, ethereum.NotFound) && !indexing:
		return chains.TxStatus{}, fmt.Errorf("evm: %s: receipt of %s: %w", n.id, h.Hex(), err)
	}
	_, _, err = n.client.TransactionByHash(ctx, h)
	switch {
	case err == nil:
		// In the pool, or mined but not yet indexed for receipts: either way not settled.
		return chains.TxStatus{State: chains.TxPending}, nil
	case indexing || isIndexing(err):
		// The node is still indexing transactions: "not found" would not mean unknown.
		return chains.TxStatus{}, fmt.Errorf("evm: %s: transaction %s: the node is still indexing transactions, retry: %w", n.id, h.Hex(), err)
	case errors.Is(err, ethereum.NotFound):
		return chains.TxStatus{State: chains.TxUnknown}, nil
	default:
		return chains.TxStatus{}, fmt.Errorf("evm: %s: transaction %s: %w", n.id, h.Hex(), err)
	}
}

// isIndexing reports a go-ethereum node's answer that it has not finished indexing transactions,
// so that it cannot tell whether it knows one.
func isIndexing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "transaction indexing is in progress")
}

// minedStatus builds the status of a transaction with a receipt.
func (n *Network) minedStatus(ctx context.Context, h common.Hash, r *types.Receipt) (chains.TxStatus, error) {
	if r.BlockNumber == nil || !r.BlockNumber.IsUint64() {
		return chains.TxStatus{}, fmt.Errorf("evm: %s: receipt of %s has no block number", n.id, h.Hex())
	}
	header, err := n.client.HeaderByNumber(ctx, r.BlockNumber)
	if err != nil {
		return chains.TxStatus{}, fmt.Errorf("evm: %s: header of block %s: %w", n.id, r.BlockNumber, err)
	}
	if header.Hash() != r.BlockHash {
		return chains.TxStatus{}, fmt.Errorf("%w: receipt of %s names block %s, block %s is %s",
			ErrReorged, h.Hex(), r.BlockHash.Hex(), r.BlockNumber, header.Hash().Hex())
	}
	head, err := n.client.BlockNumber(ctx)
	if err != nil {
		return chains.TxStatus{}, fmt.Errorf("evm: %s: block number: %w", n.id, err)
	}
	confirmations := uint64(1)
	if mined := r.BlockNumber.Uint64(); head >= mined {
		confirmations = head - mined + 1
	}
	price := r.EffectiveGasPrice
	if price == nil {
		tx, _, err := n.client.TransactionByHash(ctx, h)
		if err != nil {
			return chains.TxStatus{}, fmt.Errorf("evm: %s: transaction %s: %w", n.id, h.Hex(), err)
		}
		price = tx.GasPrice()
	}
	fee := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), price)
	if r.BlobGasPrice != nil && r.BlobGasUsed > 0 {
		fee.Add(fee, new(big.Int).Mul(new(big.Int).SetUint64(r.BlobGasUsed), r.BlobGasPrice))
	}
	state := chains.TxConfirmed
	if r.Status != types.ReceiptStatusSuccessful {
		state = chains.TxFailed
	}
	return chains.TxStatus{State: state, Confirmations: confirmations, Block: blockOf(header), Fee: fee}, nil
}

// parseHash checks "0x" followed by 64 hex digits.
func parseHash(s string) (common.Hash, error) {
	if len(s) != 66 || s[0] != '0' || s[1] != 'x' {
		return common.Hash{}, fmt.Errorf("evm: transaction hash %q: want 0x and 64 hex digits", s)
	}
	var h common.Hash
	if _, err := hex.Decode(h[:], []byte(s[2:])); err != nil {
		return common.Hash{}, fmt.Errorf("evm: transaction hash %q: want 0x and 64 hex digits", s)
	}
	return h, nil
}

// rejected marks a gas estimate that failed because the call reverts (chains.ErrTransferRejected):
// JSON-RPC error code 3, or go-ethereum's "execution reverted" (core/vm.ErrExecutionReverted, the
// message every client returns for a revert without data). Any other error, such as a node that
// cannot be reached, is returned as it is.
func rejected(err error) error {
	var coded interface{ ErrorCode() int }
	if (errors.As(err, &coded) && coded.ErrorCode() == 3) || strings.Contains(err.Error(), vm.ErrExecutionReverted.Error()) {
		return fmt.Errorf("%w: %w", chains.ErrTransferRejected, err)
	}
	return err
}
