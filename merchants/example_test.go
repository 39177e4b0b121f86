package merchants_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/settle-go/settle/internal/database"
	"github.com/settle-go/settle/merchants"
)

// A merchant gets a key once; every later request presents it and is authenticated by it.
func ExampleService_CreateAPIKey() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "settle-example")
	defer os.RemoveAll(dir)
	db, err := database.Open(ctx, "sqlite:"+filepath.Join(dir, "settle.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if err := merchants.Migrate(ctx, db); err != nil {
		fmt.Println(err)
		return
	}
	svc := merchants.New(db, merchants.Config{})

	m, _ := svc.Create(ctx, "My Store")
	key, secret, _ := svc.CreateAPIKey(ctx, m.ID, merchants.Test)
	fmt.Println(strings.HasPrefix(secret, "sk_test_"), len(secret), key.Prefix == secret[:12])

	// In the API's middleware, with the X-API-Key header's value:
	who, used, err := svc.Authenticate(ctx, secret)
	fmt.Println(who.Name, used.ID == key.ID, used.Mode, err)

	_, _, err = svc.Authenticate(ctx, "sk_test_not-a-key")
	fmt.Println(err)
	// Output:
	// true 51 true
	// My Store true test <nil>
	// merchants: invalid API key
}
