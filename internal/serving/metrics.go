package serving

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/httpx"
	"github.com/privrec/privrec/recommend"
)

// Metrics is a Prometheus registry for one serving process. Its labels are
// route patterns and status codes, never raw paths, item IDs or anything
// from a request's body.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	fallbacks *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	releases  *prometheus.CounterVec
	events    *prometheus.CounterVec
}

// NewMetrics returns the registry, with gauges that read the model current
// holds at each scrape; now is the clock for the model's age (time.Now when
// nil).
func NewMetrics(current *atomic.Pointer[recommend.Model], now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "privrec_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "privrec_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: httpx.LatencyBuckets,
		}, []string{"route"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "privrec_fallback_answers_total", Help: "Answers that fell back to popularity because their context had no evidence, by route pattern.",
		}, []string{"route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "privrec_ingest_events_total", Help: "Events offered for ingestion, by result: accepted, or why they were refused.",
		}, []string{"result"}),
		releases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "privrec_releases_total", Help: "Window releases by privrec run, by result: published, refused (the ledger's cap would be exceeded; alert on it) or failed.",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "privrec_model_reloads_total", Help: "Attempts to load a changed model file, by result (ok or failed; a failed one leaves the current model in place).",
		}, []string{"result"}),
	}
	report := func(f func(rep recommend.Report) float64) func() float64 {
		return func() float64 {
			if md := current.Load(); md != nil {
				return f(md.Report())
			}
			return math.NaN()
		}
	}
	ledger := func(f func(l *recommend.LedgerReport) float64) func() float64 {
		return report(func(rep recommend.Report) float64 {
			if rep.Ledger == nil {
				return math.NaN()
			}
			return f(rep.Ledger)
		})
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.requests, m.latency, m.fallbacks, m.reloads, m.releases, m.events,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privrec_model_loaded", Help: "1 when a model is loaded."}, func() float64 {
			if current.Load() != nil {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privrec_model_age_seconds", Help: "Seconds since the current model was released (NaN without a model)."},
			report(func(rep recommend.Report) float64 { return now().Sub(rep.CreatedAt).Seconds() })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privrec_model_epsilon", Help: "ε of the current model's release (NaN without a model)."},
			report(func(rep recommend.Report) float64 { return rep.Privacy.Epsilon })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privrec_budget_epsilon_spent", Help: "Composed ε the ledger had spent when the current model was released (NaN when unknown)."},
			ledger(func(l *recommend.LedgerReport) float64 { return l.EpsilonSpent })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privrec_budget_epsilon_cap", Help: "The ledger's ε cap (NaN when unknown)."},
			ledger(func(l *recommend.LedgerReport) float64 { return l.EpsilonCap })),
	)
	return m
}

// Observe records one request; it has the signature of
// httpapi.Options.Observe.
func (m *Metrics) Observe(route string, status int, latency time.Duration, fallback bool) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(latency.Seconds())
	if fallback {
		m.fallbacks.WithLabelValues(route).Inc()
	}
}

// Reloaded records one attempt to load a changed model file.
func (m *Metrics) Reloaded(err error) {
	if err != nil {
		m.reloads.WithLabelValues("failed").Inc()
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
}

// Events counts n events offered for ingestion with one result; it has
// the signature of ingest.Options.Counted.
func (m *Metrics) Events(result string, n int) {
	m.events.WithLabelValues(result).Add(float64(n))
}

// Released records one window release of privrec run: err nil when its
// model was published.
func (m *Metrics) Released(err error) {
	switch {
	case err == nil:
		m.releases.WithLabelValues("published").Inc()
	case errors.Is(err, dp.ErrBudgetExceeded):
		m.releases.WithLabelValues("refused").Inc()
	default:
		m.releases.WithLabelValues("failed").Inc()
	}
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
