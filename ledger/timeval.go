package ledger

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// dbTime is a timestamp as stored: TIMESTAMPTZ on PostgreSQL, fixed-width UTC text with
// microseconds on SQLite (so that text order is time order). The zero time is NULL.
type dbTime struct{ t time.Time }

const dbTimeLayout = "2006-01-02 15:04:05.000000"

// Value implements driver.Valuer.
func (d dbTime) Value() (driver.Value, error) {
	if d.t.IsZero() {
		return nil, nil
	}
	return d.t.UTC().Format(dbTimeLayout) + "+00:00", nil
}

// Scan implements sql.Scanner from a time.Time (PostgreSQL) or text (SQLite); NULL is zero.
func (d *dbTime) Scan(src any) error {
	switch x := src.(type) {
	case nil:
		d.t = time.Time{}
		return nil
	case time.Time:
		d.t = x.UTC()
		return nil
	case string:
		return d.parse(x)
	case []byte:
		return d.parse(string(x))
	default:
		return fmt.Errorf("ledger: cannot scan %T into a time", src)
	}
}

func (d *dbTime) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			d.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("ledger: cannot parse stored time %q", s)
}
