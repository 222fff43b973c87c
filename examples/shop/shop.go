package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

//go:embed templates/*.html
var templateFS embed.FS

// Options configure the shop.
type Options struct {
	Epsilon float64      // ε of the release
	Dir     string       // where the ledger lives
	Logger  *slog.Logger // start-up logs
}

type shop struct {
	model  *recommend.Model
	ledger dp.Summary
	pages  map[string]*template.Template
	cats   []string
}

// cartCookie holds the cart: item IDs separated by "|", nothing else.
const (
	cartCookie  = "cart"
	maxCartSize = 30
)

func newShop(ctx context.Context, o Options) (*shop, error) {
	cat, err := sampledata.Catalog()
	if err != nil {
		return nil, err
	}
	secret, err := pseudonym.GenerateSecret()
	if err != nil {
		return nil, err
	}
	w := sampledata.Window
	kr, err := pseudonym.New(secret, pseudonym.Options{PeriodLength: sampledata.KeyPeriod, Epoch: w.Start})
	if err != nil {
		return nil, err
	}
	col, err := collect.New(cat, collect.Options{Window: w, MaxClockSkew: -1, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	ing, err := collect.NewIngestor(col, kr)
	if err != nil {
		return nil, err
	}
	evs, err := sampledata.Events()
	if err != nil {
		return nil, err
	}
	for {
		e, err := evs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := ing.Add(e); err != nil {
			return nil, err
		}
	}
	// The shop owns its data directory: it creates the ledger on its first
	// start and reopens it afterwards, so restarts cannot reset the budget.
	lo := dp.LedgerOptions{Budget: dp.Budget{Epsilon: 2 * o.Epsilon, Delta: 1e-5, Horizon: 365 * 24 * time.Hour}, Logger: o.Logger}
	ledgerPath := filepath.Join(o.Dir, "budget.ledger")
	ledger, err := dp.OpenFileLedger(ledgerPath, lo)
	if errors.Is(err, fs.ErrNotExist) {
		lo.Create = true
		ledger, err = dp.OpenFileLedger(ledgerPath, lo)
	}
	if err != nil {
		return nil, err
	}
	defer ledger.Close()
	m, err := release.Private(ctx, col, ledger, release.Options{Epsilon: o.Epsilon, Delta: 1e-5, HeadSize: 300, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	sum, err := ledger.Summary(time.Now())
	if err != nil {
		return nil, err
	}
	s := &shop{model: m, ledger: sum, pages: map[string]*template.Template{}, cats: cat.Categories()}
	funcs := template.FuncMap{
		"lower": strings.ToLower,
		"eps":   func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"pct":   func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) },
	}
	for _, page := range []string{"home", "product", "cart", "privacy"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		s.pages[page] = t
	}
	return s, nil
}

func (s *shop) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /product/{id}", s.product)
	mux.HandleFunc("GET /cart", s.cart)
	mux.HandleFunc("POST /cart/add", s.cartAdd)
	mux.HandleFunc("POST /cart/remove", s.cartRemove)
	mux.HandleFunc("GET /privacy", s.privacy)
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// product is an item as the templates show it.
type product struct {
	ID, Name, Category string
}

// rec is a recommendation as the templates show it.
type rec struct {
	product
	Why string
}

func (s *shop) product(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	it, ok := s.model.Catalog().Lookup(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	cart := readCart(r, s.model)
	res := &recommend.Result{}
	if err := s.model.Recommend(res, recommend.Query{Context: []string{id}, N: 6, Exclude: cart}); err != nil {
		http.Error(w, "recommendation failed", http.StatusInternalServerError)
		return
	}
	s.render(w, "product", map[string]any{
		"Title":   strings.ToLower(it.Name),
		"Product": product{it.ID, it.Name, it.Category},
		"Recs":    s.recs(res, func(ids []string) string { return "Bought together with this item" }),
		"InCart":  slices.Contains(cart, id),
		"Cart":    len(cart),
	})
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	cat := r.URL.Query().Get("category")
	q := recommend.Query{N: 24}
	if cat != "" {
		q.Categories = []string{cat}
	}
	res := &recommend.Result{}
	if err := s.model.Recommend(res, q); err != nil {
		http.Error(w, "recommendation failed", http.StatusInternalServerError)
		return
	}
	s.render(w, "home", map[string]any{
		"Title": "Popular now", "Recs": s.recs(res, nil), "Categories": s.cats, "Category": cat,
		"Cart": len(readCart(r, s.model)),
	})
}

func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	cart := readCart(r, s.model)
	var items []product
	for _, id := range cart {
		it, _ := s.model.Catalog().Lookup(id)
		items = append(items, product{it.ID, it.Name, it.Category})
	}
	res := &recommend.Result{}
	if err := s.model.Recommend(res, recommend.Query{Context: cart, N: 6}); err != nil {
		http.Error(w, "recommendation failed", http.StatusInternalServerError)
		return
	}
	s.render(w, "cart", map[string]any{
		"Title": "Your cart", "Items": items, "Cart": len(cart),
		"Recs": s.recs(res, func(because []string) string {
			names := make([]string, len(because))
			for i, b := range because {
				it, _ := s.model.Catalog().Lookup(b)
				names[i] = strings.ToLower(it.Name)
			}
			return "Because you have " + joinAnd(names) + " in your cart"
		}),
	})
}

func (s *shop) privacy(w http.ResponseWriter, r *http.Request) {
	rep := s.model.Report()
	s.render(w, "privacy", map[string]any{
		"Title": "Your privacy", "Report": rep, "Ledger": s.ledger, "Cart": len(readCart(r, s.model)),
		"KeyDays": int(rep.KeyPeriod.Hours() / 24),
	})
}

func (s *shop) recs(res *recommend.Result, because func([]string) string) []rec {
	out := make([]rec, 0, len(res.Items))
	for i := range res.Items {
		r := &res.Items[i]
		it, _ := s.model.Catalog().Lookup(r.Item)
		why := "Popular with other shoppers"
		switch {
		case r.Reason == recommend.ReasonContext && because != nil:
			why = because(r.BecauseItems())
		case r.Reason == recommend.ReasonCategory:
			why = "Popular in " + r.Category + ", the category of what you are looking at"
		}
		out = append(out, rec{product{it.ID, it.Name, it.Category}, why})
	}
	return out
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func (s *shop) render(w http.ResponseWriter, page string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages[page].Execute(w, data); err != nil {
		slog.Error("render", "page", page, "error", err.Error())
	}
}

// readCart returns the cart's item IDs that the model knows, at most
// maxCartSize, without duplicates.
func readCart(r *http.Request, m *recommend.Model) []string {
	c, err := r.Cookie(cartCookie)
	if err != nil {
		return nil
	}
	raw, err := url.QueryUnescape(c.Value)
	if err != nil {
		return nil
	}
	var out []string
	for _, id := range strings.Split(raw, "|") {
		if _, ok := m.Catalog().Lookup(id); ok && !slices.Contains(out, id) && len(out) < maxCartSize {
			out = append(out, id)
		}
	}
	return out
}

func writeCart(w http.ResponseWriter, cart []string) {
	http.SetCookie(w, &http.Cookie{
		Name: cartCookie, Value: url.QueryEscape(strings.Join(cart, "|")), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 7 * 24 * 3600,
	})
}

func (s *shop) cartAdd(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("id")
	if _, ok := s.model.Catalog().Lookup(id); !ok {
		http.Error(w, "unknown item", http.StatusBadRequest)
		return
	}
	cart := readCart(r, s.model)
	if !slices.Contains(cart, id) && len(cart) < maxCartSize {
		cart = append(cart, id)
	}
	writeCart(w, cart)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *shop) cartRemove(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("id")
	cart := slices.DeleteFunc(readCart(r, s.model), func(x string) bool { return x == id })
	writeCart(w, cart)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}
