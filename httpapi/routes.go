package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/collections"
	"github.com/settle-go/settle/ledger"
	"github.com/settle-go/settle/payouts"
)

type createCollectionRequest struct {
	Network    string         `json:"network"`
	Token      string         `json:"token"`
	Amount     amount         `json:"amount"`
	TTLMinutes *int           `json:"ttl_minutes"`
	Reference  string         `json:"reference"`
	Metadata   map[string]any `json:"metadata"`
}

func (h *handler) createCollection(w http.ResponseWriter, r *http.Request, c caller) error {
	var req createCollectionRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.Network == "":
		return validation("network", "is required")
	case req.Token == "":
		return validation("token", "is required")
	}
	amt, err := req.Amount.parse("amount")
	if err != nil {
		return err
	}
	if err := h.mayUse(c, chains.NetworkID(req.Network)); err != nil {
		return err
	}
	in := collections.CreateInput{
		MerchantID: c.Merchant.ID,
		Network:    chains.NetworkID(req.Network),
		Token:      req.Token,
		Amount:     amt,
		Reference:  req.Reference,
		Metadata:   req.Metadata,
	}
	if req.TTLMinutes != nil {
		if *req.TTLMinutes < 1 || *req.TTLMinutes > int(collections.MaxTTL/time.Minute) {
			return validation("ttl_minutes", fmt.Sprintf("must be between 1 and %d", int(collections.MaxTTL/time.Minute)))
		}
		in.TTL = time.Duration(*req.TTLMinutes) * time.Minute
	}
	col, err := h.cfg.Collections.Create(r.Context(), in)
	if err != nil {
		return err
	}
	writeOK(w, http.StatusCreated, "Collection created successfully", col, nil)
	return nil
}

func (h *handler) getCollection(w http.ResponseWriter, r *http.Request, c caller) error {
	col, err := h.cfg.Collections.Get(r.Context(), c.Merchant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := ownMode(c, col.Network, collections.ErrNotFound, col.ID); err != nil {
		return err
	}
	deps, err := h.cfg.Collections.Deposits(r.Context(), c.Merchant.ID, col.ID)
	if err != nil {
		return err
	}
	writeOK(w, http.StatusOK, "Collection retrieved", struct {
		collections.Collection
		Deposits []collections.Deposit `json:"deposits"`
	}{col, deps}, nil)
	return nil
}

func (h *handler) listCollections(w http.ResponseWriter, r *http.Request, c caller) error {
	page, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	cols, total, err := h.cfg.Collections.List(r.Context(), c.Merchant.ID, collections.ListFilter{
		Status: collections.Status(r.URL.Query().Get("status")), Networks: h.networks(c), Page: page, Limit: limit,
	})
	if err != nil {
		return err
	}
	writeOK(w, http.StatusOK, "Collections retrieved", cols, &Pagination{Page: page, Limit: limit, Total: total})
	return nil
}

type createPayoutRequest struct {
	Network           string `json:"network"`
	Token             string `json:"token"`
	Amount            amount `json:"amount"`
	ToAddress         string `json:"to_address"`
	MerchantReference string `json:"merchant_reference"`
}

func (h *handler) createPayout(w http.ResponseWriter, r *http.Request, c caller) error {
	var req createPayoutRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.Network == "":
		return validation("network", "is required")
	case req.Token == "":
		return validation("token", "is required")
	case req.ToAddress == "":
		return validation("to_address", "is required")
	}
	amt, err := req.Amount.parse("amount")
	if err != nil {
		return err
	}
	if err := h.mayUse(c, chains.NetworkID(req.Network)); err != nil {
		return err
	}
	p, err := h.cfg.Payouts.Create(r.Context(), payouts.CreateInput{
		MerchantID:        c.Merchant.ID,
		Network:           chains.NetworkID(req.Network),
		Token:             req.Token,
		Amount:            amt,
		ToAddress:         req.ToAddress,
		MerchantReference: req.MerchantReference,
		ClientIP:          clientIP(r),
	})
	if err != nil {
		return err
	}
	writeOK(w, http.StatusCreated, "Payout created successfully", p, nil)
	return nil
}

