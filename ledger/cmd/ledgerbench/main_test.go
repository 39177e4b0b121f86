package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/settle-go/settle/internal/dbtest"
)

func TestRun(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "bench.db") },
	}
	if os.Getenv(dbtest.EnvPostgresDSN) != "" {
		stores["postgres"] = func(t *testing.T) string { return dbtest.DSN(t) }
	}
	for name, dsn := range stores {
		t.Run(name, func(t *testing.T) {
			cfg := Config{DSN: dsn(t), Accounts: 5, Workers: 4, Duration: time.Second, Warmup: 100 * time.Millisecond, Seed: 1}
			res, err := run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Transfers <= 0 {
				t.Errorf("transfers = %d, want > 0", res.Transfers)
			}
			if !res.Verify.OK {
				t.Errorf("verify: %+v", res.Verify)
			}
			if res.Failed() {
				t.Errorf("failed: errors %+v", res.Errors)
			}
			if res.Latency.P50Ms <= 0 || res.Latency.P99Ms < res.Latency.P50Ms || res.Latency.MaxMs < res.Latency.P99Ms {
				t.Errorf("latency %+v not ordered", res.Latency)
			}
			if res.BytesAfter <= res.BytesBefore {
				t.Errorf("database did not grow: %d -> %d bytes", res.BytesBefore, res.BytesAfter)
			}

			// The same database again is refused without -reuse, and accepted with it.
			cfg.Duration, cfg.Warmup = 200*time.Millisecond, 0
			if _, err := run(context.Background(), cfg); err == nil {
				t.Error("second run on a used database: no error")
			}
			cfg.Reuse, cfg.GroupCommit = true, true // and through group commit
			res, err = run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verify.OK || res.Verify.Accounts < 2*(cfg.Accounts+1) {
				t.Errorf("reuse: verify %+v", res.Verify)
			}
			if !res.GroupCommit || res.Transfers <= 0 || res.Failed() {
				t.Errorf("group commit: %d transfers, errors %+v", res.Transfers, res.Errors)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	cfg := Config{DSN: "sqlite:" + filepath.Join(t.TempDir(), "bench.db"), Accounts: 2, Workers: 4, Duration: time.Minute}
	res, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Transfers <= 0 || !res.Verify.OK || res.Failed() {
		t.Errorf("interrupted run: %+v", res)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[int]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 1: 1} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%d = %d, want %d", p, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != 1 {
		t.Errorf("p99 of one = %d", got)
	}
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-accounts", "2", "-duration", "1s", "-json"}, os.Stderr)
	if err != nil || o.cfg.Accounts != 2 || !o.json {
		t.Errorf("parseFlags: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"-accounts", "1"}, os.Stderr); err == nil {
		t.Error("-accounts 1 accepted")
	}
}

func TestGroupCommitFlags(t *testing.T) {
	o, err := parseFlags([]string{"-group-commit", "-window", "2ms", "-max-batch", "64"}, io.Discard)
	if err != nil || !o.cfg.GroupCommit || o.cfg.Window != 2*time.Millisecond || o.cfg.MaxBatch != 64 {
		t.Fatalf("parseFlags = %+v, %v", o.cfg, err)
	}
	if _, err := parseFlags([]string{"-max-batch", "-1"}, io.Discard); err == nil {
		t.Fatal("-max-batch -1: no error")
	}
}
