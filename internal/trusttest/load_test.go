package trusttest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// TestConcurrentLoad: goroutines add events to consecutive windows while
// earlier windows are released and their models swapped in under running
// queries. No operation may fail, and every window's exact counts must come
// out as if the events had arrived one by one.
func TestConcurrentLoad(t *testing.T) {
	const (
		windows = 4
		users   = 400
		adders  = 4
		readers = 4
	)
	quiet := slog.New(slog.DiscardHandler)
	items := make([]recommend.Item, 30)
	for i := range items {
		items[i] = recommend.Item{ID: fmt.Sprintf("sku-%02d", i), Category: []string{"a", "b", "c"}[i%3]}
	}
	cat, err := recommend.NewCatalog(items)
	require.NoError(t, err)
	day := 24 * time.Hour
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	kr, err := pseudonym.New(make([]byte, 32), pseudonym.Options{PeriodLength: day, Epoch: start})
	require.NoError(t, err)
	ledger, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{Budget: dp.Budget{Epsilon: 100, Delta: 1e-3}, Create: true, Logger: quiet})
	require.NoError(t, err)
	defer ledger.Close()

	// User u in window w has items (u+w)%30, (2u+w)%30, (3u+w)%30: at most 3.
	basket := func(u, w int) []string {
		out := []string{}
		for _, k := range []int{1, 2, 3} {
			id := items[(k*u+w)%30].ID
			dup := false
			for _, o := range out {
				dup = dup || o == id
			}
			if !dup {
				out = append(out, id)
			}
		}
		return out
	}
	expected := func(w int) map[string]float64 {
		c := map[string]float64{}
		for u := range users {
			for _, id := range basket(u, w) {
				c[id]++
			}
		}
		return c
	}

	var rec atomic.Pointer[recommend.Model]
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		failures.Add(1)
		t.Errorf(format, args...)
	}
	stop := make(chan struct{})
	var readersWG sync.WaitGroup
	for range readers {
		readersWG.Add(1)
		go func() {
			defer readersWG.Done()
			var res recommend.Result
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := rec.Load()
				if m == nil {
					continue
				}
				if err := m.Recommend(&res, recommend.Query{Context: []string{"sku-01", "sku-02"}, N: 5, Categories: []string{"a", "b"}}); err != nil || len(res.Items) != 5 {
					fail("query: %v (%d items)", err, len(res.Items))
				}
			}
		}()
	}

	released := make(chan *recommend.Model, windows)
	var releasesWG sync.WaitGroup
	for w := range windows {
		col, err := collect.New(cat, collect.Options{
			Window: recommend.Window{Start: start.Add(time.Duration(w) * day), End: start.Add(time.Duration(w+1) * day)},
			Keep:   3, MaxClockSkew: -1, Logger: quiet})
		require.NoError(t, err)
		ing, err := collect.NewIngestor(col, kr)
		require.NoError(t, err)
		var addWG sync.WaitGroup
		for g := range adders {
			addWG.Add(1)
			go func() {
				defer addWG.Done()
				// Every adder sends every event: four duplicates of each, interleaved.
				for i := range users {
					u := (i + g*97) % users
					for _, id := range basket(u, w) {
						e := events.Event{UserID: fmt.Sprint("user-", u), Item: id, Kind: events.KindPurchase,
							Time: start.Add(time.Duration(w)*day + time.Duration(u)*time.Second)}
						if err := ing.Add(e); err != nil {
							fail("add: %v", err)
						}
					}
				}
			}()
		}
		addWG.Wait()
		releasesWG.Add(1)
		go func() { // release while the next window is being filled
			defer releasesWG.Done()
			var m *recommend.Model
			var err error
			if w == windows-1 {
				m, err = release.Private(context.Background(), col, ledger, release.Options{Epsilon: 10, Delta: 1e-5, K: 3, HeadSize: 30})
			} else {
				m, err = release.Exact(col, release.Options{K: 3, HeadSize: 30})
			}
			if err != nil {
				fail("release %d: %v", w, err)
				return
			}
			rec.Store(m)
			if w < windows-1 {
				released <- m
			}
		}()
	}
	releasesWG.Wait()
	time.Sleep(20 * time.Millisecond)
	close(stop)
	readersWG.Wait()
	close(released)
	require.Zero(t, failures.Load())

	// Exact counts for the non-private windows.
	got := 0
	for m := range released {
		w := -1
		for cand := range windows - 1 {
			if m.Report().Window.Start.Equal(start.Add(time.Duration(cand) * day)) {
				w = cand
			}
		}
		require.GreaterOrEqual(t, w, 0)
		for id, want := range expected(w) {
			pop, ok := m.Popularity(id)
			require.True(t, ok)
			assert.Equal(t, want, pop, "window %d item %s", w, id)
		}
		got++
	}
	assert.Equal(t, windows-1, got)
}
