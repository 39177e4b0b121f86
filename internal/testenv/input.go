package testenv

import (
	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
)

func collectionsInput(e *Env, tokens int64) collections.CreateInput {
	return collections.CreateInput{
		MerchantID: e.Merchant.ID,
		Network:    chains.EVMLocal,
		Token:      "USDT",
		Amount:     decimal.NewFromInt(tokens),
	}
}
