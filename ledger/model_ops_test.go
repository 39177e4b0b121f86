package ledger_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/ledger"
)

// TestModel's reversals and batches: the model's side and the operations that drive them.

// mEntry is a posted entry as the model knows it.
type mEntry struct {
	id         string
	legs       []ledger.PostingInput // in posting order
	reverses   string                // the entry this one reverses, or ""
	reversedBy string                // its reversal, or ""
}

func (m *model) addEntry(id string, legs []ledger.PostingInput, reverses string) {
	m.entries[id] = &mEntry{id: id, legs: slices.Clone(legs), reverses: reverses}
	m.entryIDs = append(m.entryIDs, id)
	m.tot.entries++
	m.tot.postings += len(legs)
}

// validEntry returns the errors of an entry malformed in itself (Post's and PostBatch's checks
// before any database access), or nil.
func (m *model) validEntry(in ledger.EntryInput) []error {
	if len(in.Postings) < 2 {
		return []error{ledger.ErrInvalidEntry}
	}
	for _, p := range in.Postings {
		if badCode(p.Account) || (p.Direction != ledger.Debit && p.Direction != ledger.Credit) {
			return []error{ledger.ErrInvalidEntry}
		}
		if p.Amount.Sign() <= 0 {
			return []error{ledger.ErrInvalidAmount}
		}
	}
	if _, ok := metaJSON(in.Metadata); !ok || !utf8Valid(in.Description) {
		return []error{ledger.ErrInvalidEntry}
	}
	return nil
}

func flip(d ledger.Side) ledger.Side {
	if d == ledger.Debit {
		return ledger.Credit
	}
	return ledger.Debit
}

// reverse returns the errors the ledger must report for Reverse(entryID, in), the entry a replay
// must return, or, on success, the reversal's postings and a commit that applies it. As
// reversals.go documents: the request is checked (ErrInvalidEntry), then its key (a replay returns
// the first reversal, even of an entry reversed since; another request under the key is a
// conflict), then the entry (ErrNotFound, ErrReversalOfReversal, ErrAlreadyReversed), then the
// reversal is posted as Post would (ErrInsufficientFunds for a NoOverdraft account newly below
// zero): the original's postings, in order, with their directions flipped.
func (m *model) reverse(entryID string, in ledger.ReverseInput) (want []error, replayID string, legs []ledger.PostingInput, commit func(id string)) {
	meta, ok := metaJSON(in.Metadata)
	if !ok || !utf8Valid(in.Description) {
		return []error{ledger.ErrInvalidEntry}, "", nil, nil
	}
	desc := fmt.Sprintf("reverse|%s|%q|%s", entryID, in.Description, meta)
	if k := m.entryKeys[in.IdempotencyKey]; in.IdempotencyKey != "" && k != nil {
		if k.desc == desc {
			return nil, k.entryID, nil, nil
		}
		return []error{ledger.ErrIdempotencyConflict}, "", nil, nil
	}
	orig := m.entries[entryID]
	switch {
	case orig == nil:
		return []error{ledger.ErrNotFound}, "", nil, nil
	case orig.reverses != "":
		return []error{ledger.ErrReversalOfReversal}, "", nil, nil
	case orig.reversedBy != "":
		return []error{ledger.ErrAlreadyReversed}, "", nil, nil
	}
	var codes []string
	for _, p := range orig.legs {
		legs = append(legs, ledger.PostingInput{Account: p.Account, Direction: flip(p.Direction), Amount: p.Amount})
		codes = append(codes, p.Account)
	}
	bad := m.overdraft(slices.Compact(slices.Sorted(slices.Values(codes))), func() func() {
		for _, p := range legs {
			m.applyLeg(p.Account, p.Direction, p.Amount)
		}
		return func() {}
	})
	if bad {
		return []error{ledger.ErrInsufficientFunds}, "", nil, nil
	}
	return nil, "", legs, func(id string) {
		if in.IdempotencyKey != "" {
			m.entryKeys[in.IdempotencyKey] = &mEntryKey{desc: desc, entryID: id, revOf: entryID, revIn: in}
		}
		orig.reversedBy = id
		m.addEntry(id, legs, entryID)
	}
}

// entryPick returns an entry to reverse: often a reversal or a reversed entry (refused), now and
// then one that does not exist.
func (s *modelSeqRun) entryPick() string {
	if len(s.m.entryIDs) == 0 || s.r.IntN(15) == 0 {
		return "je_missing"
	}
	if s.r.IntN(3) == 0 {
		var done []string
		for _, id := range s.m.entryIDs {
			if e := s.m.entries[id]; e.reverses != "" || e.reversedBy != "" {
				done = append(done, id)
			}
		}
		if len(done) > 0 {
			return done[s.r.IntN(len(done))]
		}
	}
	if s.r.IntN(2) == 0 { // a recent one
		return s.m.entryIDs[max(0, len(s.m.entryIDs)-1-s.r.IntN(4))]
	}
	return s.m.entryIDs[s.r.IntN(len(s.m.entryIDs))]
}

