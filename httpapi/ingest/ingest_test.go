package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

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

type recordingSink struct {
	mu     sync.Mutex
	events []events.Event
}

func (s *recordingSink) Add(e events.Event) error {
	switch e.Item {
	case "bad":
		return collect.ErrUnknownItem
	case "old":
		return fmt.Errorf("event at %v: %w", e.Time, collect.ErrOutsideWindow)
	case "late":
		return collect.ErrWindowReleased
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	return nil
}

// batchingSink is a recordingSink with AddBatch: the handler must send a
// request's decoded events in one call and map refusals back to request
// indexes.
type batchingSink struct {
	recordingSink
	batches int
}

func (s *batchingSink) AddBatch(evs []events.Event, refused func(int, error)) int {
	s.batches++
	n := 0
	for i, e := range evs {
		if err := s.Add(e); err != nil {
			refused(i, err)
			continue
		}
		n++
	}
	return n
}

// sinks are the handler's two paths: event by event, and one batch per
// request.
func sinks() map[string]interface {
	Sink
	recorded() []events.Event
} {
	return map[string]interface {
		Sink
		recorded() []events.Event
	}{"Add": &recordingSink{}, "AddBatch": &batchingSink{}}
}

func (s *recordingSink) recorded() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

func TestIngestHandler(t *testing.T) {
	for name, sink := range sinks() {
		t.Run(name, func(t *testing.T) { testIngestHandler(t, sink) })
	}
	b := &batchingSink{}
	testIngestHandler(t, b)
	assert.Equal(t, 2, b.batches, "one AddBatch per request with events")
}

func testIngestHandler(t *testing.T, sink interface {
	Sink
	recorded() []events.Event
}) {
	var logs bytes.Buffer
	srv := httptest.NewServer(NewHandler(sink, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), MaxEvents: 3}))
	defer srv.Close()

	status, body := do(t, "POST", srv.URL+"/v1/events", "application/json", `{"events":[
		{"user":"alice@example.com","item":"22697","kind":"cart","time":"2026-11-29T10:00:00Z"},
		{"user":"bob@example.com","item":"bad","time":"2026-11-29T10:00:00Z"},
		{"user":"carol@example.com","item":"22698","time":"yesterday"}]}`)
	require.Equal(t, 200, status, string(body))
	var resp response
	require.NoError(t, json.Unmarshal(body, &resp))
	assert.Equal(t, 1, resp.Accepted)
	require.Len(t, resp.Rejected, 2)
	assert.Equal(t, 1, resp.Rejected[0].Index)
	assert.Equal(t, 2, resp.Rejected[1].Index)
	assert.Contains(t, resp.Rejected[1].Error, "unrecognized time")
	require.Len(t, sink.recorded(), 1)
	assert.Equal(t, events.KindCart, sink.recorded()[0].Kind)
	for _, leak := range []string{"alice", "bob", "carol"} {
		assert.NotContains(t, string(body), leak)
		assert.NotContains(t, logs.String(), leak)
	}

	// An unknown field refuses the event (and only it), as a bad line of a
	// file does: nothing unexpected is ever stored.
	status, body = do(t, "POST", srv.URL+"/v1/events", "application/json",
		`{"events":[{"user":"a","item":"b","time":"2026-11-29T10:00:00Z","email":"a@b"},{"user":"d","item":"22423","time":"2026-11-29 10:00:00"}]}`)
	require.Equal(t, 200, status, string(body))
	resp = response{}
	require.NoError(t, json.Unmarshal(body, &resp))
	assert.Equal(t, 1, resp.Accepted, "the file time layout is accepted here too")
	require.Len(t, resp.Rejected, 1)
	assert.Contains(t, resp.Rejected[0].Error, `unknown field "email"`)
	status, body = do(t, "POST", srv.URL+"/v1/events", "application/json", `{"events":[],"user":"x"}`)
	assert.Equal(t, 400, status, "unknown fields of the request are refused")
	assert.Contains(t, string(body), `unknown field \"user\"`)
	status, _ = do(t, "POST", srv.URL+"/v1/events", "application/json", `{"events":[{},{},{},{}]}`)
	assert.Equal(t, 400, status)
	status, _ = do(t, "GET", srv.URL+"/v1/events", "", "")
	assert.Equal(t, 405, status)
	status, _ = do(t, "GET", srv.URL+"/v1/popular", "", "")
	assert.Equal(t, 404, status, "the ingestion handler serves no queries")
}

