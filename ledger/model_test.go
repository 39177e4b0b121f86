package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/ledger"
)

// Property test: random operation sequences applied both to the ledger and to an in-memory model
// of it; after every step, every balance, every hold's status, a random entry's postings and
// reversal links, the row counts and every operation's error class must agree. The operations are
// posts, holds, captures, voids, expiry sweeps, idempotent replays, malformed requests, reversals
// (model_ops_test.go) and PostBatch in both modes; the whole test runs twice, as subtests: direct,
// and groupcommit (Config.GroupCommit on, so that Post goes through the committer).
//
// Replay a failure with the seed and sequence it prints:
//
//	go test ./ledger -run '^TestModel$/^direct$' -ledger.seed=S -ledger.seq=N
//
// (or SETTLE_LEDGER_SEED=S). -ledger.modeltime sets the time budget for the random sequences of
// the direct subtest; the groupcommit subtest gets half of it.
var (
	flagModelSeed = flag.Uint64("ledger.seed", 0, "TestModel: master seed (0: random; env SETTLE_LEDGER_SEED)")
	flagModelSeq  = flag.Int("ledger.seq", -1, "TestModel: run only this sequence of the seed")
	flagModelTime = flag.Duration("ledger.modeltime", 8*time.Second, "TestModel: time budget per store")
)

// modelSentinels are the errors whose errors.Is result the test compares with the model's.
var modelSentinels = []error{
	ledger.ErrNotFound, ledger.ErrInvalidAmount, ledger.ErrUnbalanced, ledger.ErrAssetMismatch,
	ledger.ErrInsufficientFunds, ledger.ErrIdempotencyConflict, ledger.ErrAccountConflict,
	ledger.ErrHoldNotPending, ledger.ErrInvalidEntry, ledger.ErrAssetConflict, ledger.ErrInvalidAsset,
	ledger.ErrInvalidAccount, ledger.ErrAlreadyReversed, ledger.ErrReversalOfReversal, ledger.ErrClosed,
}

// modelAssets are the assets sequences use, with their precisions (PTS, precision 0, is created
// by the test).
var modelAssets = map[string]int32{"USDT": 6, "BTC": 8, "ETH": 18, "PTS": 0}

type mAcct struct {
	code, asset string
	normal      ledger.Side
	flags       ledger.AccountFlags
	dp, cp      decimal.Decimal // posted debits and credits
	seq         int64
}

type mHold struct {
	id                   string
	debit, credit, asset string
	amount, captured     decimal.Decimal
	exp                  time.Time
	status               ledger.HoldStatus // as stored: pending until captured, voided or swept
}

type mEntryKey struct {
	desc, entryID string
	post          *ledger.EntryInput // the request, to replay; nil for a capture or a reversal
	capHold       string
	capAmount     decimal.Decimal
	revOf         string // for a reversal: the entry it reverses, and its request
	revIn         ledger.ReverseInput
}

type mHoldKey struct {
	desc, holdID string
	in           ledger.HoldInput
}

// mTotals are the row counts the whole database must have.
type mTotals struct{ entries, postings, holds int }

type model struct {
	now       time.Time
	accts     map[string]*mAcct
	codes     []string
	holds     map[string]*mHold
	holdIDs   []string
	entryKeys map[string]*mEntryKey
	holdKeys  map[string]*mHoldKey
	tot       *mTotals
	entries   map[string]*mEntry // every entry posted, by id (model_ops_test.go)
	entryIDs  []string           // in posting order
}

func (m *model) posted(a *mAcct) decimal.Decimal {
	if a.normal == ledger.Debit {
		return a.dp.Sub(a.cp)
	}
	return a.cp.Sub(a.dp)
}

func (h *mHold) live(now time.Time) bool {
	return h.status == ledger.HoldPending && (h.exp.IsZero() || now.Before(h.exp))
}

func (h *mHold) public(now time.Time) ledger.HoldStatus {
	if h.status == ledger.HoldPending && !h.live(now) {
		return ledger.HoldExpired
	}
	return h.status
}

func (m *model) held(a *mAcct) decimal.Decimal {
	s := decimal.Zero
	for _, id := range m.holdIDs {
		h := m.holds[id]
		if !h.live(m.now) {
			continue
		}
		if (a.normal == ledger.Credit && h.debit == a.code) || (a.normal == ledger.Debit && h.credit == a.code) {
			s = s.Add(h.amount)
		}
	}
	return s
}

func (m *model) available(a *mAcct) decimal.Decimal { return m.posted(a).Sub(m.held(a)) }

// overdraft reports whether mutate, applied to the model, takes one of the accounts codes, if
// NoOverdraft, below zero and lower than it was (the ledger's rule). The accounts are restored
// afterwards, and mutate's undo is run.
func (m *model) overdraft(codes []string, mutate func() (undo func())) bool {
	before := map[string]decimal.Decimal{}
	saved := map[string]mAcct{}
	for _, c := range codes {
		before[c] = m.available(m.accts[c])
		saved[c] = *m.accts[c]
	}
	undo := mutate()
	bad := false
	for _, c := range codes {
		a := m.accts[c]
		after := m.available(a)
		if a.flags&ledger.NoOverdraft != 0 && after.IsNegative() && after.LessThan(before[c]) {
			bad = true
		}
	}
	undo()
	for c, a := range saved {
		*m.accts[c] = a
	}
	return bad
}

func badCode(c string) bool {
	return c == "" || len(c) > 255 || strings.ContainsFunc(c, func(r rune) bool { return r == ' ' || r < 0x20 })
}

