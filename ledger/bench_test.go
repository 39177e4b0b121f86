package ledger_test

import (
	"context"
	"testing"

	"github.com/settle-go/settle/ledger"
)

func BenchmarkPost(b *testing.B) {
	ctx := context.Background()
	l, _ := setup(b)
	in := ledger.Transfer("", world, bob, dec("0.01"), "bench")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Post(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPostParallel(b *testing.B) {
	ctx := context.Background()
	l, _ := setup(b)
	in := ledger.Transfer("", world, bob, dec("0.01"), "bench")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Post(ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkBalance(b *testing.B) {
	ctx := context.Background()
	l, _ := setup(b)
	if _, err := l.Hold(ctx, ledger.HoldInput{Debit: alice, Credit: bob, Amount: dec("1")}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Balance(ctx, alice); err != nil {
			b.Fatal(err)
		}
	}
}
