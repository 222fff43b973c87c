package release

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

var (
	testStart  = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	testWindow = recommend.Window{Start: testStart, End: testStart.Add(7 * 24 * time.Hour)}
	testNow    = func() time.Time { return testStart.Add(8 * 24 * time.Hour) }
	quiet      = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// testCatalog has 20 items "i00".."i19"; even items are "even", odd "odd",
// and i19 has no category.
func testCatalog(t testing.TB) *recommend.Catalog {
	t.Helper()
	items := make([]recommend.Item, 20)
	for i := range items {
		items[i] = recommend.Item{ID: fmt.Sprintf("i%02d", i), Name: fmt.Sprintf("Item %d", i)}
		if i < 19 {
			items[i].Category = []string{"even", "odd"}[i%2]
		}
	}
	c, err := recommend.NewCatalog(items)
	require.NoError(t, err)
	return c
}

func testCollector(t testing.TB, cat *recommend.Catalog, keep int) *collect.Collector {
	t.Helper()
	c, err := collect.New(cat, collect.Options{Window: testWindow, Keep: keep, Now: testNow, SampleKey: [16]byte{1, 2, 3}, Logger: quiet})
	require.NoError(t, err)
	return c
}

func sid(n int) pseudonym.ID {
	var id pseudonym.ID
	copy(id[:], fmt.Sprintf("subject-%08d", n))
	return id
}

func testLedger(t testing.TB) *dp.FileLedger {
	t.Helper()
	l, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{
		Budget: dp.Budget{Epsilon: 1000, Delta: 1e-3}, Create: true, Logger: quiet,
	})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// nearlyExact are options whose noise is small (σ ≈ 0.26 on item counts,
// 0.32 on pair counts with K = 4): for unit tests of the plumbing, not of
// privacy. Counts are off by more than 3 with probability below 1e-30.
func nearlyExact(k int) Options {
	return Options{Epsilon: dp.MaxEpsilon, Delta: 1e-4, K: k, HeadSize: 20, Logger: quiet}
}

func add(t testing.TB, c *collect.Collector, u int, item string) {
	t.Helper()
	require.NoError(t, c.Add(collect.Event{Subject: sid(u), Item: item, Kind: events.KindPurchase, Time: testStart.Add(time.Hour)}))
}

// randomWindow adds, for 300 subjects, 1 to 30 random events (duplicates
// included) over testCatalog, and returns each subject's raw item list.
func randomWindow(t testing.TB, c *collect.Collector, seed uint64) map[pseudonym.ID][]uint32 {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	raw := map[pseudonym.ID][]uint32{}
	for u := range 300 {
		for range 1 + rng.IntN(30) {
			// Skewed: low indexes are popular, so pairs carry structure.
			it := uint32(min(rng.IntN(20), rng.IntN(20)))
			raw[sid(u)] = append(raw[sid(u)], it)
			add(t, c, u, fmt.Sprintf("i%02d", it))
		}
	}
	return raw
}

// take ends a collector's window without a ledger, as a test of what a
// release computes from its state.
func take(t testing.TB, c *collect.Collector) *collect.State {
	t.Helper()
	st, err := c.Take(nil)
	require.NoError(t, err)
	return st
}

// ids lists a result's items.
func ids(res *recommend.Result) []string {
	out := make([]string, len(res.Items))
	for i, r := range res.Items {
		out[i] = r.Item
	}
	return out
}

func recommendOK(t testing.TB, m *recommend.Model, q recommend.Query) *recommend.Result {
	t.Helper()
	res := &recommend.Result{}
	require.NoError(t, m.Recommend(res, q))
	return res
}