func (s *modelSeqRun) opReverse() {
	in := ledger.ReverseInput{IdempotencyKey: s.key(), Description: "rev", Metadata: s.meta()}
	switch s.r.IntN(20) {
	case 0:
		in.Description = "bad \xff utf8"
	case 1:
		in.Metadata = map[string]any{"x": math.Inf(-1)}
	}
	id := s.entryPick()
	s.reverse(id, in)
	if s.t.Failed() || s.r.IntN(3) != 0 {
		return
	}
	// Again at once, under a fresh key: refused whatever the first attempt did (unless it failed).
	in.IdempotencyKey = ""
	s.reverse(id, in)
}

func (s *modelSeqRun) reverse(entryID string, in ledger.ReverseInput) {
	want, replayID, legs, commit := s.m.reverse(entryID, in)
	e, err := s.l.Reverse(s.ctx, entryID, in)
	s.logf("Reverse(%s, key %q) -> %s %v", entryID, in.IdempotencyKey, e.ID, err)
	if d := errMismatch(err, want); d != "" {
		s.fatalf("Reverse: %s", d)
		return
	}
	if err != nil {
		return
	}
	if replayID != "" {
		if e.ID != replayID || e.Reverses != s.m.entries[replayID].reverses {
			s.fatalf("Reverse replay returned entry %s reversing %s, want %s reversing %s", e.ID, e.Reverses, replayID,
				s.m.entries[replayID].reverses)
		}
		return
	}
	if e.ID == "" || s.m.entries[e.ID] != nil || e.Reverses != entryID || len(e.Postings) != len(legs) {
		s.fatalf("Reverse(%s) returned entry %q reversing %q with %d postings, want a new one reversing it with %d",
			entryID, e.ID, e.Reverses, len(e.Postings), len(legs))
		return
	}
	for i, p := range legs {
		seq, before, after := s.m.applyLeg(p.Account, p.Direction, p.Amount)
		g := e.Postings[i]
		if g.Account != p.Account || g.Direction != p.Direction || !g.Amount.Equal(p.Amount) || g.Seq != seq ||
			!g.BalanceBefore.Equal(before) || !g.BalanceAfter.Equal(after) {
			s.fatalf("reversal posting %d: ledger %+v; model %s %s %s seq %d %s -> %s", i, g, p.Account, p.Direction,
				p.Amount, seq, before, after)
			return
		}
	}
	commit(e.ID)
	orig, err := s.l.Entry(s.ctx, entryID)
	if err != nil || orig.ReversedBy != e.ID || orig.Reverses != "" {
		s.fatalf("after Reverse: Entry(%s) = reversed by %q, reverses %q, %v; want reversed by %s", entryID,
			orig.ReversedBy, orig.Reverses, err, e.ID)
	}
}

// compareEntry checks one random entry (and the last one) as Entry reads it back: its postings in
// order and its reversal links.
func (s *modelSeqRun) compareEntry() {
	if len(s.m.entryIDs) == 0 {
		return
	}
	for _, id := range []string{s.m.entryIDs[s.r.IntN(len(s.m.entryIDs))], s.m.entryIDs[len(s.m.entryIDs)-1]} {
		me := s.m.entries[id]
		e, err := s.l.Entry(s.ctx, id)
		if err != nil {
			s.fatalf("Entry(%s): %v", id, err)
			return
		}
		ok := e.ID == id && e.Reverses == me.reverses && e.ReversedBy == me.reversedBy && len(e.Postings) == len(me.legs)
		for i := 0; ok && i < len(me.legs); i++ {
			g, p := e.Postings[i], me.legs[i]
			ok = g.EntryID == id && g.Account == p.Account && g.Direction == p.Direction && g.Amount.Equal(p.Amount)
		}
		if !ok {
			s.fatalf("Entry(%s) = %+v; model reverses %q, reversed by %q, postings %v", id, e, me.reverses,
				me.reversedBy, me.legs)
			return
		}
	}
}

