package evm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/settle-go/settle/chains"
)

// codedErr is a JSON-RPC error as go-ethereum's rpc client returns it.
type codedErr struct {
	code int
	msg  string
}

func (e codedErr) Error() string  { return e.msg }
func (e codedErr) ErrorCode() int { return e.code }

// TestRejected: only a revert marks a failed gas estimate as chains.ErrTransferRejected (which
// fails the payout); a node that cannot be reached or answers another error leaves it retryable.
func TestRejected(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{codedErr{3, "execution reverted: ERC20: transfer to a blocked address"}, true},
		{fmt.Errorf("wrapped: %w", codedErr{-32000, "execution reverted"}), true},
		{errors.New("execution reverted"), true},
		{codedErr{-32000, "header not found"}, false},
		{errors.New("dial tcp 127.0.0.1:8545: connect: connection refused"), false},
	} {
		got := rejected(tc.err)
		if errors.Is(got, chains.ErrTransferRejected) != tc.want {
			t.Errorf("rejected(%q) = %v; want ErrTransferRejected %v", tc.err, got, tc.want)
		}
		if !errors.Is(got, tc.err) && got != tc.err {
			t.Errorf("rejected(%q) lost the original error: %v", tc.err, got)
		}
	}
}
