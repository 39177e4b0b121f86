//go:build unix

package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/ledger"
)

// The crash test's child process reads its database, round and retries from these variables.
const (
	envCrashDSN   = "SETTLE_LEDGER_CRASH_CHILD_DSN"
	envCrashRound = "SETTLE_LEDGER_CRASH_ROUND"
	envCrashRetry = "SETTLE_LEDGER_CRASH_RETRY" // "key,key,…": keys to post again first
)

const (
	crashRounds  = 10
	crashWorkers = 4 // goroutines posting in the child
	crashWorld   = "crash:world:USDT"
)

var crashAccts = []string{"crash:a:USDT", "crash:b:USDT", "crash:c:USDT"}

// crashEntry is the entry the child posts under key: a function of the key alone, so that a
// retry after a crash sends the same request.
func crashEntry(key string) ledger.EntryInput {
	h := fnv.New64a()
	h.Write([]byte(key))
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	amt := func() decimal.Decimal { return decimal.New(r.Int64N(100_000_000)+1, -6) }
	a, b := crashAccts[r.IntN(3)], crashAccts[r.IntN(3)]
	switch r.IntN(3) {
	case 0:
		return ledger.Transfer(key, crashWorld, a, amt(), "deposit")
	case 1:
		return ledger.Transfer(key, a, b, amt(), "transfer")
	}
	x, y := amt(), amt()
	return ledger.EntryInput{IdempotencyKey: key, Description: "multi", Postings: []ledger.PostingInput{
		{Account: crashWorld, Direction: ledger.Debit, Amount: x},
		{Account: a, Direction: ledger.Credit, Amount: x},
		{Account: a, Direction: ledger.Debit, Amount: y},
		{Account: b, Direction: ledger.Credit, Amount: y},
	}}
}

func crashKey(round, worker, i int) string { return fmt.Sprintf("crash-%d-%d-%d", round, worker, i) }

// TestCrashChild is the child process of TestCrashRecovery, not a test of its own: it posts
// entries in a loop from a few goroutines and prints "COMMITTED <entry id> <key>" for each one
// only after Post returned, until it is killed.
func TestCrashChild(t *testing.T) {
	dsn := os.Getenv(envCrashDSN)
	if dsn == "" {
		t.Skip("helper process of TestCrashRecovery")
	}
	ctx := context.Background()
	fail := func(format string, args ...any) {
		fmt.Printf("CHILDERR "+format+"\n", args...)
		os.Exit(3)
	}
	round, err := strconv.Atoi(os.Getenv(envCrashRound))
	if err != nil {
		fail("round: %v", err)
	}
	db, err := database.Open(ctx, dsn)
	if err != nil {
		fail("open: %v", err)
	}
	l := ledger.New(db, ledger.Config{})
	var mu sync.Mutex
	post := func(key string) {
		e, err := l.Post(ctx, crashEntry(key))
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(os.Stdout, "REFUSED %s\n", key)
			return
		}
		if err != nil {
			fail("post %s: %v", key, err)
		}
		mu.Lock()
		defer mu.Unlock()
		// One write(2) per line on an unbuffered os.Stdout: the line is out once this returns.
		fmt.Fprintf(os.Stdout, "COMMITTED %s %s\n", e.ID, key)
	}
	// A client that crashed retries what it may have sent: the previous round's in-flight keys.
	if s := os.Getenv(envCrashRetry); s != "" {
		for _, key := range strings.Split(s, ",") {
			post(key)
		}
	}
	stop := time.Now().Add(time.Minute) // in case the parent is gone
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				post(crashKey(round, w, i))
			}
		}()
	}
	wg.Wait()
	fail("not killed within a minute")
}

// TestCrashRecovery runs TestCrashChild in a child process against one database and kills it with
// SIGKILL 50–400 ms after its first commit, ten times. After each kill it checks, on a fresh
// connection: Verify passes; every entry the child reported exists, under its key, exactly once;
// no idempotency key has two entries; the only entries the child did not report are the ones that
// were in flight (one per goroutine at most); and each account's posted balance equals the sum of
// the entries found. Each round first retries the previous round's in-flight keys, as a
// restarted client would, which must not post anything twice. The child also reports the keys it
// saw refused for insufficient funds, which must have no entry.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(envCrashDSN) != "" {
		t.Skip("in the child")
	}
	ctx := context.Background()
	dsn := dbtest.DSN(t)
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(db, ledger.Config{})
	if err := l.EnsureAsset(ctx, ledger.Asset{Code: "USDT", Precision: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: crashWorld, Asset: "USDT", Normal: ledger.Debit}); err != nil {
		t.Fatal(err)
	}
	for _, a := range crashAccts {
		if _, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: a, Asset: "USDT", Normal: ledger.Credit, Flags: ledger.NoOverdraft}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	reported := map[string]string{} // key -> entry id
	refused := map[string]bool{}    // keys refused for insufficient funds
	var retry []string
	total := 0
	for round := range crashRounds {
		lines, stderr, killedAfter := runCrashChild(t, dsn, round, retry)
		n := 0
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if f[0] == "CHILDERR" {
				t.Fatalf("round %d: child: %s\nstderr: %s", round, line, stderr)
			}
			if f[0] == "REFUSED" && len(f) == 2 {
				refused[f[1]] = true
				continue
			}
			if f[0] != "COMMITTED" || len(f) != 3 {
				continue // the testing package's own output
			}
			id, key := f[1], f[2]
			if old, ok := reported[key]; ok && old != id {
				t.Fatalf("round %d: key %s reported as entry %s and as %s", round, key, old, id)
			}
			reported[key] = id
			n++
		}
		total += n
		var unreported int
		retry, unreported = checkAfterCrash(t, dsn, round, reported, refused)
		t.Logf("round %d: killed %v after the first commit; %d commits reported (%d in all); %d committed entries never reported so far",
			round, killedAfter.Round(time.Millisecond), n, total, unreported)
	}
	if len(reported) < crashRounds {
		t.Fatalf("only %d entries reported in %d rounds", len(reported), crashRounds)
	}
}