// finish ends a sequence: Verify passes; with group commit, Close stops Post (ErrClosed) and
// nothing else.
func (s *modelSeqRun) finish() {
	rep, err := s.l.Verify(s.ctx)
	if err != nil || !rep.OK() {
		s.fatalf("Verify after the sequence: %v %+v", err, rep.Problems)
		return
	}
	if !s.group {
		return
	}
	if err := s.l.Close(); err != nil {
		s.fatalf("Close: %v", err)
		return
	}
	_, err = s.l.Post(s.ctx, ledger.Transfer("", s.prefix+"world:USDT", s.prefix+"user0:USDT", decimal.NewFromInt(1), "closed"))
	if d := errMismatch(err, []error{ledger.ErrClosed}); d != "" {
		s.fatalf("Post after Close: %s", d)
		return
	}
	s.compare() // nothing written, and reads still work
}

// mSnap is the part of the model a batch changes, to roll an AllOrNothing batch back.
type mSnap struct {
	accts     map[string]mAcct
	entryKeys map[string]*mEntryKey
	entries   map[string]*mEntry
	entryIDs  []string
	tot       mTotals
}

func (m *model) snap() mSnap {
	sn := mSnap{accts: map[string]mAcct{}, entryKeys: maps.Clone(m.entryKeys), entries: maps.Clone(m.entries),
		entryIDs: slices.Clone(m.entryIDs), tot: *m.tot}
	for c, a := range m.accts {
		sn.accts[c] = *a
	}
	return sn
}

func (m *model) restore(sn mSnap) {
	for c, a := range sn.accts {
		*m.accts[c] = a
	}
	m.entryKeys, m.entries, m.entryIDs, *m.tot = sn.entryKeys, sn.entries, sn.entryIDs, sn.tot
}

// batchInput returns 1–6 entries for PostBatch: transfers and multi-leg entries (some refused for
// insufficient funds), a deposit followed by a spend that needs it (an entry sees the batch's
// earlier entries), an unknown account, an earlier key with the same or another request, an entry
// of the batch repeated under its key (the same request, or another), and now and then a malformed
// entry.
func (s *modelSeqRun) batchInput() []ledger.EntryInput {
	n := 1 + s.r.IntN(6)
	var ins []ledger.EntryInput
	for len(ins) < n {
		switch k := s.r.IntN(20); {
		case k < 6:
			ins = append(ins, s.transfer())
		case k < 9:
			ins = append(ins, s.multiLeg())
		case k < 11: // fund a NoOverdraft account, then spend all it has and the new funds
			asset := s.asset()
			to := s.prefix + fmt.Sprintf("user%d:", s.r.IntN(2)) + asset
			x := s.amount(asset)
			all := s.m.available(s.m.accts[to]).Add(x)
			if s.r.IntN(4) == 0 {
				all = all.Add(decimal.New(1, -modelAssets[asset])) // one base unit too many
			}
			ins = append(ins, ledger.Transfer(s.key(), s.prefix+"world:"+asset, to, x, "fund"))
			if all.IsPositive() {
				ins = append(ins, ledger.Transfer(s.key(), to, s.pickOther(asset, to), all, "spend"))
			}
		case k < 12:
			in := s.transfer()
			in.Postings[s.r.IntN(2)].Account = s.prefix + "ghost:USDT"
			ins = append(ins, in)
		case k < 14: // an earlier key: the same request (written differently) or another
			kk := randKey(s.r, s.m.entryKeys)
			if kk == "" || s.m.entryKeys[kk].post == nil || s.r.IntN(2) == 0 {
				in := s.transfer()
				if kk != "" {
					in.IdempotencyKey = kk
				}
				ins = append(ins, in)
				continue
			}
			in := *s.m.entryKeys[kk].post
			in.Postings = slices.Clone(in.Postings)
			for i := range in.Postings {
				a := in.Postings[i].Amount
				in.Postings[i].Amount = decimal.NewFromBigInt(a.Coefficient().Mul(a.Coefficient(), bigTen), a.Exponent()-1)
			}
			ins = append(ins, in)
		case k < 18: // an entry of the batch again under its key
			if len(ins) == 0 {
				continue
			}
			j := s.r.IntN(len(ins))
			if ins[j].IdempotencyKey == "" {
				ins[j].IdempotencyKey = fmt.Sprintf("%sb%d", s.prefix, s.r.IntN(1000))
			}
			in := ins[j]
			in.Postings = slices.Clone(in.Postings)
			if s.r.IntN(2) == 0 {
				in.Description += "+"
			}
			ins = append(ins, in)
		default:
			if s.r.IntN(3) != 0 {
				continue
			}
			in := s.transfer()
			switch s.r.IntN(3) {
			case 0:
				in.Postings = in.Postings[:1]
			case 1:
				in.Postings[0].Amount = decimal.Zero
			default:
				in.Description = "bad \xff utf8"
			}
			ins = append(ins, in)
		}
	}
	return ins
}