func (h *handler) getPayout(w http.ResponseWriter, r *http.Request, c caller) error {
	p, err := h.cfg.Payouts.Get(r.Context(), c.Merchant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := ownMode(c, p.Network, payouts.ErrNotFound, p.ID); err != nil {
		return err
	}
	writeOK(w, http.StatusOK, "Payout retrieved", p, nil)
	return nil
}

func (h *handler) listPayouts(w http.ResponseWriter, r *http.Request, c caller) error {
	page, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	ps, total, err := h.cfg.Payouts.List(r.Context(), c.Merchant.ID, payouts.ListFilter{
		Status: payouts.Status(r.URL.Query().Get("status")), Networks: h.networks(c), Page: page, Limit: limit,
	})
	if err != nil {
		return err
	}
	writeOK(w, http.StatusOK, "Payouts retrieved", ps, &Pagination{Page: page, Limit: limit, Total: total})
	return nil
}

// BalanceView is one of a merchant's balances as GET /v1/balances shows it.
type BalanceView struct {
	Token     string          `json:"token"`
	Account   string          `json:"account"` // "api" or "business"
	Posted    decimal.Decimal `json:"posted"`
	Held      decimal.Decimal `json:"held"`
	Available decimal.Decimal `json:"available"`
}

func (h *handler) balances(w http.ResponseWriter, r *http.Request, c caller) error {
	codes := map[string]bool{}
	for _, n := range h.cfg.Chains.Networks() {
		for _, a := range n.Assets() {
			codes[a.Code] = true
		}
	}
	tokens := make([]string, 0, len(codes))
	for code := range codes {
		tokens = append(tokens, code)
	}
	sort.Strings(tokens)
	// A key sees its own mode's accounts: a test key the test networks' balances, a live key the
	// mainnets'.
	test := c.test()
	out := []BalanceView{}
	for _, t := range tokens {
		for _, acct := range []struct {
			name string
			spec ledger.AccountSpec
		}{{"api", ledger.MerchantAPIFor(c.Merchant.ID, t, test)}, {"business", ledger.MerchantBusinessFor(c.Merchant.ID, t, test)}} {
			b, err := h.cfg.Ledger.Balance(r.Context(), acct.spec.Code)
			if errors.Is(err, ledger.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, BalanceView{Token: t, Account: acct.name, Posted: b.Posted, Held: b.Held, Available: b.Available})
		}
	}
	writeOK(w, http.StatusOK, "Balances retrieved", out, nil)
	return nil
}

// TransactionView is one posting on a merchant's accounts as GET /v1/transactions shows it.
type TransactionView struct {
	ID            int64           `json:"id"`
	EntryID       string          `json:"entry_id"`
	Account       string          `json:"account"`
	Token         string          `json:"token"`
	Direction     ledger.Side     `json:"direction"`
	Amount        decimal.Decimal `json:"amount"`
	BalanceBefore decimal.Decimal `json:"balance_before"`
	BalanceAfter  decimal.Decimal `json:"balance_after"`
	CreatedAt     time.Time       `json:"created_at"`
}

func (h *handler) transactions(w http.ResponseWriter, r *http.Request, c caller) error {
	q := r.URL.Query()
	_, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	var after int64
	if s := q.Get("cursor"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return validation("cursor", "is not a cursor this API returned")
		}
	}
	ps, next, err := h.cfg.Ledger.History(r.Context(), ledger.PostingFilter{
		AccountPrefix: ledger.MerchantPrefix(c.Merchant.ID, c.test()),
		Asset:         q.Get("token"),
		After:         after,
		Limit:         limit,
	})
	if err != nil {
		return err
	}
	out := make([]TransactionView, len(ps))
	for i, p := range ps {
		out[i] = TransactionView{ID: p.ID, EntryID: p.EntryID, Account: p.Account, Token: p.Asset, Direction: p.Direction,
			Amount: p.Amount, BalanceBefore: p.BalanceBefore, BalanceAfter: p.BalanceAfter, CreatedAt: p.CreatedAt.UTC()}
	}
	pg := &Pagination{Limit: limit}
	if next != 0 {
		pg.NextCursor = strconv.FormatInt(next, 10)
	}
	writeOK(w, http.StatusOK, "Transactions retrieved", out, pg)
	return nil
}

// pageParams reads page (default 1) and limit (default 20, at most 100).
func pageParams(r *http.Request) (page, limit int, err error) {
	q := r.URL.Query()
	page, limit = 1, 20
	if s := q.Get("page"); s != "" {
		if page, err = strconv.Atoi(s); err != nil || page < 1 {
			return 0, 0, validation("page", "must be a positive integer")
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 100 {
			return 0, 0, validation("limit", "must be between 1 and 100")
		}
	}
	return page, limit, nil
}