// /metrics counts the events offered, by result: accepted, malformed, or
// the sink's reason for refusing them.
func TestIngestCountsEventsByResult(t *testing.T) {
	for name, sink := range sinks() {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(NewHandler(sink, Options{Logger: slog.New(slog.DiscardHandler)}))
			defer srv.Close()
			status, body := do(t, "POST", srv.URL+"/v1/events", "application/json", `{"events":[
		{"user":"a","item":"22697","time":"2026-11-29T10:00:00Z"},
		{"user":"c","item":"bad","time":"2026-11-29T10:00:00Z"},
		{"user":"b","item":"22698","time":"2026-11-29T10:00:00Z"},
		{"user":"d","item":"old","time":"2026-11-29T10:00:00Z"},
		{"user":"g","item":"22697","time":"someday"},
		{"user":"e","item":"old","time":"2026-11-29T10:00:00Z"},
		{"user":"f","item":"late","time":"2026-11-29T10:00:00Z"}]}`)
			require.Equal(t, 200, status, string(body))
			var resp response
			require.NoError(t, json.Unmarshal(body, &resp))
			assert.Equal(t, 2, resp.Accepted)
			var at []int
			for _, r := range resp.Rejected {
				at = append(at, r.Index)
			}
			assert.Equal(t, []int{1, 3, 4, 5, 6}, at, "refused and malformed events by request index, in order")
			_, body = do(t, "GET", srv.URL+"/metrics", "", "")
			for _, want := range []string{
				`privrec_ingest_events_total{result="accepted"} 2`,
				`privrec_ingest_events_total{result="malformed"} 1`,
				`privrec_ingest_events_total{result="unknown_item"} 1`,
				`privrec_ingest_events_total{result="outside_window"} 2`,
				`privrec_ingest_events_total{result="window_released"} 1`,
			} {
				assert.Contains(t, string(body), want)
			}
		})
	}
}

func FuzzIngestRequest(f *testing.F) {
	f.Add(`{"events":[{"user":"u","item":"i","kind":"view","time":"2026-11-29T10:00:00Z"}]}`)
	f.Add(`{"events":[{"user":"","item":"","kind":"x","time":""}]}`)
	h := NewHandler(&recordingSink{}, Options{Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, body string) {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("POST", "/v1/events", strings.NewReader(body)))
		require.Contains(t, []int{200, 400, 413}, rr.Code)
		require.True(t, json.Valid(rr.Body.Bytes()))
	})
}

