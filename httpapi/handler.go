package httpapi

import (
	_ "embed"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/privrec/privrec/internal/httpx"
	"github.com/privrec/privrec/recommend"
)

// Options configure the serving handler. Zero values mean the defaults.
type Options struct {
	// MaxBodyBytes limits request bodies; default 64 KiB.
	MaxBodyBytes int64
	// MaxContextItems limits the context of one recommendation; default 50.
	MaxContextItems int
	// MaxResults limits n; default 100.
	MaxResults int
	// DefaultResults is n when a request does not say; default 10.
	DefaultResults int
	// Logger receives one line per failed request (route and status only);
	// slog.Default() when nil.
	Logger *slog.Logger
	// Now returns the current time, for the model-age metric; time.Now when nil.
	Now func() time.Time
	// Metrics, when set, answers /metrics instead of the built-in
	// Prometheus text format: for example a prometheus/client_golang
	// registry's handler, fed through Observe (privrec serve does this).
	Metrics http.Handler
	// Observe, when set, is called after every request with its route
	// pattern (never the raw path, so it carries no item ID), its status,
	// its latency, and whether a query's answer fell back to popularity
	// because its context had no evidence. It must be safe for concurrent
	// use.
	Observe func(route string, status int, latency time.Duration, fallback bool)
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.MaxContextItems <= 0 {
		o.MaxContextItems = 50
	}
	if o.MaxResults <= 0 {
		o.MaxResults = 100
	}
	o.MaxResults = min(o.MaxResults, recommend.MaxResults)
	if o.DefaultResults <= 0 {
		o.DefaultResults = min(10, o.MaxResults)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Limits on strings in requests.
const maxIDLen = recommend.MaxItemIDLen

// itemJSON is one recommendation in a response.
type itemJSON struct {
	Item        string   `json:"item"`
	Name        string   `json:"name,omitempty"`
	Category    string   `json:"category,omitempty"`
	Score       float64  `json:"score"`
	Reason      string   `json:"reason"`
	Because     []string `json:"because"`
	Support     float64  `json:"support"`
	Explanation string   `json:"explanation"`
}

// resultJSON is the response of the query endpoints.
type resultJSON struct {
	Items   []itemJSON `json:"items"`
	Unknown []string   `json:"unknown"`
	// UnknownCategories are the query's categories the model does not
	// have: an allowed one matches no item.
	UnknownCategories []string `json:"unknown_categories,omitempty"`
	Fallback          bool     `json:"fallback"`
	Release           string   `json:"release"`
}

// recommendRequest is the body of POST /v1/recommend. It has no field for a
// user identifier, and unknown fields are refused.
type recommendRequest struct {
	Context           []string `json:"context"`
	N                 *int     `json:"n"` // absent: Options.DefaultResults
	Exclude           []string `json:"exclude"`
	Categories        []string `json:"categories"`
	ExcludeCategories []string `json:"exclude_categories"`
	MinSupport        float64  `json:"min_support"`
}

type handler struct {
	current func() *recommend.Model
	opts    Options
	mux     *httpx.Mux
	results sync.Pool
}

// NewHandler returns the serving handler. Each request asks current for
// the model to answer from, so swapping models while serving takes one
// atomic.Pointer: pass its Load method, and Store a model once one is
// released or loaded; a request in flight keeps the model it started with.
// Until current returns a model (or when current is nil) the query
// endpoints and /readyz answer 503 no_model; /healthz answers 200 as long
// as the process serves at all.
//
// The handler needs no key and keeps no per-user state; ingestion is a
// separate handler (package httpapi/ingest) for the one process that holds
// the key.
func NewHandler(current func() *recommend.Model, opts Options) http.Handler {
	opts = opts.withDefaults()
	if current == nil {
		current = func() *recommend.Model { return nil }
	}
	h := &handler{current: current, opts: opts, mux: httpx.NewMux(opts.Logger)}
	h.mux.Observe = opts.Observe
	h.results.New = func() any { return new(recommend.Result) }
	h.mux.Route("/v1/similar/{item}", http.MethodGet, h.similar)
	h.mux.Route("/v1/recommend", http.MethodPost, h.recommend)
	h.mux.Route("/v1/popular", http.MethodGet, h.popular)
	h.mux.Route("/v1/privacy", http.MethodGet, h.privacy)
	h.mux.Route("/healthz", http.MethodGet, h.healthz)
	h.mux.Route("/readyz", http.MethodGet, h.readyz)
	h.mux.Route("/metrics", http.MethodGet, h.serveMetrics)
	h.mux.Route("/openapi.json", http.MethodGet, serveOpenAPI)
	return h.mux
}

// openAPI is the API's OpenAPI 3 description; a test checks every
// endpoint's real answers, successes and errors, against it.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

func (h *handler) model() (*recommend.Model, error) {
	m := h.current()
	if m == nil {
		return nil, &httpx.Error{Status: http.StatusServiceUnavailable, Code: httpx.CodeNoModel, Message: "no model loaded yet"}
	}
	return m, nil
}

// query reads the parameters shared by the GET endpoints.
func (h *handler) query(r *http.Request) (recommend.Query, error) {
	v := r.URL.Query()
	for k := range v {
		switch k {
		case "n", "exclude", "category", "exclude_category", "min_support":
		default:
			return recommend.Query{}, httpx.BadRequest("unknown query parameter %q", truncate(k, 32))
		}
	}
	q := recommend.Query{
		N:                 h.opts.DefaultResults,
		Exclude:           splitList(v["exclude"]),
		Categories:        splitList(v["category"]),
		ExcludeCategories: splitList(v["exclude_category"]),
	}
	if s := v.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > h.opts.MaxResults {
			return recommend.Query{}, httpx.BadRequest("n must be an integer in [1, %d]", h.opts.MaxResults)
		}
		q.N = n
	}
	if s := v.Get("min_support"); s != "" {
		ms, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 {
			return recommend.Query{}, httpx.BadRequest("min_support must be a finite number >= 0")
		}
		q.MinSupport = ms
	}
	if err := h.checkLists(q.Exclude, q.Categories, q.ExcludeCategories); err != nil {
		return recommend.Query{}, err
	}
	return q, nil
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (h *handler) checkLists(lists ...[]string) error {
	for _, l := range lists {
		if len(l) > recommend.MaxContextItems {
			return httpx.BadRequest("too many list entries (at most %d)", recommend.MaxContextItems)
		}
		for _, s := range l {
			if len(s) > maxIDLen {
				return httpx.BadRequest("an ID is longer than %d bytes", maxIDLen)
			}
		}
	}
	return nil
}

func (h *handler) similar(w http.ResponseWriter, r *http.Request) error {
	item := r.PathValue("item")
	if item == "" || len(item) > maxIDLen {
		return httpx.BadRequest("item must be 1 to %d bytes", maxIDLen)
	}
	q, err := h.query(r)
	if err != nil {
		return err
	}
	q.Context = []string{item}
	return h.answer(w, q)
}

func (h *handler) popular(w http.ResponseWriter, r *http.Request) error {
	q, err := h.query(r)
	if err != nil {
		return err
	}
	return h.answer(w, q)
}

func (h *handler) recommend(w http.ResponseWriter, r *http.Request) error {
	var req recommendRequest
	if err := httpx.DecodeJSON(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	n := h.opts.DefaultResults
	if req.N != nil {
		n = *req.N
	}
	if n < 1 || n > h.opts.MaxResults {
		return httpx.BadRequest("n must be in [1, %d]", h.opts.MaxResults)
	}
	if len(req.Context) > h.opts.MaxContextItems {
		return httpx.BadRequest("at most %d context items", h.opts.MaxContextItems)
	}
	if math.IsNaN(req.MinSupport) || req.MinSupport < 0 {
		return httpx.BadRequest("min_support must be >= 0")
	}
	if err := h.checkLists(req.Context, req.Exclude, req.Categories, req.ExcludeCategories); err != nil {
		return err
	}
	return h.answer(w, recommend.Query{
		Context: req.Context, N: n, Exclude: req.Exclude, Categories: req.Categories,
		ExcludeCategories: req.ExcludeCategories, MinSupport: req.MinSupport,
	})
}

// answer runs q on the current model with a pooled Result and writes the
// JSON response.
func (h *handler) answer(w http.ResponseWriter, q recommend.Query) error {
	m, err := h.model()
	if err != nil {
		return err
	}
	res := h.results.Get().(*recommend.Result)
	defer h.results.Put(res)
	if err := m.Recommend(res, q); err != nil {
		return httpx.BadRequest("%v", err)
	}
	if res.Fallback {
		httpx.MarkFallback(w)
	}
	httpx.WriteJSON(w, http.StatusOK, toJSON(m, res))
	return nil
}

func toJSON(m *recommend.Model, res *recommend.Result) resultJSON {
	out := resultJSON{Items: make([]itemJSON, len(res.Items)), Unknown: append([]string{}, res.Unknown...), Fallback: res.Fallback, Release: m.Report().ReleaseID}
	if len(res.UnknownCategories) > 0 {
		out.UnknownCategories = append([]string{}, res.UnknownCategories...)
	}
	for i := range res.Items {
		r := &res.Items[i]
		it, _ := m.Catalog().Lookup(r.Item)
		out.Items[i] = itemJSON{
			Item: r.Item, Name: it.Name, Category: it.Category, Score: r.Score, Reason: r.Reason.String(),
			Because: append([]string{}, r.BecauseItems()...), Support: r.Support, Explanation: r.Explain(),
		}
	}
	return out
}

func (h *handler) privacy(w http.ResponseWriter, r *http.Request) error {
	m, err := h.model()
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, m.Report())
	return nil
}

// healthz is the liveness check: the process answers.
func (h *handler) healthz(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz is the readiness check: a model is loaded, so queries can be
// answered.
func (h *handler) readyz(w http.ResponseWriter, r *http.Request) error {
	m, err := h.model()
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "release": m.Report().ReleaseID})
	return nil
}

func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Metrics != nil {
		h.opts.Metrics.ServeHTTP(w, r)
		return nil
	}
	gauges := []httpx.Gauge{
		{Name: "privrec_model_loaded", Help: "1 when a model is loaded.", Value: 0},
		{Name: "privrec_model_age_seconds", Help: "Seconds since the current model was released.", Value: math.NaN()},
		{Name: "privrec_model_epsilon", Help: "ε of the current model's release.", Value: math.NaN()},
		{Name: "privrec_budget_epsilon_spent", Help: "Composed ε the ledger had spent when the current model was released.", Value: math.NaN()},
		{Name: "privrec_budget_epsilon_cap", Help: "The ledger's ε cap.", Value: math.NaN()},
	}
	if m := h.current(); m != nil {
		rep := m.Report()
		gauges[0].Value = 1
		gauges[1].Value = h.opts.Now().Sub(rep.CreatedAt).Seconds()
		gauges[2].Value = rep.Privacy.Epsilon
		if rep.Ledger != nil {
			gauges[3].Value = rep.Ledger.EpsilonSpent
			gauges[4].Value = rep.Ledger.EpsilonCap
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.mux.Metrics.Write(w, gauges)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
