package recommend

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/pseudonym"
	"github.com/stretchr/testify/require"
)

var (
	testStart  = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	testWindow = Window{Start: testStart, End: testStart.Add(7 * 24 * time.Hour)}
	testNow    = func() time.Time { return testStart.Add(8 * 24 * time.Hour) }
)

// testCatalog has 20 items "i00".."i19"; even items are "even", odd "odd",
// and i19 has no category.
func testCatalog(t testing.TB) *Catalog {
	t.Helper()
	items := make([]Item, 20)
	for i := range items {
		items[i] = Item{ID: fmt.Sprintf("i%02d", i), Name: fmt.Sprintf("Item %d", i)}
		if i < 19 {
			items[i].Category = []string{"even", "odd"}[i%2]
		}
	}
	c, err := NewCatalog(items)
	require.NoError(t, err)
	return c
}

func testCollector(t testing.TB, cat *Catalog, k int) *Collector {
	t.Helper()
	c, err := NewCollector(cat, CollectorOptions{
		Window: testWindow, MaxItemsPerUser: k, Now: testNow,
		SampleKey: [16]byte{1, 2, 3},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	return c
}

func testKeyring(t testing.TB) *pseudonym.Keyring {
	t.Helper()
	kr, err := pseudonym.New(bytes.Repeat([]byte{7}, 32), pseudonym.Options{PeriodLength: 7 * 24 * time.Hour, Epoch: testStart})
	require.NoError(t, err)
	return kr
}

func sid(n int) pseudonym.ID {
	var id pseudonym.ID
	copy(id[:], fmt.Sprintf("subject-%08d", n))
	return id
}

func testLedger(t testing.TB) *dp.FileLedger {
	t.Helper()
	l, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{
		Budget: dp.Budget{Epsilon: 1000, Delta: 1e-3},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// nearlyExact are parameters whose noise is far below 1, so counts come out
// exact with overwhelming probability: for unit tests of the plumbing, not of
// privacy.
func nearlyExact(k int) dp.Params {
	return dp.Params{Epsilon: dp.MaxEpsilon, Delta: 1e-4, MaxItemsPerUser: k, HeadSize: 20}
}

// clusteredModel releases an exact (non-private) model in which users buy within clusters:
// {i00,i02,i04}, {i01,i03,i05}, and i10 alone; i06..i09 are popular alone.
func clusteredModel(t testing.TB) *Model {
	t.Helper()
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	add := func(u int, items ...string) {
		for _, it := range items {
			require.NoError(t, c.Add(Event{Subject: sid(u), Item: it, Kind: KindPurchase, Time: testStart.Add(time.Hour)}))
		}
	}
	u := 0
	for range 60 {
		add(u, "i00", "i02", "i04")
		u++
	}
	for range 40 {
		add(u, "i01", "i03", "i05")
		u++
	}
	for range 20 {
		add(u, "i00", "i02")
		u++
	}
	for i := range 100 {
		add(u, fmt.Sprintf("i%02d", 6+i%4))
		u++
	}
	add(u, "i10")
	m, err := c.ReleaseNonPrivate(dp.Params{MaxItemsPerUser: 4, HeadSize: 20})
	require.NoError(t, err)
	return m
}
