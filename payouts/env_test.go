package payouts_test

import (
	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/settle-go/settle/internal/testenv"
)

func evmtestHotTokens() evmtest.Option { return evmtest.WithHotWalletTokens(testenv.Units(1000)) }
