package recommend_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

var (
	testStart  = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	testWindow = recommend.Window{Start: testStart, End: testStart.Add(7 * 24 * time.Hour)}
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

func sid(n int) pseudonym.ID {
	var id pseudonym.ID
	copy(id[:], fmt.Sprintf("subject-%08d", n))
	return id
}

// clusteredModel releases an exact (non-private) model in which users buy
// within clusters: {i00,i02,i04}, {i01,i03,i05}, and i10 alone; i06..i09
// are popular alone.
func clusteredModel(t testing.TB) *recommend.Model {
	t.Helper()
	c, err := collect.New(testCatalog(t), collect.Options{Window: testWindow, Keep: 4, SampleKey: [16]byte{1, 2, 3},
		Now: func() time.Time { return testWindow.End }, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	add := func(u int, items ...string) {
		for _, it := range items {
			require.NoError(t, c.Add(collect.Event{Subject: sid(u), Item: it, Kind: events.KindPurchase, Time: testStart.Add(time.Hour)}))
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
	m, err := release.Exact(c, release.Options{K: 4, HeadSize: 20, Mechanisms: release.Popularity | release.Pairs})
	require.NoError(t, err)
	return m
}

// recommend runs a query and fails the test on error.
func recommendOK(t testing.TB, m *recommend.Model, q recommend.Query) *recommend.Result {
	t.Helper()
	res := &recommend.Result{}
	require.NoError(t, m.Recommend(res, q))
	return res
}
