// Command demo runs settle end to end in one process, with no setup: a real EVM (go-ethereum's
// simulated backend) carrying a real ERC-20 USDT, the ledger on SQLite (or PostgreSQL with -dsn),
// the REST API and a webhook receiver on loopback ports.
//
// A customer pays 100 USDT on chain to a collection address; blocks are mined; the deposit
// confirms and the merchant's API account shows 100. A payout of 40 USDT is requested over the
// HTTP API, signed, broadcast, mined and confirmed. The receiver verifies every webhook's signature
// and prints it. At the end the demo prints the ledger and the on-chain balances, checks that they
// agree and that every asset sums to zero, and exits non-zero if anything disagrees.
//
//	go run ./examples/demo
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	settle "github.com/settle-go/settle"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/settle-go/settle/chains/evm/evmtest"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/merchants"
	"github.com/settle-go/settle/webhooks"
)

func main() {
	dsn := flag.String("dsn", "", `database DSN (default: a SQLite file in a temporary directory; "postgres://…" for PostgreSQL)`)
	verbose := flag.Bool("v", false, "log the services' own messages")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *dsn, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("\ndemo OK: ledger and chain agree, every asset sums to zero")
}

const (
	confirmations = 3
	token         = "USDT"
)

func run(ctx context.Context, dsn string, verbose bool) error {
	start := time.Now()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if dsn == "" {
		dir, err := os.MkdirTemp("", "settle-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dsn = "sqlite:" + filepath.Join(dir, "settle.db")
	}

	// 1. A real EVM in process, with a 6-decimal USDT contract and a customer who holds some.
	seed := bytes.Repeat([]byte{0x5e}, 32) // development seed: never for real money
	signer, err := evm.NewHDSigner(seed)
	if err != nil {
		return err
	}
	chain, err := evmtest.NewDevnet(ctx, signer)
	if err != nil {
		return fmt.Errorf("start devnet: %w", err)
	}
	defer chain.Close()
	network := chain.Network()
	usdt, err := chains.FindAsset(network, token)
	if err != nil {
		return err
	}
	step("chain", "simulated EVM up; USDT contract at %s; customer %s", usdt.Contract, chain.CustomerAddress())

	// 2. A webhook receiver that verifies every signature.
	recv := &receiver{}
	recvURL, stopRecv, err := serve(recv)
	if err != nil {
		return err
	}
	defer stopRecv()

	// 3. settle itself.
	st, err := settle.Open(ctx, settle.Config{
		DSN:           dsn,
		Logger:        logger,
		Networks:      []chains.Network{network},
		Confirmations: map[chains.NetworkID]uint64{chains.EVMLocal: confirmations},
		PollInterval:  100 * time.Millisecond,
		// The receiver listens on 127.0.0.1, which a production dispatcher refuses to reach.
		Webhooks: webhooks.Config{PollInterval: 50 * time.Millisecond, BaseBackoff: 200 * time.Millisecond, AllowPrivateEndpoints: true},
	})
	if err != nil {
		return err
	}
	defer st.Close()
	merchant, err := st.Merchants.Create(ctx, "Demo Store")
	if err != nil {
		return err
	}
	_, apiKey, err := st.Merchants.CreateAPIKey(ctx, merchant.ID, merchants.Test)
	if err != nil {
		return err
	}
	endpoint, err := st.Webhooks.SetEndpoint(ctx, merchant.ID, recvURL)
	if err != nil {
		return err
	}
	recv.setSecret(endpoint.Secret)
	apiURL, stopAPI, err := serve(st.Handler())
	if err != nil {
		return err
	}
	defer stopAPI()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- st.Run(runCtx) }()
	defer func() { stopRun(); <-runDone }()
	api := &client{base: apiURL, key: apiKey}
	step("settle", "merchant %s, API on %s, webhooks to %s", merchant.ID, apiURL, recvURL)

	// 4. A collection of 100 USDT, paid on chain by the customer.
	var col struct {
		ID      string `json:"id"`
		Address string `json:"address"`
		Status  string `json:"status"`
	}
	if err := api.do(ctx, "POST", "/v1/collections", map[string]any{"network": chains.EVMLocal, "token": token, "amount": "100"}, &col); err != nil {
		return err
	}
	step("collect", "collection %s: pay 100 %s to %s", col.ID, token, col.Address)
	payTx, err := chain.CustomerPay(ctx, token, col.Address, big.NewInt(100_000_000))
	if err != nil {
		return fmt.Errorf("customer payment: %w", err)
	}
	step("collect", "customer sent tx %s", payTx)
	if err := mineUntil(ctx, chain, func() (bool, error) {
		if err := api.do(ctx, "GET", "/v1/collections/"+col.ID, nil, &col); err != nil {
			return false, err
		}
		return col.Status == "SUCCESSFUL", nil
	}); err != nil {
		return fmt.Errorf("collection never became SUCCESSFUL (status %s): %w", col.Status, err)
	}
	bal, err := apiBalance(ctx, api)
	if err != nil {
		return err
	}
	step("collect", "collection SUCCESSFUL after %d confirmations; API account available %s %s", confirmations, bal, token)
	if !bal.Equal(decimal.NewFromInt(100)) {
		return fmt.Errorf("API account shows %s, want 100", bal)
	}

	// 5. Operator step: move the collected tokens to the hot wallet, paying the gas from it.
	//    (Automated sweeps are a later issue; this uses the same chains.Sender calls.)
	hot, err := network.HotWallet(ctx)
	if err != nil {
		return err
	}
	if err := sweep(ctx, st, chain, network, col.Address, hot, usdt); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	step("sweep", "100 %s moved from %s to hot wallet %s", token, col.Address, hot)

	// 6. A payout of 40 USDT over the HTTP API.
	dest := "0x56adfcc254ab3b8142a275c1837bcffaff5aa38b" // seed 001's example address
	var pay struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		TxHash        string `json:"tx_hash"`
		BalanceBefore string `json:"balance_before"`
		BalanceAfter  string `json:"balance_after"`
	}
	if err := api.do(ctx, "POST", "/v1/payouts", map[string]any{
		"network": chains.EVMLocal, "token": token, "amount": 40, "to_address": dest, "merchant_reference": "demo-payout-1",
	}, &pay); err != nil {
		return err
	}
	step("payout", "payout %s PENDING; balance_before %s, balance_after %s", pay.ID, pay.BalanceBefore, pay.BalanceAfter)
	if err := mineUntil(ctx, chain, func() (bool, error) {
		if err := api.do(ctx, "GET", "/v1/payouts/"+pay.ID, nil, &pay); err != nil {
			return false, err
		}
		if pay.Status == "FAILED" {
			return false, errors.New("payout FAILED")
		}
		return pay.Status == "COMPLETED", nil
	}); err != nil {
		return fmt.Errorf("payout never COMPLETED (status %s): %w", pay.Status, err)
	}
	step("payout", "payout COMPLETED in tx %s", pay.TxHash)

	// 7. Every webhook delivered and verified.
	want := []string{webhooks.EventCollectionCreated, webhooks.EventCollectionSuccessful, webhooks.EventPayoutSuccessful}
	if err := waitFor(ctx, func() bool { return recv.has(want...) }); err != nil {
		return fmt.Errorf("webhooks %v not all received (got %v)", want, recv.types())
	}
	if n := recv.rejected(); n > 0 {
		return fmt.Errorf("%d webhook deliveries failed signature verification", n)
	}

	// 8. The ledger, the chain, and the checks.
	return reconcile(ctx, st, network, merchant.ID, []string{hot, col.Address}, dest, start)
}

