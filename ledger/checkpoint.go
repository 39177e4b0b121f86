package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/uptrace/bun"
)

// ProblemCheckpoint: the ledger's history disagrees with a Checkpoint taken earlier (see
// VerifyCheckpoint), or the checkpoint's digest does not match its heads.
const ProblemCheckpoint = "checkpoint"

// Checkpoint records the ledger's hash chain at one moment: every account's head (the hash of its
// last entry) and the number of its postings. Kept outside the database (a log, a notary, another
// system, a signed e-mail), it lets VerifyCheckpoint prove later that the history up to that moment
// was not rewritten, even by someone who could recompute every hash after changing an entry.
type Checkpoint struct {
	// At is when the checkpoint was taken (the ledger's clock).
	At time.Time
	// Heads has one element per account, in account ID order.
	Heads []AccountHead
	// Digest is the SHA-256 of Heads, 64 lowercase hex digits: small enough to publish, and what
	// VerifyCheckpoint checks the heads against.
	Digest string
}

// AccountHead is one account's place in a Checkpoint.
type AccountHead struct {
	AccountID string
	Account   string // code
	// Seq is the number of the account's postings; Head the hash of the entry of its last one
	// (Entry.Hash), empty when Seq is 0.
	Seq  int64
	Head string
}

// checkpointDigest is the SHA-256 of a tag and each head's ID, seq and head, length-prefixed, in
// the order given.
func checkpointDigest(heads []AccountHead) string {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	field := func(s string) {
		n := binary.PutUvarint(buf[:], uint64(len(s)))
		h.Write(buf[:n])
		h.Write([]byte(s))
	}
	field("settle.ledger.checkpoint.v1")
	for _, a := range heads {
		field(a.AccountID)
		field(strconv.FormatInt(a.Seq, 10))
		field(a.Head)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Checkpoint returns the heads of every account, read in one consistent snapshot, and their
// digest. It reads one row per account. Errors: a database error.
func (l *Ledger) Checkpoint(ctx context.Context) (Checkpoint, error) {
	var cp Checkpoint
	err := l.snapshot(ctx, func(ctx context.Context, tx bun.IDB) error {
		cp = Checkpoint{At: l.now()}
		rows, err := tx.QueryContext(ctx, "SELECT id, code, seq, head FROM ledger_accounts ORDER BY id")
		if err != nil {
			return err
		}
		for rows.Next() {
			var a AccountHead
			var head []byte
			if err := rows.Scan(&a.AccountID, &a.Account, &a.Seq, &head); err != nil {
				rows.Close()
				return err
			}
			a.Head = hexHash(head)
			cp.Heads = append(cp.Heads, a)
		}
		return closeRows(rows)
	})
	if err != nil {
		return Checkpoint{}, err
	}
	cp.Digest = checkpointDigest(cp.Heads)
	return cp, nil
}

// VerifyCheckpoint runs Verify and, in the same snapshot, checks the ledger against cp, taken
// earlier by Checkpoint: cp's digest matches its heads, and for every head, the account still
// exists and the entry of its posting number Seq still has the hash Head. With Verify's hash
// chain, which links every later entry back to those, this proves that no entry committed before
// cp was changed, removed or inserted since. Problems are reported as ProblemCheckpoint (naming
// the account) next to Verify's own. Errors: a database error.
func (l *Ledger) VerifyCheckpoint(ctx context.Context, cp Checkpoint) (Report, error) {
	var rep Report
	err := l.snapshot(ctx, func(ctx context.Context, tx bun.IDB) error {
		rep = Report{CheckedAt: l.now()}
		if err := l.verify(ctx, tx, &rep); err != nil {
			return err
		}
		if got := checkpointDigest(cp.Heads); got != cp.Digest {
			rep.add(ProblemCheckpoint, "", "", "digest %s does not match its heads (%s)", cp.Digest, got)
		}
		for _, a := range cp.Heads {
			if err := checkHead(ctx, tx, &rep, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	return rep, nil
}

func checkHead(ctx context.Context, tx bun.IDB, rep *Report, a AccountHead) error {
	var (
		code, asset string
		seq         int64
	)
	err := tx.QueryRowContext(ctx, "SELECT code, asset, seq FROM ledger_accounts WHERE id = ?", a.AccountID).Scan(&code, &asset, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		rep.add(ProblemCheckpoint, a.Account, "", "account %s is gone", a.AccountID)
		return nil
	}
	if err != nil {
		return err
	}
	if seq < a.Seq {
		rep.add(ProblemCheckpoint, code, asset, "account has %d postings, the checkpoint saw %d", seq, a.Seq)
		return nil
	}
	if a.Seq == 0 {
		if a.Head != "" {
			rep.add(ProblemCheckpoint, code, asset, "checkpoint has head %s for an account without postings", a.Head)
		}
		return nil
	}
	var hash []byte
	err = tx.QueryRowContext(ctx, `SELECT e.hash FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
	WHERE p.account_id = ? AND p.seq = ?`, a.AccountID, a.Seq).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		rep.add(ProblemCheckpoint, code, asset, "posting %d of the checkpoint is gone", a.Seq)
		return nil
	}
	if err != nil {
		return err
	}
	want, err := hex.DecodeString(a.Head)
	if err != nil || !bytes.Equal(hash, want) {
		rep.add(ProblemCheckpoint, code, asset, "the entry of posting %d has hash %s, the checkpoint saw %s", a.Seq, orNone(hash), a.Head)
	}
	return nil
}
