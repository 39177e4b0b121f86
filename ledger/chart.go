package ledger

import "fmt"

// The chart of accounts (DESIGN.md): the account codes settle's flows post to. Codes are readable
// paths; every function here returns the AccountSpec that EnsureAccount creates on first use.

// MerchantAPI is merchant's API account for asset ("merchant:<id>:api:<asset>"), credit-normal
// and NoOverdraft: collections and deposits credit it, payouts debit it.
func MerchantAPI(merchantID, asset string) AccountSpec {
	return AccountSpec{
		Code:   fmt.Sprintf("merchant:%s:api:%s", merchantID, asset),
		Asset:  asset,
		Normal: Credit,
		Flags:  NoOverdraft,
	}
}

// MerchantBusiness is merchant's business wallet for asset ("merchant:<id>:business:<asset>"),
// credit-normal and NoOverdraft.
func MerchantBusiness(merchantID, asset string) AccountSpec {
	return AccountSpec{
		Code:   fmt.Sprintf("merchant:%s:business:%s", merchantID, asset),
		Asset:  asset,
		Normal: Credit,
		Flags:  NoOverdraft,
	}
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