func step(stage, format string, args ...any) {
	fmt.Printf("%-8s %s\n", stage, fmt.Sprintf(format, args...))
}

// mineUntil mines a block every 100 ms until done reports true.
func mineUntil(ctx context.Context, chain *evmtest.Devnet, done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		chain.Commit()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// sweep tops up the collection address's gas from the hot wallet, then sends its whole token
// balance to the hot wallet. Both transfers are internal to custody: they are marked as such
// before they are sent, so that the watcher takes neither for a deposit, and the ledger does not
// change.
func sweep(ctx context.Context, st *settle.Settle, chain *evmtest.Devnet, network *evm.Network, from, hot string, asset chains.Asset) error {
	bal, err := network.Balance(ctx, from, asset)
	if err != nil {
		return err
	}
	native := network.Assets()[0]
	gas, err := network.SignTransfer(ctx, chains.TransferRequest{From: hot, To: from, Asset: native, Amount: big.NewInt(1e16)})
	if err != nil {
		return err
	}
	if err := st.Collections.MarkInternal(ctx, network.ID(), gas.Hash, "gas top-up before sweep"); err != nil {
		return err
	}
	if err := sendAndConfirm(ctx, chain, network, gas); err != nil {
		return err
	}
	tx, err := network.SignTransfer(ctx, chains.TransferRequest{From: from, To: hot, Asset: asset, Amount: bal})
	if err != nil {
		return err
	}
	if err := st.Collections.MarkInternal(ctx, network.ID(), tx.Hash, "sweep to hot wallet"); err != nil {
		return err
	}
	return sendAndConfirm(ctx, chain, network, tx)
}

func sendAndConfirm(ctx context.Context, chain *evmtest.Devnet, network *evm.Network, tx *chains.SignedTx) error {
	if err := network.Broadcast(ctx, tx); err != nil {
		return err
	}
	return mineUntil(ctx, chain, func() (bool, error) {
		st, err := network.TxStatus(ctx, tx.Hash)
		if err != nil {
			return false, err
		}
		if st.State == chains.TxFailed {
			return false, fmt.Errorf("tx %s reverted", tx.Hash)
		}
		return st.State == chains.TxConfirmed, nil
	})
}

func apiBalance(ctx context.Context, api *client) (decimal.Decimal, error) {
	var bals []struct {
		Token     string          `json:"token"`
		Account   string          `json:"account"`
		Available decimal.Decimal `json:"available"`
	}
	if err := api.do(ctx, "GET", "/v1/balances", nil, &bals); err != nil {
		return decimal.Zero, err
	}
	for _, b := range bals {
		if b.Token == token && b.Account == "api" {
			return b.Available, nil
		}
	}
	return decimal.Zero, nil
}

// reconcile prints the ledger and the on-chain balances and checks that they agree.
func reconcile(ctx context.Context, st *settle.Settle, network *evm.Network, merchantID string, platform []string, dest string, start time.Time) error {
	fmt.Println("\nledger postings (balance before → after, in each account's normal direction):")
	tw := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "posting\taccount\tdirection\tamount\tasset\tbefore\tafter\t")
	var after int64
	for {
		ps, next, err := st.Ledger.History(ctx, ledger.PostingFilter{After: after, Limit: 100})
		if err != nil {
			return err
		}
		for _, p := range ps {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.ID, p.Account, p.Direction, p.Amount, p.Asset, p.BalanceBefore, p.BalanceAfter)
		}
		if next == 0 {
			break
		}
		after = next
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	usdt, _ := chains.FindAsset(network, token)
	custody, err := st.Ledger.Balance(ctx, ledger.Custody(string(network.ID()), token).Code)
	if err != nil {
		return err
	}
	onChain := decimal.Zero
	fmt.Println("\non-chain USDT balances:")
	for _, a := range append(platform, dest) {
		b, err := network.Balance(ctx, a, usdt)
		if err != nil {
			return err
		}
		d := usdt.ToDecimal(b)
		role := "platform"
		if a == dest {
			role = "payout destination"
		} else {
			onChain = onChain.Add(d)
		}
		fmt.Printf("  %s %12s  (%s)\n", a, d, role)
	}
	fmt.Printf("\ncustody:%s:%s in the ledger: %s; on chain at platform addresses: %s\n", network.ID(), token, custody.Posted, onChain)
	var problems []string
	if !custody.Posted.Equal(onChain) {
		problems = append(problems, fmt.Sprintf("custody %s != on-chain %s", custody.Posted, onChain))
	}
	if d, _ := network.Balance(ctx, dest, usdt); usdt.ToDecimal(d).Cmp(decimal.NewFromInt(40)) != 0 {
		problems = append(problems, fmt.Sprintf("payout destination holds %s, want 40", usdt.ToDecimal(d)))
	}
	// The sweep's gas top-up moved ETH inside custody: it must not have credited the merchant.
	if b, err := st.Ledger.Balance(ctx, ledger.MerchantAPIFor(merchantID, "ETH", network.ID().IsTestnet()).Code); err == nil && !b.Posted.IsZero() {
		problems = append(problems, fmt.Sprintf("merchant credited %s ETH by an internal transfer", b.Posted))
	} else if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	report, err := st.Ledger.Verify(ctx)
	if err != nil {
		return err
	}
	for _, p := range report.Problems {
		problems = append(problems, fmt.Sprintf("ledger: %v", p))
	}
	fmt.Printf("ledger Verify: %d problems; elapsed %s\n", len(report.Problems), time.Since(start).Round(time.Millisecond))
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// client calls the REST API and unwraps its envelope.
type client struct {
	base, key string
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Success bool            `json:"success"`
		Message string          `json:"message"`
		Code    string          `json:"code"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s %s: %d, undecodable body: %w", method, path, resp.StatusCode, err)
	}
	if !env.Success {
		return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, env.Code, env.Message)
	}
	if out != nil {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

// receiver verifies and records webhook deliveries.
type receiver struct {
	mu     sync.Mutex
	secret string
	seen   map[string]string // webhook-id → type
	bad    int
}

func (r *receiver) setSecret(s string) { r.mu.Lock(); r.secret = s; r.mu.Unlock() }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, err := webhooks.ConstructEvent(body, req.Header, r.secret)
	if err != nil {
		r.bad++
		fmt.Printf("webhook  REJECTED: %v\n", err)
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	if _, dup := r.seen[ev.ID]; !dup {
		r.seen[ev.ID] = ev.Type
		fmt.Printf("webhook  %-22s %s (signature verified)\n", ev.Type, ev.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, t := range r.seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (r *receiver) has(types ...string) bool {
	got := map[string]bool{}
	for _, t := range r.types() {
		got[t] = true
	}
	for _, t := range types {
		if !got[t] {
			return false
		}
	}
	return true
}

func (r *receiver) rejected() int { r.mu.Lock(); defer r.mu.Unlock(); return r.bad }

// serve runs h on a loopback port and returns its base URL and a stop function.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
