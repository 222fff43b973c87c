package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/privrec/privrec/recommend"
)

// Options configure the handlers. Zero values mean the defaults.
type Options struct {
	// MaxBodyBytes limits request bodies; default 64 KiB.
	MaxBodyBytes int64
	// MaxContextItems limits the context of one recommendation; default 50.
	MaxContextItems int
	// MaxResults limits n; default 100.
	MaxResults int
	// DefaultResults is n when a request does not say; default 10.
	DefaultResults int
	// MaxEventsPerRequest limits one ingestion request; default 1000.
	MaxEventsPerRequest int
	// Logger receives one line per failed request (route and status only);
	// slog.Default() when nil.
	Logger *slog.Logger
	// Now returns the current time, for the model-age metric; time.Now when nil.
	Now func() time.Time
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
	if o.MaxEventsPerRequest <= 0 {
		o.MaxEventsPerRequest = 1000
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

// Error codes in error responses.
const (
	CodeBadRequest       = "bad_request"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "body_too_large"
	CodeUnsupportedType  = "unsupported_media_type"
	CodeNoModel          = "no_model"
	CodeInternal         = "internal"
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ItemJSON is one recommendation in a response.
type ItemJSON struct {
	Item        string   `json:"item"`
	Name        string   `json:"name,omitempty"`
	Category    string   `json:"category,omitempty"`
	Score       float64  `json:"score"`
	Reason      string   `json:"reason"`
	Because     []string `json:"because"`
	Support     float64  `json:"support"`
	Explanation string   `json:"explanation"`
}

// ResultJSON is the response of the query endpoints.
type ResultJSON struct {
	Items    []ItemJSON `json:"items"`
	Unknown  []string   `json:"unknown"`
	Fallback bool       `json:"fallback"`
	Release  string     `json:"release"`
}

// RecommendRequest is the body of POST /v1/recommend. It has no field for a
// user identifier, and unknown fields are refused.
type RecommendRequest struct {
	Context           []string `json:"context"`
	N                 int      `json:"n"`
	Exclude           []string `json:"exclude"`
	Categories        []string `json:"categories"`
	ExcludeCategories []string `json:"exclude_categories"`
	MinSupport        float64  `json:"min_support"`
}

type handler struct {
	rec     *recommend.Recommender
	opts    Options
	metrics *metrics
	mux     *http.ServeMux
	results sync.Pool
}

// NewHandler returns the serving handler for rec. It needs no key and keeps
// no per-user state.
func NewHandler(rec *recommend.Recommender, opts Options) http.Handler {
	h := &handler{rec: rec, opts: opts.withDefaults(), metrics: newMetrics(), mux: http.NewServeMux()}
	h.results.New = func() any { return new(recommend.Result) }
	h.route("/v1/similar/{item}", http.MethodGet, h.similar)
	h.route("/v1/recommend", http.MethodPost, h.recommend)
	h.route("/v1/popular", http.MethodGet, h.popular)
	h.route("/v1/privacy", http.MethodGet, h.privacy)
	h.route("/healthz", http.MethodGet, h.healthz)
	h.route("/metrics", http.MethodGet, h.serveMetrics)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.observe("unknown", w, r, func(w http.ResponseWriter, r *http.Request) error {
			return &apiError{http.StatusNotFound, CodeNotFound, "no such endpoint"}
		})
	})
	return h.mux
}

type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(format, args...)}
}

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (h *handler) route(pattern, method string, fn func(http.ResponseWriter, *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h.observe(pattern, w, r, func(w http.ResponseWriter, r *http.Request) error {
			if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
				w.Header().Set("Allow", method)
				return &apiError{http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use " + method}
			}
			return fn(w, r)
		})
	})
}

func (h *handler) observe(route string, w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request) error) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			h.opts.Logger.Error("privrec http: handler panic", "route", route)
			writeError(sw, &apiError{http.StatusInternalServerError, CodeInternal, "internal error"})
		}
		h.metrics.observe(route, sw.status, time.Since(start))
	}()
	if err := fn(sw, r); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{http.StatusInternalServerError, CodeInternal, "internal error"}
		}
		if ae.status >= 500 {
			h.opts.Logger.Warn("privrec http: request failed", "route", route, "status", ae.status)
		}
		writeError(sw, ae)
	}
}

func writeError(w http.ResponseWriter, e *apiError) {
	var body ErrorBody
	body.Error.Code, body.Error.Message = e.code, e.message
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func (h *handler) model() (*recommend.Model, error) {
	m := h.rec.Model()
	if m == nil {
		return nil, &apiError{http.StatusServiceUnavailable, CodeNoModel, "no model loaded yet"}
	}
	return m, nil
}

// queryOptions reads the filters shared by the GET endpoints.
func (h *handler) queryOptions(r *http.Request) (recommend.QueryOptions, int, error) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "n", "exclude", "category", "exclude_category", "min_support":
		default:
			return recommend.QueryOptions{}, 0, badRequest("unknown query parameter %q", truncate(k, 32))
		}
	}
	n := h.opts.DefaultResults
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > h.opts.MaxResults {
			return recommend.QueryOptions{}, 0, badRequest("n must be an integer in [1, %d]", h.opts.MaxResults)
		}
		n = v
	}
	opts := recommend.QueryOptions{
		Exclude:           splitList(q["exclude"]),
		Categories:        splitList(q["category"]),
		ExcludeCategories: splitList(q["exclude_category"]),
	}
	if s := q.Get("min_support"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return recommend.QueryOptions{}, 0, badRequest("min_support must be a finite number >= 0")
		}
		opts.MinSupport = v
	}
	if err := h.checkLists(opts.Exclude, opts.Categories, opts.ExcludeCategories); err != nil {
		return recommend.QueryOptions{}, 0, err
	}
	return opts, n, nil
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
			return badRequest("too many list entries (at most %d)", recommend.MaxContextItems)
		}
		for _, s := range l {
			if len(s) > maxIDLen {
				return badRequest("an ID is longer than %d bytes", maxIDLen)
			}
		}
	}
	return nil
}