func metaJSON(meta map[string]any) (string, bool) {
	if len(meta) == 0 {
		return "", true
	}
	b, err := json.Marshal(meta)
	return string(b), err == nil
}

func fitsPrecision(d decimal.Decimal, p int32) bool {
	return d.Shift(p).Equal(d.Shift(p).Truncate(0))
}

func (m *model) postDesc(in ledger.EntryInput) string {
	meta, _ := metaJSON(in.Metadata)
	var b strings.Builder
	fmt.Fprintf(&b, "entry|%q|%s", in.Description, meta)
	for _, p := range in.Postings {
		fmt.Fprintf(&b, "|%s,%s,%s", p.Account, p.Direction, p.Amount.String())
	}
	return b.String()
}

// post returns the errors the ledger must report for in, and, on success, applies it (replayID is
// the entry a replay must return).
func (m *model) post(in ledger.EntryInput) (want []error, replayID string, commit func(entryID string)) {
	if want := m.validEntry(in); want != nil {
		return want, "", nil
	}
	desc := m.postDesc(in)
	if k := m.entryKeys[in.IdempotencyKey]; in.IdempotencyKey != "" && k != nil {
		if k.desc == desc {
			return nil, k.entryID, nil
		}
		return []error{ledger.ErrIdempotencyConflict}, "", nil
	}
	var codes []string
	for _, p := range in.Postings {
		if m.accts[p.Account] == nil {
			return []error{ledger.ErrNotFound}, "", nil
		}
		codes = append(codes, p.Account)
	}
	for _, p := range in.Postings {
		if !fitsPrecision(p.Amount, modelAssets[m.accts[p.Account].asset]) {
			return []error{ledger.ErrInvalidAmount}, "", nil
		}
	}
	net := map[string]decimal.Decimal{}
	for _, p := range in.Postings {
		a := m.accts[p.Account].asset
		if p.Direction == ledger.Debit {
			net[a] = net[a].Add(p.Amount)
		} else {
			net[a] = net[a].Sub(p.Amount)
		}
	}
	for _, v := range net {
		if !v.IsZero() {
			if len(net) > 1 {
				return []error{ledger.ErrUnbalanced, ledger.ErrAssetMismatch}, "", nil
			}
			return []error{ledger.ErrUnbalanced}, "", nil
		}
	}
	bad := m.overdraft(slices.Compact(slices.Sorted(slices.Values(codes))), func() func() {
		for _, p := range in.Postings {
			m.applyLeg(p.Account, p.Direction, p.Amount)
		}
		return func() {}
	})
	if bad {
		return []error{ledger.ErrInsufficientFunds}, "", nil
	}
	return nil, "", func(entryID string) {
		if in.IdempotencyKey != "" {
			c := in
			m.entryKeys[in.IdempotencyKey] = &mEntryKey{desc: desc, entryID: entryID, post: &c}
		}
		m.addEntry(entryID, in.Postings, "")
	}
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

var bigTen = big.NewInt(10)

// applyLeg applies one posting to the model and returns the account's seq and balance after it.
func (m *model) applyLeg(code string, dir ledger.Side, amt decimal.Decimal) (int64, decimal.Decimal, decimal.Decimal) {
	a := m.accts[code]
	before := m.posted(a)
	if dir == ledger.Debit {
		a.dp = a.dp.Add(amt)
	} else {
		a.cp = a.cp.Add(amt)
	}
	a.seq++
	return a.seq, before, m.posted(a)
}

func holdExp(in ledger.HoldInput) time.Time {
	if in.ExpiresAt.IsZero() {
		return time.Time{}
	}
	return in.ExpiresAt.UTC().Truncate(time.Microsecond)
}

func (m *model) holdDesc(in ledger.HoldInput) string {
	meta, _ := metaJSON(in.Metadata)
	exp := ""
	if e := holdExp(in); !e.IsZero() {
		exp = e.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("hold|%s|%s|%s|%s|%q|%s", in.Debit, in.Credit, in.Amount.String(), exp, in.Description, meta)
}

func (m *model) hold(in ledger.HoldInput) (want []error, replayID string, availBefore, availAfter decimal.Decimal, commit func(id string)) {
	fail := func(errs ...error) ([]error, string, decimal.Decimal, decimal.Decimal, func(string)) {
		return errs, "", decimal.Zero, decimal.Zero, nil
	}
	if badCode(in.Debit) || badCode(in.Credit) || in.Debit == in.Credit {
		return fail(ledger.ErrInvalidEntry)
	}
	if in.Amount.Sign() <= 0 {
		return fail(ledger.ErrInvalidAmount)
	}
	if _, ok := metaJSON(in.Metadata); !ok || !utf8Valid(in.Description) {
		return fail(ledger.ErrInvalidEntry)
	}
	desc := m.holdDesc(in)
	if k := m.holdKeys[in.IdempotencyKey]; in.IdempotencyKey != "" && k != nil {
		if k.desc == desc {
			return nil, k.holdID, decimal.Zero, decimal.Zero, nil
		}
		return fail(ledger.ErrIdempotencyConflict)
	}
	d, c := m.accts[in.Debit], m.accts[in.Credit]
	if d == nil || c == nil {
		return fail(ledger.ErrNotFound)
	}
	if d.asset != c.asset {
		return fail(ledger.ErrAssetMismatch)
	}
	if !fitsPrecision(in.Amount, modelAssets[d.asset]) {
		return fail(ledger.ErrInvalidAmount)
	}
	exp := holdExp(in)
	if !exp.IsZero() && !m.now.Before(exp) {
		return fail(ledger.ErrInvalidEntry)
	}
	nh := &mHold{id: "?", debit: in.Debit, credit: in.Credit, asset: d.asset, amount: in.Amount, exp: exp,
		status: ledger.HoldPending}
	before := m.available(d)
	bad := m.overdraft([]string{in.Debit, in.Credit}, func() func() {
		m.holds[nh.id] = nh
		m.holdIDs = append(m.holdIDs, nh.id)
		return func() {
			delete(m.holds, nh.id)
			m.holdIDs = m.holdIDs[:len(m.holdIDs)-1]
		}
	})
	if bad {
		return fail(ledger.ErrInsufficientFunds)
	}
	after := before.Sub(in.Amount)
	if d.normal == ledger.Debit {
		after = before // a debit-normal account's held counts holds that credit it
	}
	return nil, "", before, after, func(id string) {
		nh.id = id
		m.holds[id] = nh
		m.holdIDs = append(m.holdIDs, id)
		if in.IdempotencyKey != "" {
			m.holdKeys[in.IdempotencyKey] = &mHoldKey{desc: desc, holdID: id, in: in}
		}
		m.tot.holds++
	}
}

func (m *model) capture(holdID string, amount decimal.Decimal, key string) (want []error, replayID string, amt decimal.Decimal, commit func(entryID string)) {
	if amount.Sign() < 0 {
		return []error{ledger.ErrInvalidAmount}, "", amt, nil
	}
	h := m.holds[holdID]
	if h == nil {
		return []error{ledger.ErrNotFound}, "", amt, nil
	}
	amt = h.amount
	if amount.Sign() > 0 {
		if !fitsPrecision(amount, modelAssets[h.asset]) || amount.GreaterThan(h.amount) {
			return []error{ledger.ErrInvalidAmount}, "", amt, nil
		}
		amt = amount
	}
	desc := fmt.Sprintf("capture|%s|%s", holdID, amt.String())
	if k := m.entryKeys[key]; key != "" && k != nil {
		if k.desc == desc {
			return nil, k.entryID, amt, nil
		}
		return []error{ledger.ErrIdempotencyConflict}, "", amt, nil
	}
	if !h.live(m.now) {
		return []error{ledger.ErrHoldNotPending}, "", amt, nil
	}
	bad := m.overdraft([]string{h.debit, h.credit}, func() func() {
		m.applyLeg(h.debit, ledger.Debit, amt)
		m.applyLeg(h.credit, ledger.Credit, amt)
		h.status = ledger.HoldCaptured
		return func() { h.status = ledger.HoldPending }
	})
	if bad {
		return []error{ledger.ErrInsufficientFunds}, "", amt, nil
	}
	return nil, "", amt, func(entryID string) {
		h.status, h.captured = ledger.HoldCaptured, amt
		if key != "" {
			m.entryKeys[key] = &mEntryKey{desc: desc, entryID: entryID, capHold: holdID, capAmount: amount}
		}
		m.addEntry(entryID, []ledger.PostingInput{{Account: h.debit, Direction: ledger.Debit, Amount: amt},
			{Account: h.credit, Direction: ledger.Credit, Amount: amt}}, "")
	}
}

func (m *model) void(holdID string) []error {
	h := m.holds[holdID]
	if h == nil {
		return []error{ledger.ErrNotFound}
	}
	if !h.live(m.now) {
		return []error{ledger.ErrHoldNotPending}
	}
	h.status = ledger.HoldVoided
	return nil
}

func (m *model) expire() int {
	n := 0
	for _, id := range m.holdIDs {
		if h := m.holds[id]; h.status == ledger.HoldPending && !h.live(m.now) {
			h.status = ledger.HoldExpired
			n++
		}
	}
	return n
}

func (m *model) ensure(spec ledger.AccountSpec) []error {
	if badCode(spec.Code) || (spec.Normal != ledger.Debit && spec.Normal != ledger.Credit) ||
		spec.Flags&^ledger.NoOverdraft != 0 || spec.Asset == "" {
		return []error{ledger.ErrInvalidAccount}
	}
	if a := m.accts[spec.Code]; a != nil {
		if a.asset != spec.Asset || a.normal != spec.Normal || a.flags != spec.Flags {
			return []error{ledger.ErrAccountConflict}
		}
		return nil
	}
	if _, ok := modelAssets[spec.Asset]; !ok {
		return []error{ledger.ErrNotFound}
	}
	m.accts[spec.Code] = &mAcct{code: spec.Code, asset: spec.Asset, normal: spec.Normal, flags: spec.Flags}
	m.codes = append(m.codes, spec.Code)
	return nil
}

// errMismatch describes how got differs from the sentinels in want ("" if it does not).
func errMismatch(got error, want []error) string {
	modelStats.note(got)
	if len(want) == 0 {
		if got != nil {
			return fmt.Sprintf("got error %v, want success", got)
		}
		return ""
	}
	if got == nil {
		return fmt.Sprintf("got success, want %v", want)
	}
	for _, s := range modelSentinels {
		if errors.Is(got, s) != slices.Contains(want, s) {
			return fmt.Sprintf("got error %v, want %v", got, want)
		}
	}
	return ""
}

// modelOutcomes counts the outcomes the model test saw, to show that every class occurs.
type modelOutcomes map[string]int

var modelStats = modelOutcomes{}

func (o modelOutcomes) note(err error) {
	if err == nil {
		o["ok"]++
		return
	}
	for _, s := range modelSentinels {
		if errors.Is(err, s) {
			o[strings.TrimPrefix(s.Error(), "ledger: ")]++
		}
	}
}

func modelSeed(t *testing.T) uint64 {
	if *flagModelSeed != 0 {
		return *flagModelSeed
	}
	if s := os.Getenv("SETTLE_LEDGER_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SETTLE_LEDGER_SEED: %v", err)
		}
		return v
	}
	return rand.Uint64()
}

