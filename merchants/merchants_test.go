package merchants_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/settle-go/settle/internal/dbtest"
	"github.com/settle-go/settle/merchants"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T) (*bun.DB, *merchants.Service, *clock) {
	t.Helper()
	db := dbtest.Open(t)
	if err := merchants.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := merchants.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	c := &clock{t: time.Date(2026, 5, 16, 12, 0, 0, 123456789, time.UTC)}
	return db, merchants.New(db, merchants.Config{Now: c.Now}), c
}

func mustCreate(t *testing.T, s *merchants.Service, name string) merchants.Merchant {
	t.Helper()
	m, err := s.Create(context.Background(), name)
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	return m
}

func mustKey(t *testing.T, s *merchants.Service, merchantID string, mode merchants.Mode) (merchants.APIKey, string) {
	t.Helper()
	k, secret, err := s.CreateAPIKey(context.Background(), merchantID, mode)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, secret
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, c := setup(t)
	m := mustCreate(t, s, "  My Store  ")
	if !strings.HasPrefix(m.ID, "mch_") || m.Name != "My Store" || !m.CreatedAt.Equal(c.Now().Truncate(time.Microsecond)) {
		t.Fatalf("Create = %+v", m)
	}
	got, err := s.Get(ctx, m.ID)
	if err != nil || got != m {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, m)
	}
	if _, err := s.Get(ctx, "mch_missing"); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Create(ctx, strings.Repeat("é", merchants.MaxNameLength)); err != nil {
		t.Fatalf("name of MaxNameLength characters: %v", err)
	}
	for _, name := range []string{"", "   ", strings.Repeat("a", merchants.MaxNameLength+1), "bad\x00name", "tab\tname", "\xff"} {
		if _, err := s.Create(ctx, name); !errors.Is(err, merchants.ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestAPIKeyRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, c := setup(t)
	m := mustCreate(t, s, "Shop")
	for _, mode := range []merchants.Mode{merchants.Live, merchants.Test} {
		k, secret := mustKey(t, s, m.ID, mode)
		if !strings.HasPrefix(secret, "sk_"+string(mode)+"_") || len(secret) != 8+43 {
			t.Fatalf("secret %q: want sk_%s_ + 43 characters", secret, mode)
		}
		if !strings.HasPrefix(k.ID, "key_") || k.MerchantID != m.ID || k.Mode != mode || k.Prefix != secret[:12] ||
			k.RevokedAt != nil || k.LastUsedAt != nil {
			t.Fatalf("key = %+v", k)
		}
		gotM, gotK, err := s.Authenticate(ctx, secret)
		if err != nil || gotM != m || gotK.ID != k.ID || gotK.Mode != mode || gotK.LastUsedAt == nil {
			t.Fatalf("Authenticate = %+v, %+v, %v", gotM, gotK, err)
		}
	}
	if _, _, err := s.CreateAPIKey(ctx, "mch_missing", merchants.Live); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("CreateAPIKey(missing merchant) = %v", err)
	}
	if _, _, err := s.CreateAPIKey(ctx, m.ID, "prod"); !errors.Is(err, merchants.ErrInvalidMode) {
		t.Fatalf("CreateAPIKey(bad mode) = %v", err)
	}

	// Use is recorded at most once a minute.
	k, secret := mustKey(t, s, m.ID, merchants.Live)
	_, first, _ := s.Authenticate(ctx, secret)
	c.Advance(30 * time.Second)
	_, second, _ := s.Authenticate(ctx, secret)
	if !second.LastUsedAt.Equal(*first.LastUsedAt) {
		t.Fatalf("last use rewritten within a minute: %v, then %v", first.LastUsedAt, second.LastUsedAt)
	}
	c.Advance(31 * time.Second)
	_, third, _ := s.Authenticate(ctx, secret)
	if !third.LastUsedAt.After(*first.LastUsedAt) {
		t.Fatalf("last use not updated after a minute: %v", third.LastUsedAt)
	}
	keys, _ := s.APIKeys(ctx, m.ID)
	if len(keys) != 3 || keys[0].ID != k.ID || !keys[0].LastUsedAt.Equal(*third.LastUsedAt) {
		t.Fatalf("APIKeys = %+v", keys)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, _ := setup(t)
	m := mustCreate(t, s, "Shop")
	_, secret := mustKey(t, s, m.ID, merchants.Live)
	other, _ := strings.CutPrefix(secret, "sk_live_")
	last := secret[len(secret)-1]
	flipped := secret[:len(secret)-1] + map[bool]string{true: "B", false: "A"}[last == 'A']
	for name, key := range map[string]string{
		"empty":             "",
		"unknown":           "sk_live_" + strings.Repeat("A", 43),
		"one char changed":  flipped,
		"wrong mode prefix": "sk_test_" + other,
		"no prefix":         other,
		"short":             secret[:len(secret)-1],
		"long":              secret + "A",
		"bad characters":    secret[:len(secret)-1] + "-",
		"surrounding space": " " + secret,
		"other scheme":      "knot_sk_live_" + other,
	} {
		if _, _, err := s.Authenticate(ctx, key); err != merchants.ErrInvalidAPIKey {
			t.Errorf("%s: Authenticate = %v, want ErrInvalidAPIKey", name, err)
		}
	}
}

func TestRevokeAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, c := setup(t)
	m := mustCreate(t, s, "Shop")
	k, secret := mustKey(t, s, m.ID, merchants.Live)
	keep, keepSecret := mustKey(t, s, m.ID, merchants.Live)
	intruder := mustCreate(t, s, "Other")
	if err := s.RevokeAPIKey(ctx, intruder.ID, k.ID); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("revoke another merchant's key = %v, want ErrNotFound", err)
	}
	if err := s.RevokeAPIKey(ctx, m.ID, "key_missing"); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("revoke missing key = %v, want ErrNotFound", err)
	}
	if err := s.RevokeAPIKey(ctx, m.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, secret); err != merchants.ErrInvalidAPIKey {
		t.Fatalf("revoked key: Authenticate = %v, want ErrInvalidAPIKey", err)
	}
	if _, _, err := s.Authenticate(ctx, keepSecret); err != nil {
		t.Fatalf("other key after revoke: %v", err)
	}
	c.Advance(time.Hour)
	if err := s.RevokeAPIKey(ctx, m.ID, k.ID); err != nil {
		t.Fatalf("revoke again = %v", err)
	}
	keys, _ := s.APIKeys(ctx, m.ID)
	byID := map[string]merchants.APIKey{}
	for _, x := range keys {
		byID[x.ID] = x
	}
	if r := byID[k.ID].RevokedAt; r == nil || !r.Equal(c.Now().Add(-time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("RevokedAt = %v: want the first revocation's time", r)
	}
	if byID[keep.ID].RevokedAt != nil {
		t.Fatal("the other key was revoked")
	}
}

func TestRotateAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, _ := setup(t)
	m := mustCreate(t, s, "Shop")
	_, old1 := mustKey(t, s, m.ID, merchants.Live)
	_, old2 := mustKey(t, s, m.ID, merchants.Live)
	_, testKey := mustKey(t, s, m.ID, merchants.Test)
	k, secret, err := s.RotateAPIKey(ctx, m.ID, merchants.Live)
	if err != nil || k.Mode != merchants.Live || !strings.HasPrefix(secret, "sk_live_") {
		t.Fatalf("RotateAPIKey = %+v, %v", k, err)
	}
	for _, old := range []string{old1, old2} {
		if _, _, err := s.Authenticate(ctx, old); err != merchants.ErrInvalidAPIKey {
			t.Fatalf("old live key after rotation: %v", err)
		}
	}
	if _, got, err := s.Authenticate(ctx, secret); err != nil || got.ID != k.ID {
		t.Fatalf("new key: %+v, %v", got, err)
	}
	if _, _, err := s.Authenticate(ctx, testKey); err != nil {
		t.Fatalf("test key after live rotation: %v", err)
	}
	if _, _, err := s.RotateAPIKey(ctx, "mch_missing", merchants.Live); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("rotate for missing merchant = %v", err)
	}
	if _, _, err := s.RotateAPIKey(ctx, m.ID, ""); !errors.Is(err, merchants.ErrInvalidMode) {
		t.Fatalf("rotate bad mode = %v", err)
	}
}

// Concurrent rotations leave exactly one active key of the mode.
func TestConcurrentRotationsLeaveOneKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s, _ := setup(t)
	m := mustCreate(t, s, "Shop")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, _, errs[i] = s.RotateAPIKey(ctx, m.ID, merchants.Live) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := s.APIKeys(ctx, m.ID)
	active := 0
	for _, k := range keys {
		if k.RevokedAt == nil {
			active++
		}
	}
	if len(keys) != 8 || active != 1 {
		t.Fatalf("%d keys, %d active; want 8 and 1", len(keys), active)
	}
}

// The table holds hashes only: no row contains the key or its random part.
func TestStoredKeysAreHashed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, s, _ := setup(t)
	m := mustCreate(t, s, "Shop")
	_, secret := mustKey(t, s, m.ID, merchants.Live)
	_, rotated, _ := s.RotateAPIKey(ctx, m.ID, merchants.Live)

	rows, err := db.QueryContext(ctx, "SELECT * FROM merchant_api_keys")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		n++
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			var text string
			switch v := v.(type) {
			case string:
				text = v
			case []byte:
				text = string(v)
			default:
				continue
			}
			for _, key := range []string{secret, rotated} {
				if strings.Contains(text, key[12:]) || strings.Contains(text, key[20:]) {
					t.Errorf("column %s holds key material: %q", cols[i], text)
				}
			}
		}
	}
	if err := rows.Err(); err != nil || n != 2 {
		t.Fatalf("%d rows, %v", n, err)
	}
}
