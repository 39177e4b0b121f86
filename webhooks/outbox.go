package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/ids"
)

// EnqueueTx stores an event and its pending delivery through tx, the caller's transaction, so
// that both commit or roll back with the change the event reports. tx may also be a *bun.DB or
// a bun.Conn; the two rows are written atomically in any case (a savepoint inside a transaction).
//
// The event is delivered by a dispatcher (Run or DeliverDue) once tx commits, even if the
// merchant has no endpoint yet: it then waits for SetEndpoint. With in.Key set, a second enqueue
// of the same (MerchantID, Key) stores nothing and returns the first event.
//
// Errors: ErrInvalidEvent (no merchant, malformed type, Data that does not marshal or exceeds
// MaxDataBytes, an over-long key), or the database's error.
func (s *Service) EnqueueTx(ctx context.Context, tx bun.IDB, in EventInput) (Event, error) {
	data, err := checkEvent(in)
	if err != nil {
		return Event{}, err
	}
	now := s.now()
	ev := eventRow{ID: ids.New("evt"), MerchantID: in.MerchantID, Type: in.Type, Data: string(data), DedupKey: in.Key, CreatedAt: now}
	err = tx.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(&ev).On("CONFLICT (merchant_id, dedup_key) DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 { // the key was used before: that event stands
			ev = eventRow{}
			return tx.NewSelect().Model(&ev).Where("merchant_id = ?", in.MerchantID).Where("dedup_key = ?", in.Key).Scan(ctx)
		}
		_, err = tx.NewInsert().Model(&deliveryRow{
			ID: ids.New("dlv"), EventID: ev.ID, MerchantID: ev.MerchantID, EventType: ev.Type,
			Status: StatusPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}).Exec(ctx)
		return err
	})
	if err != nil {
		return Event{}, fmt.Errorf("webhooks: enqueue %s for %s: %w", in.Type, in.MerchantID, err)
	}
	return ev.event(), nil
}

// checkEvent validates in and returns its marshalled data.
func checkEvent(in EventInput) ([]byte, error) {
	if in.MerchantID == "" || len(in.MerchantID) > maxIDLength {
		return nil, fmt.Errorf("%w: merchant id %q", ErrInvalidEvent, in.MerchantID)
	}
	if !validType(in.Type) {
		return nil, fmt.Errorf("%w: type %q (want [a-z0-9_.], 1-%d bytes)", ErrInvalidEvent, in.Type, maxTypeLength)
	}
	if len(in.Key) > MaxKeyLength {
		return nil, fmt.Errorf("%w: key longer than %d bytes", ErrInvalidEvent, MaxKeyLength)
	}
	if in.Data == nil {
		return []byte("{}"), nil
	}
	data, err := json.Marshal(in.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: marshal data: %v", ErrInvalidEvent, err)
	}
	if len(data) > MaxDataBytes {
		return nil, fmt.Errorf("%w: data is %d bytes, more than %d", ErrInvalidEvent, len(data), MaxDataBytes)
	}
	if bytes.Equal(data, []byte("null")) {
		data = []byte("{}")
	}
	return data, nil
}
