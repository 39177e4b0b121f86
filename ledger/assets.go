package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// DefaultAssets returns the assets settle's networks carry, with their precisions: BTC 8, LTC 8,
// ETH 18, BNB 18, POL 18, TRX 6, SOL 9, USDT 6, USDC 6. Token assets are network-agnostic in the
// ledger; on-chain units are converted at the chain boundary.
func DefaultAssets() []Asset {
	return []Asset{
		{Code: "BTC", Precision: 8},
		{Code: "LTC", Precision: 8},
		{Code: "ETH", Precision: 18},
		{Code: "BNB", Precision: 18},
		{Code: "POL", Precision: 18},
		{Code: "TRX", Precision: 6},
		{Code: "SOL", Precision: 9},
		{Code: "USDT", Precision: 6},
		{Code: "USDC", Precision: 6},
	}
}

// validateAsset checks an asset's code (1–16 characters of A–Z, 0–9, '_', '-', '.', starting with a
// letter or digit) and precision (0–30). Errors: ErrInvalidAsset.
func validateAsset(a Asset) error {
	if len(a.Code) == 0 || len(a.Code) > 16 {
		return fmt.Errorf("%w: code %q must be 1-16 characters", ErrInvalidAsset, a.Code)
	}
	for i := 0; i < len(a.Code); i++ {
		c := a.Code[i]
		ok := (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-' || c == '.'))
		if !ok {
			return fmt.Errorf("%w: code %q must be upper-case letters, digits, '_', '-' or '.'", ErrInvalidAsset, a.Code)
		}
	}
	if a.Precision < 0 || a.Precision > 30 {
		return fmt.Errorf("%w: %s precision %d is outside 0-30", ErrInvalidAsset, a.Code, a.Precision)
	}
	return nil
}

// EnsureAsset creates asset a if no asset has its code, and succeeds without writing if one with
// the same precision exists. Precision is fixed for good once created.
//
// Errors: ErrInvalidAsset (bad code or precision), ErrAssetConflict (the code exists with another
// precision), or a database error.
func (l *Ledger) EnsureAsset(ctx context.Context, a Asset) error {
	if err := validateAsset(a); err != nil {
		return err
	}
	if got, err := l.asset(ctx, l.db, a.Code); err == nil {
		return assetConflict(got, a)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return l.runTx(ctx, l.db, func(ctx context.Context, tx bun.IDB) error {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO ledger_assets (code, precision, created_at) VALUES (?, ?, ?) ON CONFLICT (code) DO NOTHING",
			a.Code, a.Precision, dbTime{l.now()}); err != nil {
			return err
		}
		got, err := l.asset(ctx, tx, a.Code)
		if err != nil {
			return err
		}
		return assetConflict(got, a)
	})
}

func assetConflict(got, want Asset) error {
	if got.Precision != want.Precision {
		return fmt.Errorf("%w: %s has precision %d, not %d", ErrAssetConflict, got.Code, got.Precision, want.Precision)
	}
	return nil
}

// Asset returns the asset with code. Errors: ErrNotFound, or a database error.
func (l *Ledger) Asset(ctx context.Context, code string) (Asset, error) {
	return l.asset(ctx, l.db, code)
}

func (l *Ledger) asset(ctx context.Context, db bun.IDB, code string) (Asset, error) {
	var a Asset
	err := db.QueryRowContext(ctx, "SELECT code, precision FROM ledger_assets WHERE code = ?", code).
		Scan(&a.Code, &a.Precision)
	if errors.Is(err, sql.ErrNoRows) {
		return Asset{}, fmt.Errorf("%w: asset %q", ErrNotFound, code)
	}
	if err != nil {
		return Asset{}, err
	}
	return a, nil
}

// precision returns asset's precision, read once per Ledger and then kept: an asset's precision
// never changes (EnsureAsset refuses a different one, ErrAssetConflict).
func (l *Ledger) precision(ctx context.Context, db bun.IDB, asset string) (int32, error) {
	if p, ok := l.precisions.Load(asset); ok {
		return p.(int32), nil
	}
	var p int32
	if err := db.QueryRowContext(ctx, "SELECT precision FROM ledger_assets WHERE code = ?", asset).Scan(&p); err != nil {
		return 0, fmt.Errorf("ledger: precision of asset %s: %w", asset, err)
	}
	l.precisions.Store(asset, p)
	return p, nil
}