// TestAcceptsWhatFilesAccept sends the same JSON events over HTTP and as a
// JSON Lines file: each is accepted by both or refused by both, with the
// same decoded event.
func TestAcceptsWhatFilesAccept(t *testing.T) {
	lines := []string{
		`{"user":"u1","item":"i1","kind":"cart","time":"2026-11-02T10:00:00Z"}`,
		`{"user":"u2","item":"i2","time":"2026-11-02 10:00:00"}`,
		`{"user":"u3","item":"i3","time":"2026-11-02"}`,
		`{"user":"u4","item":"i4","time":"2026-11-02T11:00:00+01:00"}`,
		`{"user":"u5","item":"i5"}`,
		`{"user":"u6","item":"i6","kind":"smell","time":"2026-11-02"}`,
		`{"user":"u7","item":"","time":"2026-11-02"}`,
		`{"user":"u8","item":"i8","time":"2026-11-02","email":"x"}`,
		`{"user":8,"item":"i8","time":"2026-11-02"}`,
	}
	var fromFile []string
	r := events.NewReader(strings.NewReader(strings.Join(lines, "\n")), events.FormatJSONLines, events.ReaderOptions{})
	for range lines {
		e, err := r.Next()
		if err != nil {
			fromFile = append(fromFile, "refused")
			continue
		}
		fromFile = append(fromFile, e.UserID+" "+e.Item+" "+e.Kind.String()+" "+e.Time.UTC().String())
	}
	sink := &recordingSink{}
	srv := httptest.NewServer(NewHandler(sink, Options{Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	status, body := do(t, "POST", srv.URL+"/v1/events", "application/json", `{"events":[`+strings.Join(lines, ",")+`]}`)
	require.Equal(t, 200, status, string(body))
	var resp response
	require.NoError(t, json.Unmarshal(body, &resp))
	refused := map[int]bool{}
	for _, r := range resp.Rejected {
		refused[r.Index] = true
	}
	var overHTTP []string
	k := 0
	for i := range lines {
		if refused[i] {
			overHTTP = append(overHTTP, "refused")
			continue
		}
		e := sink.events[k]
		k++
		overHTTP = append(overHTTP, e.UserID+" "+e.Item+" "+e.Kind.String()+" "+e.Time.UTC().String())
	}
	assert.Equal(t, fromFile, overHTTP)
	assert.Equal(t, 4, resp.Accepted)
}

// syncingSink records, for each Sync, how many events it had been given.
type syncingSink struct {
	recordingSink
	syncedAt []int
	fail     error
}

func (s *syncingSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncedAt = append(s.syncedAt, len(s.events))
	return s.fail
}

// An acknowledgement means the accepted events were synced first; a
// failed sync fails the request; NoSync and requests with nothing
// accepted do not sync.
func TestIngestSyncsBeforeAcknowledging(t *testing.T) {
	event := `{"user":"alice@example.com","item":"22697","time":"2026-11-29T10:00:00Z"}`
	bad := `{"user":"bob@example.com","item":"bad","time":"2026-11-29T10:00:00Z"}`
	quiet := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name       string
		noSync     bool
		fail       error
		body       string
		wantStatus int
		wantSyncs  []int
	}{
		{"two events", false, nil, `{"events":[` + event + `,` + event + `]}`, http.StatusOK, []int{2}},
		{"nothing accepted", false, nil, `{"events":[` + bad + `]}`, http.StatusOK, nil},
		{"no sync", true, nil, `{"events":[` + event + `]}`, http.StatusOK, nil},
		{"sync fails", false, io.ErrShortWrite, `{"events":[` + event + `]}`, http.StatusInternalServerError, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &syncingSink{fail: tc.fail}
			srv := httptest.NewServer(NewHandler(sink, Options{Logger: quiet, NoSync: tc.noSync}))
			defer srv.Close()
			status, body := do(t, "POST", srv.URL+"/v1/events", "application/json", tc.body)
			assert.Equal(t, tc.wantStatus, status, "%s", body)
			assert.Equal(t, tc.wantSyncs, sink.syncedAt)
			if tc.fail != nil {
				assert.Contains(t, string(body), "sending the request again is safe")
			}
		})
	}
}

// BenchmarkIngestHandler measures a request of 100 events into a
// collector with a state file, acknowledged after an fsync (the default)
// and without one.
func BenchmarkIngestHandler(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			ing := benchIngestor(b)
			h := NewHandler(ing, Options{NoSync: noSync, Logger: slog.New(slog.DiscardHandler)})
			var body strings.Builder
			body.WriteString(`{"events":[`)
			for i := range 100 {
				if i > 0 {
					body.WriteByte(',')
				}
				fmt.Fprintf(&body, `{"user":"user-%d","item":"i%02d","time":"2026-11-29T10:00:00Z"}`, i, i%20)
			}
			body.WriteString(`]}`)
			payload := body.String()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/event")
		})
	}
}

// benchIngestor is an ingestor over a 20-item catalog whose collector
// keeps its window state in a file.
func benchIngestor(b *testing.B) *collect.Ingestor {
	b.Helper()
	items := make([]recommend.Item, 20)
	for i := range items {
		items[i] = recommend.Item{ID: fmt.Sprintf("i%02d", i)}
	}
	cat, err := recommend.NewCatalog(items)
	require.NoError(b, err)
	kr, err := pseudonym.New(bytes.Repeat([]byte{7}, 32), pseudonym.Options{PeriodLength: 7 * 24 * time.Hour})
	require.NoError(b, err)
	start, end := kr.Bounds(kr.Period(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)))
	col, err := collect.New(cat, collect.Options{Window: recommend.Window{Start: start, End: end}, StateDir: b.TempDir(),
		MaxClockSkew: -1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	b.Cleanup(func() { col.Close() })
	ing, err := collect.NewIngestor(col, kr)
	require.NoError(b, err)
	return ing
}
