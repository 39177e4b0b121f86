package collections_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/internal/fielderr"
	"github.com/settle-go/settle/internal/testenv"
	"github.com/settle-go/settle/ledger"
)

// TestCreateRefusesUnstorableText: a reference or metadata that no store or webhook event can
// carry is a validation error naming its field, and creates nothing. Before, metadata that just fit
// the collection.created event was accepted and then made its collection.successful event too
// large, so the deposit was never credited; and a NUL in a reference was a database error (found by
// review). Metadata at the limit is credited normally.
func TestCreateRefusesUnstorableText(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	in := func(ref string, meta map[string]any) collections.CreateInput {
		return collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT",
			Amount: usdt("10"), Reference: ref, Metadata: meta}
	}
	for _, tc := range []struct {
		name  string
		in    collections.CreateInput
		field string
	}{
		{"metadata over the limit", in("", map[string]any{"note": strings.Repeat("a", fielderr.MaxMetadataBytes)}), "metadata"},
		{"NUL in metadata", in("", map[string]any{"note": "a\x00b"}), "metadata"},
		{"NUL in reference", in("a\x00b", nil), "reference"},
		{"reference over the limit", in(strings.Repeat("r", fielderr.MaxReferenceBytes+1), nil), "reference"},
	} {
		_, err := env.Collections.Create(ctx, tc.in)
		var ve *collections.ValidationError
		if assert.ErrorAs(t, err, &ve, tc.name) {
			assert.Equal(t, tc.field, ve.Field, tc.name)
			assert.ErrorIs(t, err, collections.ErrValidation, tc.name)
		}
	}
	_, total, err := env.Collections.List(ctx, env.Merchant.ID, collections.ListFilter{})
	require.NoError(t, err)
	require.Zero(t, total, "a refused request creates nothing")

	// Metadata just under the limit: created, paid and credited.
	note := strings.Repeat("a", fielderr.MaxMetadataBytes-len(`{"note":""}`))
	col, err := env.Collections.Create(ctx, in(strings.Repeat("r", fielderr.MaxReferenceBytes), map[string]any{"note": note}))
	require.NoError(t, err)
	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(10))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations)
	require.NoError(t, env.Collections.Poll(ctx))
	got, err := env.Collections.Get(ctx, env.Merchant.ID, col.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusSuccessful, got.Status)
}

// TestOneFailingCreditDoesNotBlockOthers: a deposit whose credit fails on every pass (here its
// collection's stored metadata was made too large for the collection.successful event, which
// Create no longer allows) is retried alone; another merchant's deposit later on the same network
// is credited. Before, the watcher stopped at the first deposit it could not credit (found by
// review).
func TestOneFailingCreditDoesNotBlockOthers(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	col, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: env.Merchant.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("10")})
	require.NoError(t, err)
	_, err = env.DB.ExecContext(ctx, "UPDATE collections SET metadata = ? WHERE id = ?",
		`{"note":"`+strings.Repeat("a", 300<<10)+`"}`, col.ID)
	require.NoError(t, err)
	other, err := env.Merchants.Create(ctx, "Other merchant")
	require.NoError(t, err)
	col2, err := env.Collections.Create(ctx, collections.CreateInput{MerchantID: other.ID, Network: chains.EVMLocal, Token: "USDT", Amount: usdt("5")})
	require.NoError(t, err)

	_, err = env.Chain.CustomerPay(ctx, "USDT", col.Address, testenv.Units(10))
	require.NoError(t, err)
	env.Chain.Commit()
	_, err = env.Chain.CustomerPay(ctx, "USDT", col2.Address, testenv.Units(5))
	require.NoError(t, err)
	env.Chain.Mine(testenv.Confirmations + 1)
	err = env.Collections.Poll(ctx)
	require.Error(t, err, "the failing credit is reported")

	b, err := env.Ledger.Balance(ctx, ledger.MerchantTestAPI(other.ID, "USDT").Code)
	require.NoError(t, err)
	require.Equal(t, "5", b.Posted.String(), "the other merchant's deposit is credited")
	got2, err := env.Collections.Get(ctx, other.ID, col2.ID)
	require.NoError(t, err)
	require.Equal(t, collections.StatusSuccessful, got2.Status)
	// The failing deposit is not credited: its merchant's account does not exist, or holds nothing.
	if b, err := env.Ledger.Balance(ctx, ledger.MerchantTestAPI(env.Merchant.ID, "USDT").Code); !errors.Is(err, ledger.ErrNotFound) {
		require.NoError(t, err)
		require.True(t, b.Posted.IsZero(), "the failing deposit was credited: %s", b.Posted)
	}
}