// runCrashChild runs the child until its first reported commit, lets it run 50–400 ms more, kills
// it with SIGKILL and returns its stdout lines.
func runCrashChild(t *testing.T, dsn string, round int, retry []string) (lines []string, stderr string, after time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDSN+"="+dsn, envCrashRound+"="+strconv.Itoa(round),
		envCrashRetry+"="+strings.Join(retry, ","))
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, eof := make(chan struct{}), make(chan struct{})
	done := make(chan []string, 1)
	go func() {
		defer close(eof)
		var got []string
		sc := bufio.NewScanner(out)
		started := false
		for sc.Scan() {
			got = append(got, sc.Text())
			if !started && strings.HasPrefix(sc.Text(), "COMMITTED") {
				started = true
				close(first)
			}
		}
		done <- got
	}()
	after = time.Duration(50+rand.IntN(351)) * time.Millisecond
	select {
	case <-first:
		time.Sleep(after)
	case <-eof: // it ended by itself; the checks below say why
	case <-time.After(2 * time.Minute):
		t.Errorf("round %d: no commit from the child in 2 minutes", round)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("round %d: kill: %v", round, err) // it exited by itself; the checks below say why
	}
	lines = <-done
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: child ended with %v, not by SIGKILL\nstdout: %s\nstderr: %s", round, err,
			strings.Join(lines, "\n"), errBuf.String())
	}
	return lines, errBuf.String(), after
}

// checkAfterCrash checks the database after a kill, as a restarted process would see it, and
// returns the keys that may have been in flight (to retry).
func checkAfterCrash(t *testing.T, dsn string, round int, reported map[string]string, refused map[string]bool) (retry []string, unreported int) {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := ledger.New(db, ledger.Config{})
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("round %d: verify after kill: %+v", round, rep.Problems)
	}

	// Every entry, by key.
	rows, err := db.QueryContext(ctx, "SELECT id, idempotency_key FROM ledger_entries")
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]string{}
	var ids []string
	for rows.Next() {
		var id string
		var key *string
		if err := rows.Scan(&id, &key); err != nil {
			t.Fatal(err)
		}
		if key == nil {
			t.Fatalf("round %d: entry %s has no idempotency key; the child posts none without", round, id)
		}
		byKey[*key] = append(byKey[*key], id)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for key, got := range byKey {
		if len(got) != 1 {
			t.Fatalf("round %d: key %s has %d entries: %v", round, key, len(got), got)
		}
	}
	for key, id := range reported {
		e, err := l.Entry(ctx, id)
		if err != nil {
			t.Fatalf("round %d: reported entry %s (%s): %v", round, id, key, err)
		}
		if e.IdempotencyKey != key || len(byKey[key]) != 1 || byKey[key][0] != id {
			t.Fatalf("round %d: reported entry %s under %s; stored under %q, key has %v", round, id, key,
				e.IdempotencyKey, byKey[key])
		}
	}

	// The next index each (round, goroutine) would have posted: the only place an unreported
	// entry may be.
	next := map[[2]int]int{}
	for key := range reported {
		r, w, i := parseCrashKey(t, key)
		next[[2]int{r, w}] = max(next[[2]int{r, w}], i+1)
	}
	for key := range refused {
		r, w, i := parseCrashKey(t, key)
		next[[2]int{r, w}] = max(next[[2]int{r, w}], i+1)
		if len(byKey[key]) != 0 {
			t.Fatalf("round %d: key %s was refused, yet has entries %v", round, key, byKey[key])
		}
	}
	for key := range byKey {
		if _, ok := reported[key]; ok {
			continue
		}
		unreported++
		r, w, i := parseCrashKey(t, key)
		if i != next[[2]int{r, w}] {
			t.Fatalf("round %d: entry under %s was committed but never reported, and was not in flight (next %d)",
				round, key, next[[2]int{r, w}])
		}
	}

	// Posted balances equal the sum of the entries found.
	sums := map[string]decimal.Decimal{}
	for _, id := range ids {
		e, err := l.Entry(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range e.Postings {
			v := p.Amount
			if (p.Direction == ledger.Debit) != (p.Account == crashWorld) {
				v = v.Neg()
			}
			sums[p.Account] = sums[p.Account].Add(v)
		}
	}
	for _, a := range append([]string{crashWorld}, crashAccts...) {
		b, err := l.Balance(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Posted.Equal(sums[a]) {
			t.Fatalf("round %d: %s posted %s, entries sum to %s", round, a, b.Posted, sums[a])
		}
	}

	for w := range crashWorkers {
		retry = append(retry, crashKey(round, w, next[[2]int{round, w}]))
	}
	return retry, unreported
}

func parseCrashKey(t *testing.T, key string) (round, worker, i int) {
	t.Helper()
	f := strings.Split(key, "-")
	if len(f) != 4 || f[0] != "crash" {
		t.Fatalf("unexpected key %q", key)
	}
	var err [3]error
	round, err[0] = strconv.Atoi(f[1])
	worker, err[1] = strconv.Atoi(f[2])
	i, err[2] = strconv.Atoi(f[3])
	if e := errors.Join(err[:]...); e != nil {
		t.Fatalf("key %q: %v", key, e)
	}
	return round, worker, i
}