func TestModel(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testModel(t, false, *flagModelTime) })
	t.Run("groupcommit", func(t *testing.T) { testModel(t, true, *flagModelTime/2) })
}

// testModel runs random sequences for budget, each on a Ledger of its own, with group commit on if
// group.
func testModel(t *testing.T, group bool, budget time.Duration) {
	ctx := context.Background()
	db := dbtest.Open(t)
	if err := ledger.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	setupL := ledger.New(db, ledger.Config{})
	for code, p := range modelAssets {
		if err := setupL.EnsureAsset(ctx, ledger.Asset{Code: code, Precision: p}); err != nil {
			t.Fatal(err)
		}
	}
	master := modelSeed(t)
	t.Logf("%s: seed %d; replay a sequence with: go test ./ledger -run '^%s$' -ledger.seed=%d -ledger.seq=N",
		dbtest.Name(db), master, t.Name(), master)
	tot := &mTotals{}
	clear(modelStats)
	start := time.Now()
	steps, seqs := 0, 0
	for i := 0; ; i++ {
		if *flagModelSeq >= 0 {
			if i > 0 {
				break
			}
			i = *flagModelSeq
		} else if seqs >= 1 && time.Since(start) > budget {
			break
		}
		r := rand.New(rand.NewPCG(master, uint64(i)))
		ms := &modelSeqRun{t: t, ctx: ctx, r: r, seq: i, master: master, group: group}
		ms.run(db, tot)
		steps += ms.steps
		seqs++
		if t.Failed() {
			return
		}
	}
	mustVerify(t, ledger.New(db, ledger.Config{}))
	t.Logf("%s: %d sequences, %d steps, %d entries, %d holds in %v", dbtest.Name(db), seqs, steps, tot.entries,
		tot.holds, time.Since(start).Round(time.Millisecond))
	for _, need := range []string{"ok", "insufficient funds", "idempotency key reused with a different request",
		"not found", "entry already reversed", "entry is a reversal", "batch ok", "batch refused"} {
		if modelStats[need] == 0 && *flagModelSeq < 0 && steps >= 600 {
			t.Errorf("no %q outcome in %d steps: the operation mix no longer reaches it", need, steps)
		}
	}
	t.Logf("outcomes: %v", modelStats)
}

