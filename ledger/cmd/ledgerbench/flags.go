package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Config is one benchmark run's settings.
type Config struct {
	// DSN is "postgres://…" or "sqlite:PATH"; empty means a fresh SQLite file in a temporary
	// directory, removed after the run unless Keep is set.
	DSN      string
	Accounts int           // credit-normal NoOverdraft accounts the transfers move between (at least 2)
	Workers  int           // concurrent posters
	Duration time.Duration // measured phase
	Warmup   time.Duration // phase before it, posted but left out of the figures
	Seed     uint64        // seeds the workers' random choices; 0 picks one from the clock
	// Reuse allows a database that already holds ledger data; the bench then adds its own
	// accounts next to it (Verify checks the whole ledger, old data included).
	Reuse bool
	// Keep keeps the temporary SQLite file of an empty DSN.
	Keep bool
	// GroupCommit turns on the ledger's group commit (ledger.Config.GroupCommit) with Window and
	// MaxBatch (zero: the ledger's defaults).
	GroupCommit bool
	Window      time.Duration
	MaxBatch    int
	Logger      *slog.Logger // diagnostics; nil discards them
}

// options are the command's flags beyond Config.
type options struct {
	cfg        Config
	json       bool
	verbose    bool
	cpuProfile string
}

// parseFlags parses args (without the program name); usage and errors go to stderr.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ledgerbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.cfg.DSN, "dsn", "", `database: "postgres://…" (an empty, dedicated database) or "sqlite:PATH"; default: a fresh SQLite file in a temporary directory`)
	fs.IntVar(&o.cfg.Accounts, "accounts", 50, "accounts the transfers move between (2 is the hot-account case)")
	fs.IntVar(&o.cfg.Workers, "workers", 20, "concurrent workers posting transfers")
	fs.DurationVar(&o.cfg.Duration, "duration", 20*time.Second, "measured phase")
	fs.DurationVar(&o.cfg.Warmup, "warmup", 2*time.Second, "warm-up before the measured phase, left out of the figures")
	fs.Uint64Var(&o.cfg.Seed, "seed", 0, "random seed (0: from the clock); the seed used is printed")
	fs.BoolVar(&o.cfg.Reuse, "reuse", false, "run even if the database already holds ledger data")
	fs.BoolVar(&o.cfg.Keep, "keep", false, "keep the temporary SQLite file (default DSN only)")
	fs.BoolVar(&o.cfg.GroupCommit, "group-commit", false, "post through the ledger's group commit (Config.GroupCommit)")
	fs.DurationVar(&o.cfg.Window, "window", 0, "group commit window (0: the ledger's default, 1ms)")
	fs.IntVar(&o.cfg.MaxBatch, "max-batch", 0, "group commit's maximum entries per batch (0: the ledger's default, 256)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
	fs.BoolVar(&o.verbose, "v", false, "log debug lines (the ledger's retries) to stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return o, o.cfg.validate()
}

func (c Config) validate() error {
	var errs []error
	if c.Accounts < 2 {
		errs = append(errs, fmt.Errorf("-accounts %d: need at least 2", c.Accounts))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("-workers %d: need at least 1", c.Workers))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("-duration %s: must be positive", c.Duration))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("-warmup %s: must not be negative", c.Warmup))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("-window %s: must not be negative", c.Window))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("-max-batch %d: must not be negative", c.MaxBatch))
	}
	return errors.Join(errs...)
}