// opBatch posts a batch in one of the two modes and checks it against the model applying the same
// entries one after another: in Independent mode each result is what Post would have returned at
// that point; in AllOrNothing mode, if every entry passes, the same, else a *BatchError naming the
// first entry that fails (see below) and nothing written.
func (s *modelSeqRun) opBatch() {
	if s.r.IntN(25) == 0 { // the edge cases: an empty batch, an unknown mode
		res, err := s.l.PostBatch(s.ctx, nil, ledger.AllOrNothing)
		if err != nil || len(res) != 0 {
			s.fatalf("PostBatch(empty) = %v, %v", res, err)
			return
		}
		_, err = s.l.PostBatch(s.ctx, []ledger.EntryInput{s.transfer()}, ledger.BatchMode(7))
		if d := errMismatch(err, []error{ledger.ErrInvalidEntry}); d != "" {
			s.fatalf("PostBatch(mode 7): %s", d)
		}
		return
	}
	ins := s.batchInput()
	mode := []ledger.BatchMode{ledger.AllOrNothing, ledger.Independent}[s.r.IntN(2)]
	res, err := s.l.PostBatch(s.ctx, ins, mode)
	s.logf("PostBatch(mode %d, %d entries) -> %v", mode, len(ins), err)
	for i, in := range ins {
		var r ledger.BatchResult
		if i < len(res) {
			r = res[i]
		}
		s.logf("  [%d] key %q %q %v -> %s %v", i, in.IdempotencyKey, in.Description, in.Postings, r.Entry.ID, r.Err)
	}
	if mode == ledger.Independent {
		if err != nil || len(res) != len(ins) {
			s.fatalf("PostBatch(Independent, %d entries) = %d results, %v", len(ins), len(res), err)
			return
		}
		ok := false
		for i, in := range ins {
			s.checkPost(fmt.Sprintf("PostBatch(Independent) entry %d", i), in, res[i].Entry, res[i].Err)
			if s.t.Failed() {
				return
			}
			ok = ok || res[i].Err == nil
		}
		modelStats.noteBatch(ok)
		return
	}

	// AllOrNothing: find the first failing entry on a copy of the model. PostBatch checks every
	// entry's shape before it applies any (validEntry), so a malformed entry after one refused
	// for, say, insufficient funds may be the one named; the documentation ("the first entry that
	// fails") allows either reading, so either index is accepted, with its own error.
	sn := s.m.snap()
	failAt, invalidAt := -1, -1
	var failWant []error
	for i, in := range ins {
		if invalidAt < 0 && s.m.validEntry(in) != nil {
			invalidAt = i
		}
		if failAt >= 0 {
			continue
		}
		want, replayID, commit := s.m.post(in)
		if want != nil {
			failAt, failWant = i, want
			continue
		}
		if replayID == "" {
			for _, p := range in.Postings {
				s.m.applyLeg(p.Account, p.Direction, p.Amount)
			}
			commit(fmt.Sprintf("batch-entry-%d", i))
		}
	}
	s.m.restore(sn)
	if failAt < 0 {
		if err != nil || len(res) != len(ins) {
			s.fatalf("PostBatch(AllOrNothing, %d entries) = %d results, %v; the model posts them all", len(ins), len(res), err)
			return
		}
		for i, in := range ins {
			s.checkPost(fmt.Sprintf("PostBatch(AllOrNothing) entry %d", i), in, res[i].Entry, res[i].Err)
			if s.t.Failed() {
				return
			}
		}
		modelStats.noteBatch(true)
		return
	}
	var be *ledger.BatchError
	if !errors.As(err, &be) || res != nil {
		s.fatalf("PostBatch(AllOrNothing) = %d results, %v; the model refuses entry %d with %v", len(res), err, failAt, failWant)
		return
	}
	want := failWant
	if be.Index != failAt && be.Index == invalidAt {
		want = s.m.validEntry(ins[invalidAt])
	} else if be.Index != failAt {
		s.fatalf("PostBatch(AllOrNothing) failed at entry %d (%v); the model refuses entry %d with %v (first malformed: %d)",
			be.Index, be.Err, failAt, failWant, invalidAt)
		return
	}
	if d := errMismatch(be.Err, want); d != "" || !errors.Is(err, be.Err) {
		s.fatalf("PostBatch(AllOrNothing) entry %d: %s", be.Index, d)
		return
	}
	modelStats.noteBatch(false)
}

func (o modelOutcomes) noteBatch(ok bool) {
	if ok {
		o["batch ok"]++
	} else {
		o["batch refused"]++
	}
}