type modelSeqRun struct {
	t      *testing.T
	ctx    context.Context
	r      *rand.Rand
	seq    int
	master uint64
	steps  int
	m      *model
	l      *ledger.Ledger
	clk    *clock
	trace  []string
	prefix string
	nAcct  int
	group  bool // Config.GroupCommit on
}

func (s *modelSeqRun) fatalf(format string, args ...any) {
	s.t.Helper()
	tail := s.trace
	if len(tail) > 25 {
		tail = tail[len(tail)-25:]
	}
	s.t.Fatalf("seed %d seq %d step %d: %s\nlast steps:\n  %s\nreplay: go test ./ledger -run '^%s$' -ledger.seed=%d -ledger.seq=%d",
		s.master, s.seq, s.steps, fmt.Sprintf(format, args...), strings.Join(tail, "\n  "), s.t.Name(), s.master, s.seq)
}

func (s *modelSeqRun) run(bdb *bun.DB, tot *mTotals) {
	// Each sequence has its own accounts and keys, and a clock 30 days after the previous one's, so
	// that it behaves the same run alone (-ledger.seq) or after others.
	s.clk = &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s.seq) * 30 * 24 * time.Hour)}
	s.l = ledger.New(bdb, ledger.Config{Now: s.clk.Now, GroupCommit: ledger.GroupCommitConfig{Enabled: s.group}})
	defer s.l.Close()
	if _, err := s.l.ExpireHolds(s.ctx); err != nil { // earlier sequences' holds
		s.t.Fatal(err)
	}
	s.prefix = fmt.Sprintf("q%d:", s.seq)
	s.m = &model{now: s.clk.Now(), accts: map[string]*mAcct{}, holds: map[string]*mHold{},
		entryKeys: map[string]*mEntryKey{}, holdKeys: map[string]*mHoldKey{}, tot: tot, entries: map[string]*mEntry{}}
	for _, asset := range []string{"USDT", "BTC", "ETH", "PTS"} {
		s.ensure(ledger.AccountSpec{Code: s.prefix + "world:" + asset, Asset: asset, Normal: ledger.Debit})
		s.ensure(ledger.AccountSpec{Code: s.prefix + "user0:" + asset, Asset: asset, Normal: ledger.Credit, Flags: ledger.NoOverdraft})
		s.ensure(ledger.AccountSpec{Code: s.prefix + "user1:" + asset, Asset: asset, Normal: ledger.Credit, Flags: ledger.NoOverdraft})
	}
	n := 40 + s.r.IntN(120)
	for s.steps = 0; s.steps < n; s.steps++ {
		s.step()
		if s.t.Failed() {
			return
		}
		s.compare()
		if s.t.Failed() {
			return
		}
	}
	s.finish()
}

func (s *modelSeqRun) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%d: ", s.steps)+fmt.Sprintf(format, args...))
}

