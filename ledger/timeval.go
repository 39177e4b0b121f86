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

// maxDBTime is the latest time the ledger stores: SQLite's text keeps time order only with
// four-digit years. Hold refuses a later deadline; a later query bound is clamped to it (dbTime),
// which selects the same rows.
var maxDBTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)

// Value implements driver.Valuer. A time after maxDBTime is written as maxDBTime, one before year
// 1 as the first microsecond of year 1 (the zero time, year 1's first instant, is NULL): as query
// bounds they select the same rows, since nothing stored lies outside.
func (d dbTime) Value() (driver.Value, error) {
	if d.t.IsZero() {
		return nil, nil
	}
	t := d.t.UTC()
	switch {
	case t.After(maxDBTime):
		t = maxDBTime
	case t.Before(time.Time{}):
		t = time.Time{}.Add(time.Microsecond)
	}
	return t.Format(dbTimeLayout) + "+00:00", nil
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
