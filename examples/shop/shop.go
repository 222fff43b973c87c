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
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/httpapi/client"
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
	// API, when set, is the base URL of a privrec server (privrec serve or
	// privrec run) to ask for recommendations; otherwise the shop releases
	// a model of the embedded sample and serves privrec's API for itself
	// on a loopback port.
	API string
}

// shop is the web shop. Every recommendation comes from privrec's HTTP
// API through its Go client, as in a real deployment where the shop's
// backend and the privrec server are separate processes.
type shop struct {
	api    *client.Client
	apiURL string
	cat    *recommend.Catalog
	pages  map[string]*template.Template
	cats   []string
	stop   func() // stops the shop's own API server, if any
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
	s := &shop{cat: cat, pages: map[string]*template.Template{}, cats: cat.Categories(), stop: func() {}}
	api := o.API
	if api == "" {
		m, err := releaseSample(ctx, cat, o)
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: httpapi.NewHandler(func() *recommend.Model { return m }, httpapi.Options{Logger: o.Logger}), ReadHeaderTimeout: 2 * time.Second}
		go srv.Serve(ln)
		s.stop = func() { srv.Close() }
		api = "http://" + ln.Addr().String()
	}
	s.apiURL = api
	if s.api, err = client.New(api, nil); err != nil {
		s.stop()
		return nil, err
	}
	funcs := template.FuncMap{
		"lower": strings.ToLower,
		"eps":   func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"pct":   func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) },
		"days":  func(d time.Duration) int { return int(d.Hours() / 24) },
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

// releaseSample releases a private model of the embedded sample, charged
// to the ledger in o.Dir (created on the first start and reopened after,
// so that restarts cannot reset the budget).
func releaseSample(ctx context.Context, cat *recommend.Catalog, o Options) (*recommend.Model, error) {
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
	return m, nil
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
	it, ok := s.cat.Lookup(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	cart := readCart(r, s.cat)
	res, err := s.api.Similar(r.Context(), id, client.Query{N: 6, Exclude: cart})
	if err != nil {
		s.failed(w, err)
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
	q := client.Query{N: 24}
	if cat != "" {
		q.Categories = []string{cat}
	}
	res, err := s.api.Popular(r.Context(), q)
	if err != nil {
		s.failed(w, err)
		return
	}
	s.render(w, "home", map[string]any{
		"Title": "Popular now", "Recs": s.recs(res, nil), "Categories": s.cats, "Category": cat,
		"Cart": len(readCart(r, s.cat)),
	})
}

func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	cart := readCart(r, s.cat)
	var items []product
	for _, id := range cart {
		it, _ := s.cat.Lookup(id)
		items = append(items, product{it.ID, it.Name, it.Category})
	}
	var res *client.Result
	var err error
	if len(cart) == 0 {
		res, err = s.api.Popular(r.Context(), client.Query{N: 6})
	} else {
		res, err = s.api.Recommend(r.Context(), client.Query{Context: cart, N: 6})
	}
	if err != nil {
		s.failed(w, err)
		return
	}
	s.render(w, "cart", map[string]any{
		"Title": "Your cart", "Items": items, "Cart": len(cart),
		"Recs": s.recs(res, func(because []string) string {
			names := make([]string, len(because))
			for i, b := range because {
				it, _ := s.cat.Lookup(b)
				names[i] = strings.ToLower(it.Name)
			}
			return "Because you have " + joinAnd(names) + " in your cart"
		}),
	})
}

func (s *shop) privacy(w http.ResponseWriter, r *http.Request) {
	rep, err := s.api.Privacy(r.Context())
	if err != nil {
		s.failed(w, err)
		return
	}
	s.render(w, "privacy", map[string]any{
		"Title": "Your privacy", "Report": rep, "Ledger": rep.Ledger, "Cart": len(readCart(r, s.cat)),
		"KeyDays": int(rep.KeyPeriod.Hours() / 24),
	})
}

// failed answers a page whose recommendations the API could not give.
func (s *shop) failed(w http.ResponseWriter, err error) {
	slog.Error("privrec API", "error", err.Error())
	http.Error(w, "recommendations are unavailable", http.StatusBadGateway)
}

func (s *shop) recs(res *client.Result, because func([]string) string) []rec {
	out := make([]rec, 0, len(res.Items))
	for i := range res.Items {
		r := &res.Items[i]
		it, _ := s.cat.Lookup(r.Item)
		why := "Popular with other shoppers"
		switch {
		case r.Reason == recommend.ReasonContext.String() && because != nil:
			why = because(r.Because)
		case r.Reason == recommend.ReasonCategory.String():
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

// readCart returns the cart's item IDs that the catalog knows, at most
// maxCartSize, without duplicates.
func readCart(r *http.Request, cat *recommend.Catalog) []string {
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
		if _, ok := cat.Lookup(id); ok && !slices.Contains(out, id) && len(out) < maxCartSize {
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
	if _, ok := s.cat.Lookup(id); !ok {
		http.Error(w, "unknown item", http.StatusBadRequest)
		return
	}
	cart := readCart(r, s.cat)
	if !slices.Contains(cart, id) && len(cart) < maxCartSize {
		cart = append(cart, id)
	}
	writeCart(w, cart)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *shop) cartRemove(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("id")
	cart := slices.DeleteFunc(readCart(r, s.cat), func(x string) bool { return x == id })
	writeCart(w, cart)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}
