package httpx

import (
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the latency
// histogram; privrec serve's Prometheus registry uses the same ones.
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Metrics is a small Prometheus text-format registry: request counts by
// route and status, and a latency histogram by route. Routes are a fixed
// set of patterns, never raw paths, so labels carry no item or user data.
type Metrics struct {
	mu        sync.Mutex
	counts    map[[2]string]uint64 // (route, status) -> requests
	hists     map[string]*histogram
	fallbacks map[string]uint64 // route -> answers that fell back to popularity
	events    map[string]uint64 // result -> events offered for ingestion
}

type histogram struct {
	buckets []atomic.Uint64
	count   atomic.Uint64
	sumNano atomic.Uint64
}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	return &Metrics{counts: map[[2]string]uint64{}, hists: map[string]*histogram{}, fallbacks: map[string]uint64{}, events: map[string]uint64{}}
}

// Observe counts one request, and its answer when it fell back to
// popularity.
func (m *Metrics) Observe(route string, status int, d time.Duration, fallback bool) {
	m.mu.Lock()
	m.counts[[2]string{route, fmt.Sprint(status)}]++
	if fallback {
		m.fallbacks[route]++
	}
	h := m.hists[route]
	if h == nil {
		h = &histogram{buckets: make([]atomic.Uint64, len(LatencyBuckets))}
		m.hists[route] = h
	}
	m.mu.Unlock()
	s := d.Seconds()
	for i, b := range LatencyBuckets {
		if s <= b {
			h.buckets[i].Add(1)
		}
	}
	h.count.Add(1)
	h.sumNano.Add(uint64(d.Nanoseconds()))
}

// AddEvents counts n events offered for ingestion with one result:
// "accepted", or the reason they were refused.
func (m *Metrics) AddEvents(result string, n int) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.events[result] += uint64(n)
	m.mu.Unlock()
}

// Gauge is one extra value written after the request metrics; NaN values
// are left out.
type Gauge struct {
	Name, Help string
	Value      float64
}

// Write writes the registry and the gauges in the Prometheus text format.
func (m *Metrics) Write(w io.Writer, gauges []Gauge) {
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.counts))
	for k := range m.counts {
		keys = append(keys, k)
	}
	counts := make(map[[2]string]uint64, len(m.counts))
	for k, v := range m.counts {
		counts[k] = v
	}
	routes := make([]string, 0, len(m.hists))
	for r := range m.hists {
		routes = append(routes, r)
	}
	hists := make(map[string]*histogram, len(m.hists))
	for r, h := range m.hists {
		hists[r] = h
	}
	results := make([]string, 0, len(m.events))
	eventCounts := make(map[string]uint64, len(m.events))
	for r, n := range m.events {
		results = append(results, r)
		eventCounts[r] = n
	}
	fallbacks := make([]string, 0, len(m.fallbacks))
	fallbackCounts := make(map[string]uint64, len(m.fallbacks))
	for r, n := range m.fallbacks {
		fallbacks = append(fallbacks, r)
		fallbackCounts[r] = n
	}
	m.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	sort.Strings(routes)
	sort.Strings(fallbacks)
	sort.Strings(results)

	fmt.Fprintln(w, "# HELP privrec_http_requests_total HTTP requests by route and status code.")
	fmt.Fprintln(w, "# TYPE privrec_http_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "privrec_http_requests_total{route=%q,code=%q} %d\n", k[0], k[1], counts[k])
	}
	fmt.Fprintln(w, "# HELP privrec_http_request_duration_seconds HTTP request latency by route.")
	fmt.Fprintln(w, "# TYPE privrec_http_request_duration_seconds histogram")
	for _, r := range routes {
		h := hists[r]
		for i, b := range LatencyBuckets {
			fmt.Fprintf(w, "privrec_http_request_duration_seconds_bucket{route=%q,le=%q} %d\n", r, fmt.Sprint(b), h.buckets[i].Load())
		}
		n := h.count.Load()
		fmt.Fprintf(w, "privrec_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, n)
		fmt.Fprintf(w, "privrec_http_request_duration_seconds_sum{route=%q} %g\n", r, float64(h.sumNano.Load())/1e9)
		fmt.Fprintf(w, "privrec_http_request_duration_seconds_count{route=%q} %d\n", r, n)
	}
	fmt.Fprintln(w, "# HELP privrec_fallback_answers_total Answers that fell back to popularity (no context evidence), by route.")
	fmt.Fprintln(w, "# TYPE privrec_fallback_answers_total counter")
	for _, r := range fallbacks {
		fmt.Fprintf(w, "privrec_fallback_answers_total{route=%q} %d\n", r, fallbackCounts[r])
	}
	if len(results) > 0 {
		fmt.Fprintln(w, "# HELP privrec_ingest_events_total Events offered for ingestion, by result: accepted, or why they were refused.")
		fmt.Fprintln(w, "# TYPE privrec_ingest_events_total counter")
		for _, r := range results {
			fmt.Fprintf(w, "privrec_ingest_events_total{result=%q} %d\n", r, eventCounts[r])
		}
	}
	for _, g := range gauges {
		if math.IsNaN(g.Value) {
			continue
		}
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", g.Name, g.Help, g.Name, g.Name, g.Value)
	}
}
