package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/internal/httpx"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

var (
	modelOnce sync.Once
	models    [2]*recommend.Model
)

// sampleModels returns two exact (non-private) models of the embedded sample,
// built once, so responses are deterministic.
func sampleModels(t testing.TB) [2]*recommend.Model {
	t.Helper()
	modelOnce.Do(func() {
		for i := range models {
			cat, err := sampledata.Catalog()
			require.NoError(t, err)
			col, err := collect.New(cat, collect.Options{
				Window: sampledata.Window, MaxClockSkew: -1, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			kr, err := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: sampledata.KeyPeriod, Epoch: sampledata.Window.Start})
			require.NoError(t, err)
			ing, err := collect.NewIngestor(col, kr)
			require.NoError(t, err)
			evs, err := sampledata.Events()
			require.NoError(t, err)
			for n := 0; ; n++ {
				e, err := evs.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if i == 1 && n%2 == 0 {
					continue // a second, different model
				}
				require.NoError(t, ing.Add(e))
			}
			models[i], err = release.Exact(col, release.Options{HeadSize: 300})
			require.NoError(t, err)
		}
	})
	return models
}

func newTestServer(t testing.TB, m *recommend.Model) (*httptest.Server, *atomic.Pointer[recommend.Model]) {
	t.Helper()
	rec := new(atomic.Pointer[recommend.Model])
	rec.Store(m)
	srv := httptest.NewServer(NewHandler(rec.Load, Options{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 4096}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func do(t testing.TB, method, url, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func TestQueryEndpoints(t *testing.T) {
	srv, _ := newTestServer(t, sampleModels(t)[0])
	var res resultJSON

	code, body := do(t, "GET", srv.URL+"/v1/similar/22697?n=5", "", "")
	require.Equal(t, 200, code, string(body))
	require.NoError(t, json.Unmarshal(body, &res))
	require.Len(t, res.Items, 5)
	assert.Contains(t, []string{"22698", "22699"}, res.Items[0].Item, "another regency teacup goes with the green one")
	assert.Equal(t, "context", res.Items[0].Reason)
	assert.Equal(t, []string{"22697"}, res.Items[0].Because)
	assert.Contains(t, res.Items[0].Name, "REGENCY TEACUP AND SAUCER")
	assert.Equal(t, "non-private", res.Release)

	code, body = do(t, "POST", srv.URL+"/v1/recommend", "application/json",
		`{"context":["22697","22698","nope"],"n":4,"exclude":["22699"],"exclude_categories":["christmas"]}`)
	require.Equal(t, 200, code, string(body))
	res = resultJSON{}
	require.NoError(t, json.Unmarshal(body, &res))
	require.Len(t, res.Items, 4)
	assert.Equal(t, []string{"nope"}, res.Unknown)
	for _, it := range res.Items {
		assert.NotContains(t, []string{"22697", "22698", "22699"}, it.Item)
		assert.NotEqual(t, "christmas", it.Category)
		assert.NotEmpty(t, it.Explanation)
	}

	code, body = do(t, "GET", srv.URL+"/v1/popular?n=3&category=christmas", "", "")
	require.Equal(t, 200, code, string(body))
	res = resultJSON{}
	require.NoError(t, json.Unmarshal(body, &res))
	require.Len(t, res.Items, 3)
	for _, it := range res.Items {
		assert.Equal(t, "christmas", it.Category)
		assert.Equal(t, "popular", it.Reason)
	}
	assert.Empty(t, res.UnknownCategories)

	// A category the catalog does not have is named, not silently empty.
	code, body = do(t, "GET", srv.URL+"/v1/popular?n=3&category=chrismas", "", "")
	require.Equal(t, 200, code, string(body))
	res = resultJSON{}
	require.NoError(t, json.Unmarshal(body, &res))
	assert.Empty(t, res.Items)
	assert.Equal(t, []string{"chrismas"}, res.UnknownCategories)

	code, body = do(t, "GET", srv.URL+"/v1/privacy", "", "")
	require.Equal(t, 200, code)
	var rep recommend.Report
	require.NoError(t, json.Unmarshal(body, &rep))
	assert.Equal(t, recommend.ReportFormat, rep.Format)
	assert.False(t, rep.Privacy.DifferentiallyPrivate)

	code, body = do(t, "GET", srv.URL+"/healthz", "", "")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"status":"ok"}`, string(body))
	code, _ = do(t, "GET", srv.URL+"/readyz", "", "")
	assert.Equal(t, 200, code)

	code, body = do(t, "GET", srv.URL+"/metrics", "", "")
	require.Equal(t, 200, code)
	m := string(body)
	assert.Contains(t, m, `privrec_http_requests_total{route="/v1/similar/{item}",code="200"} 1`)
	assert.Contains(t, m, `privrec_http_request_duration_seconds_count{route="/v1/recommend"} 1`)
	assert.Contains(t, m, "privrec_model_loaded 1")
	assert.Contains(t, m, "privrec_model_age_seconds ")
	assert.NotContains(t, m, "22697", "no item or user data in metric labels")
}

func TestErrorResponses(t *testing.T) {
	srv, _ := newTestServer(t, sampleModels(t)[0])
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
		code, message                   string
	}{
		{"unknown route", "GET", "/v2/whatever", "", "", 404, httpx.CodeNotFound, "no such endpoint"},
		{"wrong method", "DELETE", "/v1/popular", "", "", 405, httpx.CodeMethodNotAllowed, "use GET"},
		{"get recommend", "GET", "/v1/recommend", "", "", 405, httpx.CodeMethodNotAllowed, "use POST"},
		{"bad n", "GET", "/v1/popular?n=0", "", "", 400, httpx.CodeBadRequest, "n must be an integer in [1, 100]"},
		{"huge n", "GET", "/v1/similar/22697?n=100000", "", "", 400, httpx.CodeBadRequest, "n must be"},
		{"unknown parameter", "GET", "/v1/popular?user=alice", "", "", 400, httpx.CodeBadRequest, `unknown query parameter "user"`},
		{"bad min_support", "GET", "/v1/popular?min_support=NaN", "", "", 400, httpx.CodeBadRequest, "min_support"},
		{"long item", "GET", "/v1/similar/" + strings.Repeat("x", 300), "", "", 400, httpx.CodeBadRequest, "item must be"},
		{"user field refused", "POST", "/v1/recommend", "application/json", `{"context":["22697"],"user":"alice"}`, 400, httpx.CodeBadRequest, `unknown field "user"`},
		{"not json", "POST", "/v1/recommend", "text/plain", `context=a`, 415, httpx.CodeUnsupportedType, "application/json"},
		{"syntax", "POST", "/v1/recommend", "application/json", `{"context":[`, 400, httpx.CodeBadRequest, "invalid JSON"},
		{"wrong type", "POST", "/v1/recommend", "application/json", `{"context":"22697"}`, 400, httpx.CodeBadRequest, `field "context" has the wrong type`},
		{"two values", "POST", "/v1/recommend", "application/json", `{} {}`, 400, httpx.CodeBadRequest, "one JSON value"},
		{"too large", "POST", "/v1/recommend", "application/json", `{"context":["` + strings.Repeat("a", 5000) + `"]}`, 413, httpx.CodeTooLarge, "larger than 4096"},
		{"too many context items", "POST", "/v1/recommend", "application/json", `{"context":[` + strings.Repeat(`"a",`, 60) + `"a"]}`, 400, httpx.CodeBadRequest, "at most 50 context items"},
		{"negative n", "POST", "/v1/recommend", "application/json", `{"n":-1}`, 400, httpx.CodeBadRequest, "n must be"},
		{"zero n, as in the query string", "POST", "/v1/recommend", "application/json", `{"n":0}`, 400, httpx.CodeBadRequest, "n must be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, srv.URL+tc.path, tc.ctype, tc.body)
			assert.Equal(t, tc.status, status, string(body))
			var eb httpx.ErrorBody
			require.NoError(t, json.Unmarshal(body, &eb), string(body))
			assert.Equal(t, tc.code, eb.Error.Code)
			assert.Contains(t, eb.Error.Message, tc.message)
			assert.NotContains(t, eb.Error.Message, "alice")
		})
	}
}

// A nil model source is a handler with no model, not a panic.
func TestNilModelSource(t *testing.T) {
	h := NewHandler(nil, Options{Logger: slog.New(slog.DiscardHandler)})
	for _, path := range []string{"/readyz", "/v1/popular", "/metrics", "/healthz"} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", path, nil))
		switch path {
		case "/metrics":
			assert.Equal(t, 200, rr.Code)
			assert.Contains(t, rr.Body.String(), "privrec_model_loaded 0")
		case "/healthz":
			assert.Equal(t, 200, rr.Code)
		default:
			assert.Equal(t, 503, rr.Code, path)
		}
	}
}

func TestNoModelYet(t *testing.T) {
	srv, rec := newTestServer(t, nil)
	for _, path := range []string{"/readyz", "/v1/popular", "/v1/privacy", "/v1/similar/x"} {
		status, body := do(t, "GET", srv.URL+path, "", "")
		assert.Equal(t, 503, status, path)
		assert.Contains(t, string(body), httpx.CodeNoModel)
	}
	status, _ := do(t, "GET", srv.URL+"/healthz", "", "")
	assert.Equal(t, 200, status, "alive without a model")
	_, body := do(t, "GET", srv.URL+"/metrics", "", "")
	assert.Contains(t, string(body), "privrec_model_loaded 0")
	rec.Store(sampleModels(t)[0])
	status, body = do(t, "GET", srv.URL+"/readyz", "", "")
	assert.Equal(t, 200, status)
	assert.Contains(t, string(body), `"status":"ready"`)
}

// Observe hears of every request by route pattern, with the fallback flag
// set exactly when the answer says "fallback": true; a Metrics handler
// replaces the built-in /metrics; the built-in one counts fallbacks.
func TestObserveAndMetricsHooks(t *testing.T) {
	m := sampleModels(t)[0]
	type seen struct {
		route    string
		status   int
		fallback bool
	}
	var mu sync.Mutex
	var got []seen
	opts := Options{Logger: slog.New(slog.DiscardHandler), Observe: func(route string, status int, _ time.Duration, fallback bool) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{route, status, fallback})
	}}
	srv := httptest.NewServer(NewHandler(func() *recommend.Model { return m }, opts))
	defer srv.Close()
	_, body := do(t, "POST", srv.URL+"/v1/recommend", "application/json", `{"context":["NOT-AN-ITEM"],"n":3}`)
	var res resultJSON
	require.NoError(t, json.Unmarshal(body, &res))
	require.True(t, res.Fallback, "an unknown context has no evidence")
	_, body = do(t, "POST", srv.URL+"/v1/recommend", "application/json", `{"context":["22697"],"n":3}`)
	require.NoError(t, json.Unmarshal(body, &res))
	require.False(t, res.Fallback)
	do(t, "GET", srv.URL+"/v1/similar/SECRET-ITEM", "", "")
	do(t, "GET", srv.URL+"/nowhere", "", "")
	mu.Lock()
	assert.Equal(t, []seen{
		{"/v1/recommend", 200, true},
		{"/v1/recommend", 200, false},
		{"/v1/similar/{item}", 200, true}, // an unknown item: popular items, "unknown" lists it
		{"unknown", 404, false},
	}, got)
	mu.Unlock()
	_, body = do(t, "GET", srv.URL+"/metrics", "", "")
	assert.Contains(t, string(body), `privrec_fallback_answers_total{route="/v1/recommend"} 1`)

	opts.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "custom 1\n") })
	srv2 := httptest.NewServer(NewHandler(func() *recommend.Model { return m }, opts))
	defer srv2.Close()
	status, body := do(t, "GET", srv2.URL+"/metrics", "", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, "custom 1\n", string(body))
}

// Many clients hammer /v1/recommend while the model is swapped back and
// forth: no request may fail.
func TestRecommendDuringModelSwaps(t *testing.T) {
	ms := sampleModels(t)
	srv, rec := newTestServer(t, ms[0])
	var failed, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := srv.Client()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(srv.URL+"/v1/recommend", "application/json", strings.NewReader(`{"context":["22697"],"n":5}`))
				total.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				var res resultJSON
				if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&res) != nil || len(res.Items) != 5 {
					failed.Add(1)
				}
				resp.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		rec.Store(ms[i%2])
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failed.Load(), "of %d requests", total.Load())
	assert.Greater(t, total.Load(), int64(50))
}

func FuzzRecommendRequest(f *testing.F) {
	f.Add(`{"context":["22697"],"n":3}`)
	f.Add(`{"context":[],"exclude":["a"],"categories":["christmas"],"min_support":1.5}`)
	f.Add(`{"n":1e400}`)
	f.Add(`[`)
	m := sampleModels(f)[0]
	h := NewHandler(func() *recommend.Model { return m }, Options{Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, body string) {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("POST", "/v1/recommend", strings.NewReader(body)))
		switch rr.Code {
		case 200:
			var res resultJSON
			require.NoError(t, json.Unmarshal(rr.Body.Bytes(), &res))
		case 400, 413:
			var eb httpx.ErrorBody
			require.NoError(t, json.Unmarshal(rr.Body.Bytes(), &eb))
			require.NotEmpty(t, eb.Error.Code)
		default:
			t.Fatalf("status %d for %q", rr.Code, body)
		}
	})
}
