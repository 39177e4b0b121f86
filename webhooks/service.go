package webhooks

import (
	"time"

	"github.com/uptrace/bun"
)

// Service stores endpoints and events and delivers them. It is safe for concurrent use, and
// several Services (in one process or many) may share a database.
type Service struct {
	db  *bun.DB
	cfg Config
}

// New returns a Service on db, whose tables Migrate has created. Zero fields of cfg take their
// defaults (see Config).
func New(db *bun.DB, cfg Config) *Service {
	return &Service{db: db, cfg: cfg.withDefaults()}
}

// Close closes the delivery client's idle keep-alive connections (and their goroutines), which
// would otherwise stay open until the transport's idle timeout. Call it after Run has returned;
// a delivery after Close opens a new connection. It does not close the database.
func (s *Service) Close() { s.cfg.HTTPClient.CloseIdleConnections() }

// now is the configured clock in UTC, truncated to the microsecond that both stores keep, so that
// a value returned to the caller equals the value read back later.
func (s *Service) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}
