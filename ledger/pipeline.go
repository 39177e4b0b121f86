package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"sync/atomic"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
)

// The ledger's own transactions on PostgreSQL take two round trips instead of four: BEGIN rides on
// the transaction's first statement and COMMIT on its last.
//
//   - "SELECT … FOR UPDATE; BEGIN" runs the SELECT in the implicit transaction of a multi-statement
//     query, and the BEGIN then turns that implicit transaction into an ordinary transaction block
//     (PostgreSQL allows this "even if we've already done some commands": xact.c,
//     BeginTransactionBlock), so the row locks the SELECT took are held until the block ends. The
//     SELECT's rows are the query's first result, which is what database/sql reads.
//   - "SELECT * FROM ledger_write_entries_v1(…); COMMIT" ends the block, when the caller says the
//     write is its last (withCommit): if the write fails, PostgreSQL skips the COMMIT and the
//     runner rolls back; if the COMMIT fails, its error comes back when the rows are closed. A
//     transaction whose last statement is something else gets its COMMIT from the runner.
//
// Multi-statement queries need the simple query protocol with the arguments formatted into the
// text, which is how database.Open configures pgx (bun formats every argument itself). The ledger
// checks once, on the first write, that the driver accepts a multi-statement query and otherwise
// runs ordinary transactions (BEGIN, statements, COMMIT).
//
// Why it matters: a transfer holds its accounts' row locks from its SELECT … FOR UPDATE until its
// COMMIT is durable; every round trip inside that window is time in which no other transfer can
// touch those accounts. Here the window is one round trip and the commit's flush. And on a small
// machine every round trip also costs both sides CPU (measured 0.13 ms each here).

// pipeConn is a connection running one pipelined transaction (see above). It is a bun.IDB, so the
// ledger's statements run on it unchanged.
type pipeConn struct {
	bun.Conn
	begun     bool // the first statement (with its BEGIN) was sent
	committed bool // a statement with COMMIT succeeded
}

func (c *pipeConn) first(query string) string {
	if c.begun {
		return query
	}
	c.begun = true
	return query + ";\nBEGIN"
}

func (c *pipeConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.Conn.QueryContext(ctx, c.first(query), args...)
}

func (c *pipeConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.Conn.ExecContext(ctx, c.first(query), args...)
}

func (c *pipeConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return c.Conn.QueryRowContext(ctx, c.first(query), args...)
}

// withCommit returns query with COMMIT after it, if tx is a pipeConn whose transaction is open, and
// a function to call once the query's rows were read and closed without error.
func withCommit(tx bun.IDB, query string) (string, func()) {
	c, ok := tx.(*pipeConn)
	if !ok || !c.begun || c.committed {
		return query, func() {}
	}
	return query + ";\nCOMMIT", func() { c.committed = true }
}

// pipeline records whether the ledger's database accepts multi-statement queries.
type pipeline struct {
	state atomic.Int32 // pipeUnknown, pipeYes or pipeNo: read without a lock on every write
	mu    sync.Mutex   // held while probing
}

const (
	pipeUnknown int32 = iota
	pipeYes
	pipeNo
)

// pipelined reports whether the ledger's own transactions can be pipelined, checking the driver on
// first use (a probe that fails because ctx ended is not remembered).
func (l *Ledger) pipelined(ctx context.Context) bool {
	if !l.isPG {
		return false
	}
	p := &l.pipe
	if st := p.state.Load(); st != pipeUnknown {
		return st == pipeYes
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.state.Load(); st != pipeUnknown {
		return st == pipeYes
	}
	var one int
	err := l.db.QueryRowContext(ctx, "SELECT 1;\nSELECT 2").Scan(&one)
	if ctx.Err() != nil {
		return false
	}
	if err != nil || one != 1 {
		p.state.Store(pipeNo)
		l.log.Info("ledger: the database driver refuses multi-statement queries; ledger transactions use four round trips instead of two",
			"error", err)
		return false
	}
	p.state.Store(pipeYes)
	return true
}

// runPiped runs fn in one pipelined transaction on a connection of its own, with runTx's retries.
// If fn returns nil without having committed (it wrote nothing, or its last write was not the
// pipelined kind), runPiped sends COMMIT; if it fails, ROLLBACK, and a connection whose state is
// then unknown is closed rather than returned to the pool.
func (l *Ledger) runPiped(ctx context.Context, fn func(ctx context.Context, tx bun.IDB) error) error {
	return database.Retry(ctx, l.maxTry, l.log, func() error {
		conn, err := l.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		c := &pipeConn{Conn: conn}
		defer func() {
			// A panic in fn (a bug) must not return a connection holding an open transaction,
			// and its row locks, to the pool: close it, which makes PostgreSQL roll back.
			if p := recover(); p != nil {
				if c.begun && !c.committed {
					_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				}
				panic(p)
			}
		}()
		err = fn(ctx, c)
		if err == nil && c.begun && !c.committed {
			if _, err = conn.ExecContext(ctx, "COMMIT"); err == nil {
				c.committed = true
			}
		}
		if err != nil && c.begun && !c.committed {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // closes the connection
			}
		}
		return err
	})
}
