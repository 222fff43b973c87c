package serving

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/recommend"
)

// testModels returns two models with different release IDs.
func testModels(t *testing.T) (*recommend.Model, *recommend.Model) {
	t.Helper()
	cat, err := recommend.NewCatalog([]recommend.Item{{ID: "a"}, {ID: "b"}, {ID: "c"}})
	require.NoError(t, err)
	var ms [2]*recommend.Model
	for i, id := range []string{"first", "second"} {
		ms[i], err = recommend.NewModel(cat, []float64{3, 2, 1}, recommend.Report{ReleaseID: id})
		require.NoError(t, err)
	}
	return ms[0], ms[1]
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rr := httptest.NewRecorder()
	m.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rr.Code)
	b, err := io.ReadAll(rr.Body)
	require.NoError(t, err)
	return string(b)
}

// With polling off, the reloader follows the file through file-system
// events alone: an atomic replacement is served, a corrupt one is counted
// and ignored.
func TestReloaderFollowsEvents(t *testing.T) {
	first, second := testModels(t)
	path := filepath.Join(t.TempDir(), "model.prm")
	require.NoError(t, recommend.SaveModel(first, path))
	var cur atomic.Pointer[recommend.Model]
	cur.Store(first)
	m := NewMetrics(&cur, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &Reloader{Path: path, Current: &cur, Poll: -1, Settle: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Metrics: m}
	go func() { done <- r.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // let the watch start

	require.NoError(t, recommend.SaveModel(second, path))
	require.Eventually(t, func() bool { return cur.Load().Report().ReleaseID == "second" }, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, scrape(t, m), `privrec_model_reloads_total{result="ok"} 1`)

	require.NoError(t, os.WriteFile(path+".tmp", []byte("garbage"), 0o644))
	require.NoError(t, os.Rename(path+".tmp", path))
	require.Eventually(t, func() bool {
		return strings.Contains(scrape(t, m), `privrec_model_reloads_total{result="failed"} 1`)
	}, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, "second", cur.Load().Report().ReleaseID, "a corrupt file leaves the model in place")

	cancel()
	require.NoError(t, <-done)
}

// Polling alone notices a version that sends no event the reloader waits
// for (here: only the modification time changes).
func TestReloaderPolls(t *testing.T) {
	first, _ := testModels(t)
	path := filepath.Join(t.TempDir(), "model.prm")
	require.NoError(t, recommend.SaveModel(first, path))
	var cur atomic.Pointer[recommend.Model]
	m := NewMetrics(&cur, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &Reloader{Path: path, Current: &cur, Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Metrics: m}
	go func() { _ = r.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(path, later, later))
	require.Eventually(t, func() bool { return cur.Load() != nil }, 10*time.Second, 5*time.Millisecond)
}

// The registry has the Go, process and build collectors, the model gauges,
// and request counters labelled by route pattern only.
func TestMetrics(t *testing.T) {
	first, _ := testModels(t)
	var cur atomic.Pointer[recommend.Model]
	m := NewMetrics(&cur, func() time.Time { return first.Report().CreatedAt.Add(90 * time.Second) })
	out := scrape(t, m)
	assert.Contains(t, out, "privrec_model_loaded 0")
	assert.Contains(t, out, "privrec_model_age_seconds NaN")
	cur.Store(first)
	m.Observe("/v1/recommend", 200, 3*time.Millisecond, true)
	m.Observe("/v1/recommend", 200, time.Millisecond, false)
	m.Observe("/v1/similar/{item}", 400, time.Millisecond, false)
	out = scrape(t, m)
	for _, want := range []string{
		"go_goroutines ", "go_build_info{", "process_", // collectors
		"privrec_model_loaded 1", "privrec_model_age_seconds 90",
		`privrec_http_requests_total{code="200",route="/v1/recommend"} 2`,
		`privrec_http_requests_total{code="400",route="/v1/similar/{item}"} 1`,
		`privrec_fallback_answers_total{route="/v1/recommend"} 1`,
		`privrec_http_request_duration_seconds_count{route="/v1/recommend"} 2`,
	} {
		assert.Contains(t, out, want)
	}
}