func (s *modelSeqRun) ensure(spec ledger.AccountSpec) {
	want := s.m.ensure(spec)
	_, err := s.l.EnsureAccount(s.ctx, spec)
	s.logf("EnsureAccount(%+v) -> %v", spec, err)
	if d := errMismatch(err, want); d != "" {
		s.fatalf("EnsureAccount: %s", d)
	}
}

// compare checks every account's balance, every hold's state and the table row counts.
func (s *modelSeqRun) compare() {
	s.t.Helper()
	for _, c := range s.m.codes {
		a := s.m.accts[c]
		b, err := s.l.Balance(s.ctx, c)
		if err != nil {
			s.fatalf("balance %s: %v", c, err)
			return
		}
		p, h := s.m.posted(a), s.m.held(a)
		if !b.Posted.Equal(p) || !b.Held.Equal(h) || !b.Available.Equal(p.Sub(h)) || b.Asset != a.asset {
			s.fatalf("%s: ledger posted %s held %s available %s; model %s %s %s", c, b.Posted, b.Held, b.Available,
				p, h, p.Sub(h))
			return
		}
	}
	for _, id := range s.m.holdIDs {
		mh := s.m.holds[id]
		h, err := s.l.GetHold(s.ctx, id)
		if err != nil {
			s.fatalf("hold %s: %v", id, err)
			return
		}
		if h.Status != mh.public(s.m.now) || !h.Captured.Equal(mh.captured) || !h.Amount.Equal(mh.amount) {
			s.fatalf("hold %s: ledger %s captured %s of %s; model %s captured %s of %s", id, h.Status, h.Captured,
				h.Amount, mh.public(s.m.now), mh.captured, mh.amount)
			return
		}
	}
	s.compareEntry()
	if s.t.Failed() {
		return
	}
	var got mTotals
	if err := s.l.DB().QueryRowContext(s.ctx, `SELECT (SELECT COUNT(*) FROM ledger_entries),
	(SELECT COUNT(*) FROM ledger_postings), (SELECT COUNT(*) FROM ledger_holds)`).Scan(&got.entries, &got.postings, &got.holds); err != nil {
		s.fatalf("count rows: %v", err)
		return
	}
	if got != *s.m.tot {
		s.fatalf("the database has %+v rows, the model %+v", got, *s.m.tot)
	}
}

// Random inputs.

func (s *modelSeqRun) acctsOf(asset string) []string {
	var out []string
	for _, c := range s.m.codes {
		if s.m.accts[c].asset == asset {
			out = append(out, c)
		}
	}
	return out
}

func (s *modelSeqRun) asset() string {
	return []string{"USDT", "USDT", "BTC", "ETH", "PTS"}[s.r.IntN(5)]
}

// amount returns a positive amount valid for asset, scaled near the funding amounts.
func (s *modelSeqRun) amount(asset string) decimal.Decimal {
	p := modelAssets[asset]
	scale := int32(s.r.IntN(int(min(p, 3)) + 1))
	v := decimal.New(s.r.Int64N(3000)+1, -scale)
	if s.r.IntN(8) == 0 { // same value, other representation (1.5 vs 1.50)
		v = decimal.NewFromBigInt(v.Coefficient().Mul(v.Coefficient(), bigTen), v.Exponent()-1)
	}
	return v
}

// badAmount returns an invalid amount for asset: zero, negative or too precise.
func (s *modelSeqRun) badAmount(asset string) decimal.Decimal {
	switch s.r.IntN(3) {
	case 0:
		return decimal.Zero
	case 1:
		return s.amount(asset).Neg()
	}
	return decimal.New(s.r.Int64N(1000)*10+1, -(modelAssets[asset] + 1))
}

func (s *modelSeqRun) pickAcct(asset string) string {
	as := s.acctsOf(asset)
	return as[s.r.IntN(len(as))]
}

// pickOther returns an account of asset other than code, if there is one (one time in 20, code).
func (s *modelSeqRun) pickOther(asset, code string) string {
	as := slices.DeleteFunc(s.acctsOf(asset), func(c string) bool { return c == code })
	if len(as) == 0 || s.r.IntN(20) == 0 {
		return code
	}
	return as[s.r.IntN(len(as))]
}

func (s *modelSeqRun) key() string {
	if s.r.IntN(3) != 0 {
		return ""
	}
	return fmt.Sprintf("%sk%d", s.prefix, s.r.IntN(20))
}

func (s *modelSeqRun) meta() map[string]any {
	switch s.r.IntN(6) {
	case 0:
		return map[string]any{"order": strconv.Itoa(s.r.IntN(3)), "n": s.r.IntN(3)}
	case 1:
		return map[string]any{}
	}
	return nil
}

func (s *modelSeqRun) holdID() string {
	if len(s.m.holdIDs) == 0 || s.r.IntN(15) == 0 {
		return "hold_missing"
	}
	return s.m.holdIDs[s.r.IntN(len(s.m.holdIDs))]
}

func (s *modelSeqRun) step() {
	switch op := s.r.IntN(116); {
	case op < 5:
		s.opEnsure()
	case op < 28:
		s.opPost(s.transfer())
	case op < 38:
		s.opPost(s.multiLeg())
	case op < 53:
		s.opHold(s.holdInput())
	case op < 65:
		s.opCapture()
	case op < 71:
		s.opVoid()
	case op < 79:
		s.opAdvance()
	case op < 83:
		want := s.m.expire()
		n, err := s.l.ExpireHolds(s.ctx)
		s.logf("ExpireHolds -> %d %v", n, err)
		if err != nil || n != want {
			s.fatalf("ExpireHolds: %d, %v; model expired %d", n, err, want)
		}
	case op < 92:
		s.opReplay()
	case op < 99:
		s.opInvalid()
	case op < 100:
		_, err := s.l.Balance(s.ctx, s.prefix+"nobody")
		if d := errMismatch(err, []error{ledger.ErrNotFound}); d != "" {
			s.fatalf("Balance of an unknown account: %s", d)
		}
	case op < 108:
		s.opReverse()
	default:
		s.opBatch()
	}
}

