package collect

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

var (
	testStart  = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	testWindow = recommend.Window{Start: testStart, End: testStart.Add(7 * 24 * time.Hour)}
	testNow    = func() time.Time { return testStart.Add(8 * 24 * time.Hour) }
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

func testCollector(t testing.TB, cat *recommend.Catalog, keep int) *Collector {
	t.Helper()
	c, err := New(cat, Options{
		Window: testWindow, Keep: keep, Now: testNow,
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

// itemCounts counts the users per item in the collector's state, without
// taking it.
func (c *Collector) itemCounts() []int64 {
	counts := make([]int64, c.cat.Len())
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.users.each(func(u *user) {
			for _, it := range s.itemsOf(u, c.inline)[:u.n] {
				counts[it]++
			}
		})
		s.mu.Unlock()
	}
	return counts
}