func (h *handler) similar(w http.ResponseWriter, r *http.Request) error {
	item := r.PathValue("item")
	if item == "" || len(item) > maxIDLen {
		return badRequest("item must be 1 to %d bytes", maxIDLen)
	}
	opts, n, err := h.queryOptions(r)
	if err != nil {
		return err
	}
	return h.answer(w, func(m *recommend.Model, res *recommend.Result) error { return m.SimilarInto(res, item, n, opts) })
}

// answer runs a query on the current model with a pooled Result and writes
// the JSON response.
func (h *handler) answer(w http.ResponseWriter, query func(*recommend.Model, *recommend.Result) error) error {
	m, err := h.model()
	if err != nil {
		return err
	}
	res := h.results.Get().(*recommend.Result)
	defer h.results.Put(res)
	if err := query(m, res); err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusOK, resultJSON(m, res))
	return nil
}

func (h *handler) popular(w http.ResponseWriter, r *http.Request) error {
	opts, n, err := h.queryOptions(r)
	if err != nil {
		return err
	}
	return h.answer(w, func(m *recommend.Model, res *recommend.Result) error { return m.PopularInto(res, n, opts) })
}

// decodeJSON reads a JSON body strictly: JSON content type, size limit, one
// value, no unknown fields.
func (h *handler) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &apiError{http.StatusUnsupportedMediaType, CodeUnsupportedType, "the body must be application/json"}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body is larger than %d bytes", h.opts.MaxBodyBytes)}
		}
		return badRequest("invalid JSON body: %s", describeJSONError(err))
	}
	if dec.More() {
		return badRequest("the body must hold one JSON value")
	}
	return nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + truncate(strings.TrimPrefix(msg, "json: unknown field "), 40)
	}
	return "malformed"
}

func (h *handler) recommend(w http.ResponseWriter, r *http.Request) error {
	var req RecommendRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.N == 0 {
		req.N = h.opts.DefaultResults
	}
	if req.N < 1 || req.N > h.opts.MaxResults {
		return badRequest("n must be in [1, %d]", h.opts.MaxResults)
	}
	if len(req.Context) > h.opts.MaxContextItems {
		return badRequest("at most %d context items", h.opts.MaxContextItems)
	}
	if math.IsNaN(req.MinSupport) || req.MinSupport < 0 {
		return badRequest("min_support must be >= 0")
	}
	if err := h.checkLists(req.Context, req.Exclude, req.Categories, req.ExcludeCategories); err != nil {
		return err
	}
	opts := recommend.QueryOptions{Exclude: req.Exclude, Categories: req.Categories, ExcludeCategories: req.ExcludeCategories, MinSupport: req.MinSupport}
	ctx := req.Context
	if ctx == nil {
		ctx = []string{}
	}
	return h.answer(w, func(m *recommend.Model, res *recommend.Result) error { return m.ForContextInto(res, ctx, req.N, opts) })
}

func resultJSON(m *recommend.Model, res *recommend.Result) ResultJSON {
	out := ResultJSON{Items: make([]ItemJSON, len(res.Items)), Unknown: append([]string{}, res.Unknown...), Fallback: res.Fallback, Release: m.Report().ReleaseID}
	for i := range res.Items {
		r := &res.Items[i]
		it, _ := m.Lookup(r.Item)
		out.Items[i] = ItemJSON{
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
	writeJSON(w, http.StatusOK, m.Report())
	return nil
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.model(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	gauges := []gauge{
		{"privrec_model_loaded", "1 when a model is loaded.", 0},
		{"privrec_model_age_seconds", "Seconds since the current model was released.", math.NaN()},
		{"privrec_model_epsilon", "ε of the current model's release.", math.NaN()},
		{"privrec_budget_epsilon_spent", "Composed ε the ledger had spent when the current model was released.", math.NaN()},
		{"privrec_budget_epsilon_cap", "The ledger's ε cap.", math.NaN()},
	}
	if m := h.rec.Model(); m != nil {
		rep := m.Report()
		gauges[0].value = 1
		gauges[1].value = h.opts.Now().Sub(rep.CreatedAt).Seconds()
		gauges[2].value = rep.Privacy.Epsilon
		if rep.Ledger != nil {
			gauges[3].value = rep.Ledger.EpsilonSpent
			gauges[4].value = rep.Ledger.EpsilonCap
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.metrics.write(w, gauges)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