func (s *modelSeqRun) opEnsure() {
	s.nAcct++
	asset := s.asset()
	spec := ledger.AccountSpec{Code: fmt.Sprintf("%sa%d:%s", s.prefix, s.nAcct, asset), Asset: asset,
		Normal: []ledger.Side{ledger.Credit, ledger.Debit}[s.r.IntN(2)], Flags: ledger.AccountFlags(s.r.IntN(2))}
	switch s.r.IntN(8) {
	case 0: // the same code again, maybe with another spec
		old := s.m.accts[s.m.codes[s.r.IntN(len(s.m.codes))]]
		spec = ledger.AccountSpec{Code: old.code, Asset: old.asset, Normal: old.normal, Flags: old.flags}
		if s.r.IntN(2) == 0 {
			spec.Flags ^= ledger.NoOverdraft
		}
	case 1:
		spec.Asset = "NOPE"
	case 2:
		spec.Normal = "sideways"
	case 3:
		spec.Code = "has space"
	}
	s.ensure(spec)
}

func (s *modelSeqRun) transfer() ledger.EntryInput {
	asset := s.asset()
	from := s.pickAcct(asset)
	if s.r.IntN(3) == 0 {
		from = s.prefix + "world:" + asset
	}
	to := s.pickOther(asset, from)
	if s.r.IntN(20) == 0 { // across assets: refused
		to = s.pickAcct(s.asset())
	}
	in := ledger.Transfer(s.key(), from, to, s.amount(asset), "t")
	in.Metadata = s.meta()
	return in
}

// multiLeg returns an entry with several legs over one or two assets, balanced per asset unless
// (rarely) deliberately not.
func (s *modelSeqRun) multiLeg() ledger.EntryInput {
	in := ledger.EntryInput{IdempotencyKey: s.key(), Description: "multi", Metadata: s.meta()}
	assets := []string{s.asset()}
	if s.r.IntN(2) == 0 {
		assets = append(assets, s.asset())
	}
	for _, asset := range assets {
		total := decimal.Zero
		for range 1 + s.r.IntN(3) {
			amt := s.amount(asset)
			total = total.Add(amt)
			in.Postings = append(in.Postings, ledger.PostingInput{Account: s.pickAcct(asset), Direction: ledger.Debit, Amount: amt})
		}
		p := modelAssets[asset]
		if s.r.IntN(2) == 0 && total.Shift(p).GreaterThan(decimal.NewFromInt(1)) {
			part := total.Shift(p).Div(decimal.NewFromInt(2)).Truncate(0).Shift(-p)
			in.Postings = append(in.Postings, ledger.PostingInput{Account: s.pickAcct(asset), Direction: ledger.Credit, Amount: part})
			total = total.Sub(part)
		}
		in.Postings = append(in.Postings, ledger.PostingInput{Account: s.pickAcct(asset), Direction: ledger.Credit, Amount: total})
	}
	if s.r.IntN(12) == 0 {
		i := s.r.IntN(len(in.Postings))
		in.Postings[i].Amount = in.Postings[i].Amount.Add(decimal.New(1, -modelAssets[s.m.accts[in.Postings[i].Account].asset]))
	}
	s.r.Shuffle(len(in.Postings), func(i, j int) { in.Postings[i], in.Postings[j] = in.Postings[j], in.Postings[i] })
	return in
}

func (s *modelSeqRun) opPost(in ledger.EntryInput) {
	e, err := s.l.Post(s.ctx, in)
	s.logf("Post(key %q, %v) -> %s %v", in.IdempotencyKey, in.Postings, e.ID, err)
	s.checkPost("Post", in, e, err)
}

// checkPost checks what posting in returned (by Post, or as one result of PostBatch) against the
// model, and applies it to the model.
func (s *modelSeqRun) checkPost(what string, in ledger.EntryInput, e ledger.Entry, err error) {
	want, replayID, commit := s.m.post(in)
	if d := errMismatch(err, want); d != "" {
		s.fatalf("%s: %s", what, d)
		return
	}
	if err != nil {
		return
	}
	if replayID != "" {
		if e.ID != replayID {
			s.fatalf("%s replay returned entry %s, want %s", what, e.ID, replayID)
		}
		return
	}
	if e.ID == "" || s.m.entries[e.ID] != nil || e.Reverses != "" || e.ReversedBy != "" {
		s.fatalf("%s returned entry %q (reverses %q, reversed by %q), want a new one", what, e.ID, e.Reverses, e.ReversedBy)
		return
	}
	if len(e.Postings) != len(in.Postings) {
		s.fatalf("%s returned %d postings, want %d", what, len(e.Postings), len(in.Postings))
		return
	}
	for i, p := range in.Postings {
		seq, before, after := s.m.applyLeg(p.Account, p.Direction, p.Amount)
		g := e.Postings[i]
		if g.Account != p.Account || g.Direction != p.Direction || !g.Amount.Equal(p.Amount) || g.Seq != seq ||
			!g.BalanceBefore.Equal(before) || !g.BalanceAfter.Equal(after) {
			s.fatalf("posting %d: ledger %+v; model %s %s %s seq %d %s -> %s", i, g, p.Account, p.Direction, p.Amount,
				seq, before, after)
			return
		}
	}
	commit(e.ID)
}

