package ledger

import "fmt"

// The chart of accounts (DESIGN.md): the account codes settle's flows post to. Codes are readable
// paths; every function here returns the AccountSpec that EnsureAccount creates on first use.

// A merchant's accounts come in two modes. Coins on a test network have no value, so what test
// networks credit is kept in accounts of its own, under the prefix "test:": a testnet deposit can
// never fund a mainnet payout. The flows pick the mode from the network
// (chains.NetworkID.IsTestnet), the API from the key's mode.

// MerchantAPI is merchant's live API account for asset ("merchant:<id>:api:<asset>"),
// credit-normal and NoOverdraft: deposits on mainnets credit it, payouts on mainnets debit it.
func MerchantAPI(merchantID, asset string) AccountSpec {
	return merchantAccount(MerchantPrefix(merchantID, false)+"api:", asset)
}

// MerchantTestAPI is merchant's API account for asset on test networks
// ("test:merchant:<id>:api:<asset>"), credit-normal and NoOverdraft.
func MerchantTestAPI(merchantID, asset string) AccountSpec {
	return merchantAccount(MerchantPrefix(merchantID, true)+"api:", asset)
}

// MerchantAPIFor is MerchantTestAPI when testnet is true (a network whose coins have no value),
// MerchantAPI otherwise.
func MerchantAPIFor(merchantID, asset string, testnet bool) AccountSpec {
	return merchantAccount(MerchantPrefix(merchantID, testnet)+"api:", asset)
}

// MerchantBusiness is merchant's live business wallet for asset ("merchant:<id>:business:<asset>"),
// credit-normal and NoOverdraft.
func MerchantBusiness(merchantID, asset string) AccountSpec {
	return merchantAccount(MerchantPrefix(merchantID, false)+"business:", asset)
}

// MerchantBusinessFor is merchant's business wallet for asset on test networks
// ("test:merchant:<id>:business:<asset>") when testnet is true, MerchantBusiness otherwise.
func MerchantBusinessFor(merchantID, asset string, testnet bool) AccountSpec {
	return merchantAccount(MerchantPrefix(merchantID, testnet)+"business:", asset)
}

// MerchantPrefix is the code prefix of every account of merchant in one mode: "merchant:<id>:"
// (live) or "test:merchant:<id>:" (test). Neither is a prefix of the other's codes, so
// PostingFilter.AccountPrefix selects one mode.
func MerchantPrefix(merchantID string, test bool) string {
	if test {
		return "test:merchant:" + merchantID + ":"
	}
	return "merchant:" + merchantID + ":"
}

func merchantAccount(prefix, asset string) AccountSpec {
	return AccountSpec{Code: prefix + asset, Asset: asset, Normal: Credit, Flags: NoOverdraft}
}

// Custody is what the platform holds on network in asset ("custody:<network>:<asset>"),
// debit-normal: a confirmed deposit debits it, a confirmed payout credits it.
func Custody(network, asset string) AccountSpec {
	return AccountSpec{
		Code:   fmt.Sprintf("custody:%s:%s", network, asset),
		Asset:  asset,
		Normal: Debit,
	}
}

// FeeRevenue is the fees charged to merchants in asset ("revenue:fees:<asset>"), credit-normal.
func FeeRevenue(asset string) AccountSpec {
	return AccountSpec{Code: "revenue:fees:" + asset, Asset: asset, Normal: Credit}
}

// NetworkFees is gas and miner fees paid on network in its native coin
// ("expense:network-fees:<network>"), debit-normal.
func NetworkFees(network, nativeAsset string) AccountSpec {
	return AccountSpec{Code: "expense:network-fees:" + network, Asset: nativeAsset, Normal: Debit}
}

// PayoutClearing is payouts held and broadcast, not yet confirmed ("clearing:payouts:<asset>"),
// credit-normal.
func PayoutClearing(asset string) AccountSpec {
	return AccountSpec{Code: "clearing:payouts:" + asset, Asset: asset, Normal: Credit}
}
