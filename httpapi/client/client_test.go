package client_test

import (
	"context"
	"errors"
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
	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/httpapi/client"
	"github.com/privrec/privrec/httpapi/ingest"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

var (
	once  sync.Once
	model *recommend.Model
)

// sampleModel is an exact model of the embedded sample, built once.
func sampleModel(t *testing.T) *recommend.Model {
	t.Helper()
	once.Do(func() {
		cat, err := sampledata.Catalog()
		require.NoError(t, err)
		col, err := collect.New(cat, collect.Options{Window: sampledata.Window, MaxClockSkew: -1, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		kr, err := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: sampledata.KeyPeriod, Epoch: sampledata.Window.Start})
		require.NoError(t, err)
		ing, err := collect.NewIngestor(col, kr)
		require.NoError(t, err)
		evs, err := sampledata.Events()
		require.NoError(t, err)
		for {
			e, err := evs.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			require.NoError(t, ing.Add(e))
		}
		model, err = release.Exact(col, release.Options{HeadSize: 300})
		require.NoError(t, err)
	})
	return model
}

func serve(t *testing.T, m *recommend.Model) *client.Client {
	t.Helper()
	srv := httptest.NewServer(httpapi.NewHandler(func() *recommend.Model { return m }, httpapi.Options{Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, srv.Client())
	require.NoError(t, err)
	return c
}

// names lists a result's items.
func names(items []client.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Item)
	}
	return out
}

func want(t *testing.T, m *recommend.Model, q recommend.Query) []string {
	t.Helper()
	var r recommend.Result
	require.NoError(t, m.Recommend(&r, q))
	var out []string
	for _, it := range r.Items {
		out = append(out, it.Item)
	}
	return out
}

// Every call answers what the model answers in process.
func TestClientAnswersWhatTheModelAnswers(t *testing.T) {
	m := sampleModel(t)
	c := serve(t, m)
	ctx := context.Background()

	r, err := c.Recommend(ctx, client.Query{Context: []string{"22697", "22698", "NOPE"}, N: 5})
	require.NoError(t, err)
	assert.Equal(t, want(t, m, recommend.Query{Context: []string{"22697", "22698"}, N: 5}), names(r.Items))
	assert.Equal(t, []string{"NOPE"}, r.Unknown)
	assert.Equal(t, m.Report().ReleaseID, r.Release)
	require.NotEmpty(t, r.Items)
	assert.NotEmpty(t, r.Items[0].Explanation)

	r, err = c.Similar(ctx, "22423", client.Query{N: 3, Exclude: []string{"22697"}})
	require.NoError(t, err)
	assert.Equal(t, want(t, m, recommend.Query{Context: []string{"22423"}, Exclude: []string{"22697"}, N: 3}), names(r.Items))

	r, err = c.Popular(ctx, client.Query{N: 4, Categories: []string{"kitchen"}})
	require.NoError(t, err)
	assert.Equal(t, want(t, m, recommend.Query{N: 4, Categories: []string{"kitchen"}}), names(r.Items))

	rep, err := c.Privacy(ctx)
	require.NoError(t, err)
	assert.Equal(t, m.Report().ReleaseID, rep.ReleaseID)

	ready, err := c.Ready(ctx)
	require.NoError(t, err)
	assert.True(t, ready)
}

// Error answers become *client.Error with the status and the API's code.
func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	c := serve(t, sampleModel(t))
	r, err := c.Similar(ctx, "NOPE", client.Query{})
	require.NoError(t, err, "an unknown item is not an error")
	assert.Equal(t, []string{"NOPE"}, r.Unknown)
	assert.True(t, r.Fallback)
	var e *client.Error
	_, err = c.Similar(ctx, strings.Repeat("x", 300), client.Query{})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusBadRequest, e.Status)
	_, err = c.Recommend(ctx, client.Query{Context: []string{"22697"}, N: 1000})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusBadRequest, e.Status)
	assert.Equal(t, "bad_request", e.Code)

	none := serve(t, nil)
	ready, err := none.Ready(ctx)
	require.NoError(t, err)
	assert.False(t, ready)
	_, err = none.Popular(ctx, client.Query{})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status)

	for _, bad := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		_, err := client.New(bad, nil)
		assert.Error(t, err, bad)
	}
}

type sink struct {
	mu     sync.Mutex
	added  []events.Event
	synced int
}

func (s *sink) Add(e events.Event) error {
	if e.Item == "NOPE" {
		return collect.ErrUnknownItem
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.added = append(s.added, e)
	return nil
}

func (s *sink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synced++
	return nil
}

// SendEvents reports what the ingestion handler accepted and refused.
func TestSendEvents(t *testing.T) {
	var s sink
	srv := httptest.NewServer(ingest.NewHandler(&s, ingest.Options{Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	c, err := client.New(srv.URL, nil)
	require.NoError(t, err)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	n, rejected, err := c.SendEvents(context.Background(), []client.Event{
		{User: "alice", Item: "22697", Kind: "cart", Time: at},
		{User: "bob", Item: "NOPE", Kind: "view", Time: at},
		{User: "carol", Item: "22698", Kind: "purchase", Time: at},
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	require.Len(t, rejected, 1)
	assert.Equal(t, 1, rejected[0].Index)
	assert.NotContains(t, rejected[0].Error, "bob")
	require.Len(t, s.added, 2)
	assert.Equal(t, "alice", s.added[0].UserID)
	assert.Equal(t, events.KindCart, s.added[0].Kind)
	assert.True(t, s.added[0].Time.Equal(at))
	assert.Equal(t, 1, s.synced, "durable before the answer")
}