func (s *modelSeqRun) holdInput() ledger.HoldInput {
	asset := s.asset()
	debit := s.pickAcct(asset)
	in := ledger.HoldInput{IdempotencyKey: s.key(), Debit: debit, Credit: s.pickOther(asset, debit),
		Amount: s.amount(asset), Description: "h", Metadata: s.meta()}
	if s.r.IntN(3) == 0 && debit != s.prefix+"world:"+asset {
		in.Credit = s.prefix + "world:" + asset
	}
	if s.r.IntN(20) == 0 {
		in.Credit = s.pickAcct(s.asset())
	}
	switch s.r.IntN(8) {
	case 0, 1, 2, 3:
	case 7: // already due: refused
		in.ExpiresAt = s.m.now.Add(-time.Duration(s.r.IntN(2)) * time.Second)
	default:
		in.ExpiresAt = s.m.now.Add(time.Duration(1+s.r.IntN(600_000)) * time.Millisecond)
	}
	return in
}

func (s *modelSeqRun) opHold(in ledger.HoldInput) {
	want, replayID, before, after, commit := s.m.hold(in)
	h, err := s.l.Hold(s.ctx, in)
	s.logf("Hold(key %q, %s->%s %s exp %v) -> %s %v", in.IdempotencyKey, in.Debit, in.Credit, in.Amount,
		in.ExpiresAt, h.ID, err)
	if d := errMismatch(err, want); d != "" {
		s.fatalf("Hold: %s", d)
		return
	}
	if err != nil {
		return
	}
	if replayID != "" {
		if h.ID != replayID || h.Status != s.m.holds[replayID].public(s.m.now) {
			s.fatalf("Hold replay returned %s (%s), want %s (%s)", h.ID, h.Status, replayID, s.m.holds[replayID].public(s.m.now))
		}
		return
	}
	if s.m.holds[h.ID] != nil || h.Status != ledger.HoldPending || !h.Amount.Equal(in.Amount) ||
		!h.AvailableBefore.Equal(before) || !h.AvailableAfter.Equal(after) {
		s.fatalf("Hold returned %+v; model available %s -> %s", h, before, after)
		return
	}
	commit(h.ID)
}

func (s *modelSeqRun) captureArgs() (string, decimal.Decimal, string) {
	id := s.holdID()
	key := s.key()
	h := s.m.holds[id]
	if h == nil {
		return id, decimal.Zero, key
	}
	switch s.r.IntN(8) {
	case 0, 1, 2:
		return id, decimal.Zero, key
	case 3:
		return id, h.amount, key
	case 4: // more than the hold
		return id, h.amount.Add(decimal.New(1, -modelAssets[h.asset])), key
	case 5:
		return id, s.badAmount(h.asset), key
	}
	// part of it
	p := modelAssets[h.asset]
	part := h.amount.Mul(decimal.NewFromInt(int64(1 + s.r.IntN(7)))).Div(decimal.NewFromInt(8)).Truncate(p)
	if part.IsZero() {
		part = decimal.New(1, -p)
	}
	return id, part, key
}

func (s *modelSeqRun) opCapture() {
	id, amount, key := s.captureArgs()
	s.capture(id, amount, key)
}

func (s *modelSeqRun) capture(id string, amount decimal.Decimal, key string) {
	want, replayID, amt, commit := s.m.capture(id, amount, key)
	h, e, err := s.l.Capture(s.ctx, id, amount, key)
	s.logf("Capture(%s, %s, key %q) -> %s %v", id, amount, key, e.ID, err)
	if d := errMismatch(err, want); d != "" {
		s.fatalf("Capture: %s", d)
		return
	}
	if err != nil {
		return
	}
	if replayID != "" {
		if e.ID != replayID || h.ID != id || h.Status != s.m.holds[id].public(s.m.now) {
			s.fatalf("Capture replay returned entry %s hold %s, want %s %s", e.ID, h.Status, replayID, s.m.holds[id].public(s.m.now))
		}
		return
	}
	mh := s.m.holds[id]
	if h.Status != ledger.HoldCaptured || !h.Captured.Equal(amt) || h.EntryID != e.ID || len(e.Postings) != 2 {
		s.fatalf("Capture returned hold %+v entry %+v, want captured %s", h, e, amt)
		return
	}
	for i, leg := range []struct {
		code string
		dir  ledger.Side
	}{{mh.debit, ledger.Debit}, {mh.credit, ledger.Credit}} {
		seq, before, after := s.m.applyLeg(leg.code, leg.dir, amt)
		g := e.Postings[i]
		if g.Account != leg.code || g.Direction != leg.dir || !g.Amount.Equal(amt) || g.Seq != seq ||
			!g.BalanceBefore.Equal(before) || !g.BalanceAfter.Equal(after) {
			s.fatalf("capture posting %d: ledger %+v; model %s %s seq %d %s -> %s", i, g, leg.code, amt, seq, before, after)
			return
		}
	}
	commit(e.ID)
}

func (s *modelSeqRun) opVoid() {
	id := s.holdID()
	want := s.m.void(id)
	h, err := s.l.Void(s.ctx, id)
	s.logf("Void(%s) -> %v", id, err)
	if d := errMismatch(err, want); d != "" {
		s.fatalf("Void: %s", d)
		return
	}
	if err == nil && h.Status != ledger.HoldVoided {
		s.fatalf("Void returned status %s", h.Status)
	}
}

