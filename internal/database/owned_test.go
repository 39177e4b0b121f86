package database_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/internal/dbtest"
)

type ownedRow struct {
	bun.BaseModel `bun:"table:owned_rows"`
	ID            string    `bun:"id,pk"`
	MerchantID    string    `bun:"merchant_id"`
	Status        string    `bun:"status"`
	Network       string    `bun:"network"`
	CreatedAt     time.Time `bun:"created_at"`
}

func (r *ownedRow) public() string { return r.MerchantID + "/" + r.ID }

var errMissing = errors.New("missing")

// TestOwnedRows: a merchant reads only its own rows, newest first, a page at a time.
func TestOwnedRows(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	if _, err := db.NewCreateTable().Model((*ownedRow)(nil)).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		status := "open"
		if i%2 == 1 {
			status = "done"
		}
		network := "A"
		if i >= 3 {
			network = "B"
		}
		row := &ownedRow{ID: fmt.Sprintf("r%d", i), MerchantID: "m1", Status: status, Network: network, CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
		if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.NewInsert().Model(&ownedRow{ID: "x", MerchantID: "m2", Status: "open", CreatedAt: t0}).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	if got, err := database.GetOwned(ctx, db, "m1", "r3", errMissing, (*ownedRow).public); err != nil || got != "m1/r3" {
		t.Fatalf("own row: %q, %v", got, err)
	}
	if _, err := database.GetOwned(ctx, db, "m1", "x", errMissing, (*ownedRow).public); !errors.Is(err, errMissing) {
		t.Fatalf("another merchant's row: %v", err)
	}
	got, total, err := database.ListOwned(ctx, db, "m1", database.OwnedFilter{Page: 1, Limit: 2}, (*ownedRow).public)
	if err != nil || total != 5 || fmt.Sprint(got) != "[m1/r4 m1/r3]" {
		t.Fatalf("page 1: %v, %d, %v", got, total, err)
	}
	got, total, err = database.ListOwned(ctx, db, "m1", database.OwnedFilter{Status: "open", Page: 2, Limit: 2}, (*ownedRow).public)
	if err != nil || total != 3 || fmt.Sprint(got) != "[m1/r0]" {
		t.Fatalf("open, page 2: %v, %d, %v", got, total, err)
	}
	got, total, err = database.ListOwned(ctx, db, "m1", database.OwnedFilter{Networks: []string{"B", "C"}}, (*ownedRow).public)
	if err != nil || total != 2 || fmt.Sprint(got) != "[m1/r4 m1/r3]" {
		t.Fatalf("networks B and C: %v, %d, %v", got, total, err)
	}
	got, total, err = database.ListOwned(ctx, db, "m1", database.OwnedFilter{Networks: []string{}}, (*ownedRow).public)
	if err != nil || total != 0 || len(got) != 0 {
		t.Fatalf("no networks: %v, %d, %v", got, total, err)
	}
}
