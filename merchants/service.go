package merchants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/ids"
)

// MaxNameLength is the longest merchant name, in characters (runes).
const MaxNameLength = 200

// Config configures a Service. The zero value is usable.
type Config struct {
	// Logger receives notes such as the use of a revoked key. Default: discard.
	Logger *slog.Logger
	// Now returns the current time; tests inject a clock. Default time.Now.
	Now func() time.Time
}

// Service stores merchants and their API keys. It is safe for concurrent use.
type Service struct {
	db  *bun.DB
	log *slog.Logger
	now func() time.Time
}

// New returns a Service on db, whose tables Migrate has created.
func New(db *bun.DB, cfg Config) *Service {
	s := &Service{db: db, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// clock is the configured time in UTC, truncated to the microsecond both stores keep.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Merchant is a tenant: the owner of balances, keys, endpoints and everything else.
type Merchant struct {
	ID        string // "mch_" + 32 hex digits
	Name      string
	CreatedAt time.Time
}

// Create stores a new merchant named name, with surrounding spaces trimmed.
// Errors: ErrInvalidName for a name that is empty, longer than MaxNameLength characters, not
// UTF-8 or holding control characters.
func (s *Service) Create(ctx context.Context, name string) (Merchant, error) {
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return Merchant{}, err
	}
	row := merchantRow{ID: ids.New("mch"), Name: name, CreatedAt: s.clock()}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return Merchant{}, fmt.Errorf("merchants: create: %w", err)
	}
	return row.merchant(), nil
}

// Get returns a merchant. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Merchant, error) {
	row, err := getMerchant(ctx, s.db, id, false)
	if err != nil {
		return Merchant{}, err
	}
	return row.merchant(), nil
}

// getMerchant reads a merchant through db; forUpdate locks its row on PostgreSQL until db's
// transaction ends (SQLite transactions hold the write lock already).
func getMerchant(ctx context.Context, db bun.IDB, id string, forUpdate bool) (merchantRow, error) {
	var row merchantRow
	q := db.NewSelect().Model(&row).Where("id = ?", id)
	if forUpdate && database.IsPostgres(db) {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return merchantRow{}, fmt.Errorf("%w: merchant %q", ErrNotFound, id)
	}
	if err != nil {
		return merchantRow{}, fmt.Errorf("merchants: get %s: %w", id, err)
	}
	return row, nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidName)
	case utf8.RuneCountInString(name) > MaxNameLength:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: control characters", ErrInvalidName)
	}
	return nil
}