func (s *modelSeqRun) opAdvance() {
	d := time.Duration(1+s.r.IntN(120_000)) * time.Millisecond
	if s.r.IntN(3) == 0 { // land exactly on (or just before) a deadline
		var exps []time.Time
		for _, id := range s.m.holdIDs {
			if h := s.m.holds[id]; h.live(s.m.now) && !h.exp.IsZero() {
				exps = append(exps, h.exp)
			}
		}
		if len(exps) > 0 {
			d = exps[s.r.IntN(len(exps))].Sub(s.m.now) - time.Duration(s.r.IntN(2))*time.Microsecond
		}
	}
	s.clk.Advance(d)
	s.m.now = s.m.now.Add(d)
	s.logf("advance %v -> %v", d, s.m.now)
}

// opReplay repeats an earlier successful request under its key: the same request (amounts and
// deadline written differently) returns the first result; a changed one is a conflict.
func (s *modelSeqRun) opReplay() {
	change := s.r.IntN(3) == 0
	switch s.r.IntN(3) {
	case 0:
		k := randKey(s.r, s.m.entryKeys)
		if k == "" {
			return
		}
		rec := s.m.entryKeys[k]
		if rec.revOf != "" {
			in, of := rec.revIn, rec.revOf
			if change {
				if s.r.IntN(2) == 0 {
					in.Description += "!"
				} else {
					of = s.entryPick()
				}
			}
			s.reverse(of, in)
			return
		}
		if rec.post == nil {
			amt := rec.capAmount
			if change {
				amt = amt.Add(decimal.New(1, -modelAssets[s.m.holds[rec.capHold].asset]))
			}
			s.capture(rec.capHold, amt, k)
			return
		}
		in := *rec.post
		in.Postings = slices.Clone(in.Postings)
		for i := range in.Postings {
			a := in.Postings[i].Amount
			in.Postings[i].Amount = decimal.NewFromBigInt(a.Coefficient().Mul(a.Coefficient(), bigTen), a.Exponent()-1)
		}
		if change {
			switch s.r.IntN(3) {
			case 0:
				in.Description += "!"
			case 1:
				in.Postings[0].Amount = in.Postings[0].Amount.Add(decimal.NewFromInt(1))
				in.Postings[1].Amount = in.Postings[1].Amount.Add(decimal.NewFromInt(1))
			default:
				in.Metadata = map[string]any{"changed": true}
			}
		}
		s.opPost(in)
	case 1:
		k := randKey(s.r, s.m.holdKeys)
		if k == "" {
			return
		}
		in := s.m.holdKeys[k].in
		if !in.ExpiresAt.IsZero() {
			in.ExpiresAt = in.ExpiresAt.In(time.FixedZone("X", 5*3600))
		}
		if change {
			if s.r.IntN(2) == 0 {
				in.Amount = in.Amount.Add(decimal.NewFromInt(1))
			} else {
				in.ExpiresAt = s.m.now.Add(time.Hour)
			}
		}
		s.opHold(in)
	default: // a capture key reused for a post or a reversal, or the other way round
		k := randKey(s.r, s.m.entryKeys)
		if k == "" {
			return
		}
		if s.m.entryKeys[k].revOf == "" && s.r.IntN(3) == 0 {
			s.reverse(s.entryPick(), ledger.ReverseInput{IdempotencyKey: k, Description: "r"})
			return
		}
		if s.m.entryKeys[k].post != nil && len(s.m.holdIDs) > 0 {
			s.capture(s.m.holdIDs[s.r.IntN(len(s.m.holdIDs))], decimal.Zero, k)
			return
		}
		in := s.transfer()
		in.IdempotencyKey = k
		s.opPost(in)
	}
}

func randKey[V any](r *rand.Rand, m map[string]V) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	return keys[r.IntN(len(keys))]
}

// opInvalid sends a malformed request, which must fail with the right error and change nothing.
func (s *modelSeqRun) opInvalid() {
	switch s.r.IntN(10) {
	case 0:
		in := s.transfer()
		in.Postings = in.Postings[:s.r.IntN(2)]
		s.opPost(in)
	case 1:
		in := s.multiLeg()
		in.Postings[s.r.IntN(len(in.Postings))].Direction = "up"
		s.opPost(in)
	case 2:
		in := s.multiLeg()
		p := &in.Postings[s.r.IntN(len(in.Postings))]
		p.Amount = s.badAmount(s.m.accts[p.Account].asset)
		s.opPost(in)
	case 3:
		in := s.transfer()
		in.Postings[s.r.IntN(2)].Account = []string{"", "bad code", s.prefix + "ghost:USDT"}[s.r.IntN(3)]
		s.opPost(in)
	case 4:
		in := s.transfer()
		if s.r.IntN(2) == 0 {
			in.Metadata = map[string]any{"x": math.Inf(1)}
		} else {
			in.Description = "bad \xff utf8"
		}
		s.opPost(in)
	case 5:
		in := s.holdInput()
		in.Credit = in.Debit
		s.opHold(in)
	case 6:
		in := s.holdInput()
		in.Amount = s.badAmount(s.m.accts[in.Debit].asset)
		s.opHold(in)
	case 7:
		in := s.holdInput()
		in.Debit = []string{"", "bad code", s.prefix + "ghost:USDT"}[s.r.IntN(3)]
		s.opHold(in)
	case 8:
		in := s.holdInput()
		in.Metadata = map[string]any{"x": math.NaN()}
		s.opHold(in)
	default:
		in := s.transfer()
		in.Postings[1].Amount = in.Postings[1].Amount.Add(decimal.New(1, -modelAssets[s.m.accts[in.Postings[0].Account].asset]))
		s.opPost(in)
	}
}
