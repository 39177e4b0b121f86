package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Post after Close.
var ErrClosed = errors.New("ledger: closed")

// Group commit defaults.
const (
	DefaultGroupCommitWindow     = time.Millisecond
	DefaultGroupCommitMaxEntries = 256
)

// GroupCommitConfig configures group commit (see Config.GroupCommit).
type GroupCommitConfig struct {
	// Enabled turns group commit on for Post.
	Enabled bool
	// Window is how long the committer waits, after the first entry of a batch arrives, for more
	// entries before it commits them. Default (zero or negative): DefaultGroupCommitWindow.
	Window time.Duration
	// MaxEntries caps a batch: the committer commits at once when it has this many. Default (zero
	// or negative): DefaultGroupCommitMaxEntries.
	MaxEntries int
}

// gcReq is one Post waiting for the committer.
type gcReq struct {
	in   EntryInput
	hash string           // request hash, computed by the caller
	done chan BatchResult // buffered: the committer never blocks on a caller that gave up
}

// committer gathers Post's entries and commits them in batches.
type committer struct {
	mu     sync.RWMutex // held for reading while sending on ch, for writing to close it
	closed bool
	ch     chan *gcReq
	done   chan struct{} // closed when run returns
	window time.Duration
	max    int
	// inPost counts the callers inside post: once every one of them is in the batch being
	// gathered, waiting longer cannot add to it.
	inPost atomic.Int64
}

func newCommitter(l *Ledger, cfg GroupCommitConfig) *committer {
	c := &committer{window: cfg.Window, max: cfg.MaxEntries, done: make(chan struct{})}
	if c.window <= 0 {
		c.window = DefaultGroupCommitWindow
	}
	if c.max <= 0 {
		c.max = DefaultGroupCommitMaxEntries
	}
	c.ch = make(chan *gcReq, c.max)
	go c.run(l)
	return c
}

// post hands in to the committer and waits for its result or ctx's end.
func (c *committer) post(ctx context.Context, in EntryInput) (Entry, error) {
	if err := validateEntry(in); err != nil {
		return Entry{}, err
	}
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	c.inPost.Add(1)
	defer c.inPost.Add(-1)
	// The caller's goroutine does what it can (validation, the request hash, and below, building
	// its Entry), so that the committer, which every entry waits for, does only the batch.
	r := &gcReq{in: in, hash: entryHash(in), done: make(chan BatchResult, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return Entry{}, ErrClosed
	}
	select {
	case c.ch <- r:
	case <-ctx.Done():
		c.mu.RUnlock()
		return Entry{}, ctx.Err()
	}
	c.mu.RUnlock()
	select {
	case res := <-r.done:
		res.resolve()
		return res.Entry, res.Err
	case <-ctx.Done():
		return Entry{}, ctx.Err()
	}
}

// run gathers entries for up to window after the first one arrives, or until it has max, or until
// every caller inside Post is in the batch (so that a few busy callers do not wait out the window
// for nobody), commits them, and starts again; it commits what is queued and returns once ch is
// closed.
func (c *committer) run(l *Ledger) {
	defer close(c.done)
	batch := make([]*gcReq, 0, c.max)
	for {
		r, ok := <-c.ch
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		timer := time.NewTimer(c.window)
	gather:
		for len(batch) < c.max {
			if int64(len(batch)) >= c.inPost.Load() {
				select {
				case r, ok := <-c.ch:
					if !ok {
						break gather
					}
					batch = append(batch, r)
					continue
				default:
					break gather // every caller in Post is in the batch: waiting cannot add to it
				}
			}
			select {
			case r, ok := <-c.ch:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		c.commit(l, batch)
		clear(batch)
	}
}

// commit posts the batch with PostBatch(Independent) in a context of its own (a caller that gave up
// does not abort the others) and answers each caller; a transaction-level error answers every one.
func (c *committer) commit(l *Ledger, batch []*gcReq) {
	ins := make([]EntryInput, len(batch))
	hashes := make([]string, len(batch))
	for i, r := range batch {
		ins[i], hashes[i] = r.in, r.hash
	}
	res, err := postBatchSafely(l, ins, hashes)
	for i, r := range batch {
		if err != nil {
			r.done <- BatchResult{Err: err}
		} else {
			r.done <- res[i]
		}
	}
}

// postBatchSafely runs PostBatch and turns a panic (a bug) into an error for this batch's callers,
// so that the committer goroutine survives and no caller waits forever. bun rolls the transaction
// back before the panic reaches here.
func postBatchSafely(l *Ledger, ins []EntryInput, hashes []string) (res []BatchResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			l.log.Error("ledger: group commit batch panicked", "panic", fmt.Sprint(p))
			res, err = nil, fmt.Errorf("ledger: group commit batch failed: %v", p)
		}
	}()
	return l.postBatchChecked(context.Background(), l.db, ins, hashes, make([]error, len(ins)), Independent)
}

// Close stops the group committer, after committing the entries already handed to it and answering
// their callers. After Close, Post returns ErrClosed; the other methods keep working. Close does not
// close the database. It is safe to call more than once and always returns nil.
func (l *Ledger) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	if c := l.gc; c != nil {
		c.mu.Lock()
		c.closed = true
		close(c.ch)
		c.mu.Unlock()
		<-c.done
	}
	return nil
}
