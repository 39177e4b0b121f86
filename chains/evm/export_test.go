package evm

// SkipBalanceCheck makes n's SignTransfer skip its balance checks, so that tests can sign a
// transfer the chain reverts.
func SkipBalanceCheck(n *Network) { n.skipBalanceCheck = true }
