// Command nethttp serves settle's REST API with nothing but net/http, on a SQLite file and a local
// simulated EVM chain that mines a block every second. On first start it creates a merchant and
// prints a development API key and a curl line to try.
//
//	go run ./examples/nethttp [-addr :8080] [-db settle-nethttp.db]
//
// The simulated chain lives in memory and starts anew with each run; POST /dev/pay with
// {"address": "0x…", "amount": "100"} makes its customer pay USDT to an address, so that a
// collection can be paid from curl.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shopspring/decimal"

	settle "github.com/settle-go/settle"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/settle-go/settle/merchants"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	dbPath := flag.String("db", "settle-nethttp.db", "SQLite file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *addr, *dbPath); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("nethttp", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, addr, dbPath string) error {
	_, statErr := os.Stat(dbPath)
	firstStart := errors.Is(statErr, os.ErrNotExist)

	signer, err := evm.NewHDSigner(bytes.Repeat([]byte{0x5e}, 32)) // development seed only
	if err != nil {
		return err
	}
	chain, err := evmtest.NewDevnet(ctx, signer)
	if err != nil {
		return err
	}
	defer chain.Close()
	st, err := settle.Open(ctx, settle.Config{
		DSN:      "sqlite:" + dbPath,
		Logger:   log,
		Networks: []chains.Network{chain.Network()},
	})
	if err != nil {
		return err
	}
	defer st.Close()

	if firstStart {
		m, err := st.Merchants.Create(ctx, "Development merchant")
		if err != nil {
			return err
		}
		_, key, err := st.Merchants.CreateAPIKey(ctx, m.ID, merchants.Test)
		if err != nil {
			return err
		}
		base := "http://" + addr
		if strings.HasPrefix(addr, ":") {
			base = "http://localhost" + addr
		}
		fmt.Printf("\nmerchant %s\nAPI key (shown once): %s\n\ntry:\n  curl -s -H 'X-API-Key: %s' -H 'Content-Type: application/json' \\\n    -d '{\"network\":\"EVM_LOCAL\",\"token\":\"USDT\",\"amount\":\"25\"}' %s/v1/collections\n"+
			"then pay it from the simulated customer:\n  curl -s -d '{\"address\":\"<address from above>\",\"amount\":\"25\"}' %s/dev/pay\n\n",
			m.ID, key, key, base, base)
	} else {
		fmt.Printf("using %s from an earlier run; its API key was printed then (delete the file for a new one)\n", dbPath)
		// The simulated chain starts from block 0 on every run: rewind the watcher's cursor so
		// that it does not wait for the new chain to reach the old one's height. A real chain
		// never needs this.
		if _, err := st.DB.NewRaw("UPDATE collection_cursors SET height = 0 WHERE network = ?", string(chains.EVMLocal)).Exec(ctx); err != nil {
			return err
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/", st.Handler())
	mux.HandleFunc("POST /dev/pay", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Address string          `json:"address"`
			Amount  decimal.Decimal `json:"amount"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		usdt, err := chains.FindAsset(chain.Network(), "USDT")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		units, err := usdt.FromDecimal(req.Amount)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		hash, err := chain.CustomerPay(r.Context(), "USDT", req.Address, units)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"tx_hash": hash})
	})

	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				chain.Commit()
			}
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() { _ = st.Run(ctx) }()
	log.Info("serving settle", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
