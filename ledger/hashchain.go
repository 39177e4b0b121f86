package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// The hash chain makes the journal tamper-evident. Every entry stores
//
//	hash = SHA-256(entryDigestV1 content, with the previous hash of every account it posts to)
//
// where an account's previous hash is the hash of the last entry that posted to it before this one
// (its chain head, ledger_accounts.head; none for an account's first entry). Each posting stores the
// head it chained to (prev_hash), so Verify can check every link on its own: each entry's hash
// matches its content, each posting's prev_hash is the hash of the entry of the account's previous
// posting, and each account's head is the hash of its last entry.
//
// The journal is thus a hash DAG rather than one list: an entry links to the previous entry of each
// of its accounts. Changing, removing or inserting any entry breaks the links of every later entry
// on each of its accounts, up to the accounts' heads, exactly as a single chain would, but writers
// on disjoint accounts never wait for one another: a single chain head would be one row that every
// write in the ledger must lock until it commits, which caps the whole ledger at one commit at a
// time. Anchoring HeadDigest's value outside the database detects even a rewrite of the whole DAG.

// hashLen is the length of an entry hash (SHA-256).
const hashLen = sha256.Size

// chainVersion tags the digest's encoding, so that a future encoding can never collide with it.
const chainVersion = "settle.ledger.entry.v1"

// chainPosting is a posting as the hash sees it.
type chainPosting struct {
	account               string // account ID
	seq                   int64
	dir                   Side
	amount, before, after string // base units, decimal
	prev                  []byte // the account's head before the entry; nil for its first entry
}

// chainEntry is an entry as the hash sees it.
type chainEntry struct {
	id, key, description, reverses string
	meta                           []byte // canonMeta
	createdMicros                  int64  // created_at in Unix microseconds
	postings                       []chainPosting
}

// digest returns the entry's hash. The encoding is a sequence of fields, each a uvarint length
// followed by its bytes, in a fixed order; postings are taken in (account ID, seq) order whatever
// the order they were given in, so that the writer and Verify agree.
func (e *chainEntry) digest() []byte {
	ps := make([]chainPosting, len(e.postings))
	copy(ps, e.postings)
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].account != ps[j].account {
			return ps[i].account < ps[j].account
		}
		return ps[i].seq < ps[j].seq
	})
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	field := func(b []byte) {
		n := binary.PutUvarint(buf[:], uint64(len(b)))
		h.Write(buf[:n])
		h.Write(b)
	}
	str := func(s string) { field([]byte(s)) }
	str(chainVersion)
	str(e.id)
	str(e.key)
	str(e.description)
	field(e.meta)
	str(strconv.FormatInt(e.createdMicros, 10))
	str(e.reverses)
	str(strconv.Itoa(len(ps)))
	for _, p := range ps {
		str(p.account)
		str(strconv.FormatInt(p.seq, 10))
		str(string(p.dir))
		str(p.amount)
		str(p.before)
		str(p.after)
		field(p.prev)
	}
	return h.Sum(nil)
}

// chain links a new entry into the hash DAG: it sets each posting's prev to its account's current
// head, computes the entry's hash and makes it the head of every account the entry touches. rows
// must be the entry's postings on locked accounts, in the order applyLegs numbered them; an account
// touched twice chains both postings to the same previous head.
func chain(id string, h entryHead, rows []postingRow) []byte {
	ce := chainEntry{id: id, key: h.key, description: h.description, reverses: h.reverses,
		meta: canonMeta(metaFromJSON(h.metaJSON)), createdMicros: h.now.UnixMicro(),
		postings: make([]chainPosting, len(rows))}
	prev := make(map[*accountRow][]byte, len(rows))
	for i := range rows {
		r := &rows[i]
		p, ok := prev[r.acct]
		if !ok {
			p = r.acct.Head
			prev[r.acct] = p
		}
		r.prev = p
		r.amountS, r.beforeS, r.afterS = r.amount.String(), r.before.String(), r.after.String()
		ce.postings[i] = chainPosting{account: r.acct.ID, seq: r.seq, dir: r.dir, amount: r.amountS,
			before: r.beforeS, after: r.afterS, prev: p}
	}
	sum := ce.digest()
	for a := range prev {
		a.Head = sum
	}
	return sum
}

// canonMeta is the canonical form of decoded metadata that the hash covers: JSON with sorted keys
// and every number in one form (see canonNumber). Both stores return metadata that decodes to the
// same canonical form as what was written, although PostgreSQL's JSONB may reformat numbers (1e2
// comes back as 100). Nil or empty metadata is nil.
func canonMeta(m map[string]any) []byte {
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(canonValue(m))
	if err != nil {
		// Decoded JSON always re-encodes; keep any error visible in the hash instead of panicking.
		return []byte("unencodable: " + err.Error())
	}
	return b
}

func canonValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = canonValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = canonValue(x)
		}
		return out
	case json.Number:
		return json.RawMessage(canonNumber(string(t)))
	default:
		return v
	}
}

// canonNumber writes a JSON number as [-]digits[eN] with no leading or trailing zeros in digits
// (0 for zero), so that 1.50, 1.5e0 and 15e-1 all read 15e-1. It never expands an exponent. A
// number with an exponent beyond ±2^50 (which no store keeps as a number) is returned as it is.
func canonNumber(raw string) string {
	s := raw
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e > 1<<50 || e < -(1<<50) {
			return raw
		}
		mant, exp = s[:i], e
	}
	digits := mant
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		frac := mant[i+1:]
		digits = mant[:i] + frac
		exp -= int64(len(frac))
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0"
	}
	n := len(digits)
	digits = strings.TrimRight(digits, "0")
	exp += int64(n - len(digits))
	if neg {
		digits = "-" + digits
	}
	if exp == 0 {
		return digits
	}
	return digits + "e" + strconv.FormatInt(exp, 10)
}

// hexHash is an entry hash as Entry.Hash shows it: lowercase hex, or "" for none.
func hexHash(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return hex.EncodeToString(b)
}
