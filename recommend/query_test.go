package recommend_test

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/internal/race"
	"github.com/privrec/privrec/recommend"
)

func ids(res *recommend.Result) []string {
	out := make([]string, len(res.Items))
	for i, r := range res.Items {
		out[i] = r.Item
	}
	return out
}

func TestSimilarFindsBoughtTogether(t *testing.T) {
	m := clusteredModel(t)
	res := recommendOK(t, m, recommend.Query{Context: []string{"i00"}, N: 3})
	require.Len(t, res.Items, 3)
	assert.Equal(t, "i02", res.Items[0].Item, "80 users have i00 and i02")
	assert.Equal(t, "i04", res.Items[1].Item)
	for _, r := range res.Items[:2] {
		assert.Equal(t, recommend.ReasonContext, r.Reason)
		assert.Equal(t, []string{"i00"}, r.BecauseItems())
		assert.Equal(t, "bought together with i00", r.Explain())
		assert.Greater(t, r.Support, 50.0)
	}
	assert.False(t, res.Fallback)
	assert.Empty(t, res.Unknown)
	// The third result has no pair evidence: it is the most popular other item.
	assert.Equal(t, recommend.ReasonPopular, res.Items[2].Reason)
	assert.Greater(t, res.Items[1].Score, res.Items[2].Score)
}

func TestForContextCombinesContextItems(t *testing.T) {
	m := clusteredModel(t)
	res := recommendOK(t, m, recommend.Query{Context: []string{"i00", "i01", "unknown-sku", "i00"}, N: 4})
	assert.Equal(t, []string{"unknown-sku"}, res.Unknown)
	got := ids(res)
	assert.Subset(t, got, []string{"i02", "i03", "i04", "i05"})
	assert.NotContains(t, got, "i00", "context items are never recommended")
	for _, r := range res.Items {
		assert.Equal(t, recommend.ReasonContext, r.Reason)
		assert.Len(t, r.BecauseItems(), 1)
	}
}

func TestEmptyAndUnknownContextFallsBackToPopular(t *testing.T) {
	m := clusteredModel(t)
	pop := recommendOK(t, m, recommend.Query{N: 5})
	assert.False(t, pop.Fallback, "a query without context asks for popular items")
	assert.Equal(t, ids(pop), ids(recommendOK(t, m, recommend.Query{Context: []string{}, N: 5})), "nil and empty contexts are the same")
	for _, ctx := range [][]string{{"nope"}, {"nope", "zilch"}} {
		res := recommendOK(t, m, recommend.Query{Context: ctx, N: 5})
		assert.True(t, res.Fallback)
		assert.Equal(t, ids(pop), ids(res))
		for _, r := range res.Items {
			assert.Equal(t, recommend.ReasonPopular, r.Reason)
			assert.Equal(t, "popular with other shoppers", r.Explain())
		}
	}
	// i10 was bought once: it has no released pairs, so its "similar" items
	// are the popular ones.
	res := recommendOK(t, m, recommend.Query{Context: []string{"i10"}, N: 3})
	assert.True(t, res.Fallback)
	// Popular itself is ordered by released counts: i00 and i02 (80 users) first.
	assert.ElementsMatch(t, []string{"i00", "i02"}, ids(pop)[:2])
}

func TestQueryFilters(t *testing.T) {
	m := clusteredModel(t)
	ctx := []string{"i00"}
	cases := []struct {
		name    string
		q       recommend.Query
		allowed func(id string) bool
	}{
		{"exclude", recommend.Query{Exclude: []string{"i02", "unknown"}},
			func(id string) bool { return id != "i02" && id != "i00" }},
		{"category allow", recommend.Query{Categories: []string{"odd"}},
			func(id string) bool { return id[2]%2 == 1 && id != "i19" }},
		{"unknown category allows nothing", recommend.Query{Categories: []string{"purple"}},
			func(string) bool { return false }},
		{"category deny", recommend.Query{ExcludeCategories: []string{"even"}},
			func(id string) bool { return id[2]%2 == 1 || id == "i19" || id[1] == '1' && id[2]%2 == 1 }},
		{"available", recommend.Query{Available: func(id string) bool { return id != "i04" }},
			func(id string) bool { return id != "i04" && id != "i00" }},
		{"min support", recommend.Query{MinSupport: 50},
			func(id string) bool { return id == "i02" || id == "i04" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.N, q.Context = 20, ctx
			for _, r := range recommendOK(t, m, q).Items {
				assert.True(t, tc.allowed(r.Item), "%s not allowed", r.Item)
			}
			q.Context = nil
			for _, r := range recommendOK(t, m, q).Items {
				assert.True(t, tc.allowed(r.Item) || containsString(ctx, r.Item), "popular %s not allowed", r.Item)
			}
		})
	}
	// Popular within one category uses that category's ranking.
	res := recommendOK(t, m, recommend.Query{N: 3, Categories: []string{"odd"}})
	assert.Equal(t, "i01", res.Items[0].Item)
	assert.Empty(t, res.UnknownCategories)
	// Categories the catalog does not have are named, not silently empty.
	res = recommendOK(t, m, recommend.Query{N: 3, Categories: []string{"purple", "odd"}, ExcludeCategories: []string{"mauve"}})
	assert.Equal(t, []string{"purple", "mauve"}, res.UnknownCategories)
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestQueryRejectsBadArguments(t *testing.T) {
	m := clusteredModel(t)
	var res recommend.Result
	for _, n := range []int{-1, recommend.MaxResults + 1} {
		require.ErrorIs(t, m.Recommend(&res, recommend.Query{N: n}), recommend.ErrBadQuery)
	}
	require.ErrorIs(t, m.Recommend(&res, recommend.Query{Context: make([]string, recommend.MaxContextItems+1)}), recommend.ErrBadQuery)
	// N = 0 means the default.
	require.NoError(t, m.Recommend(&res, recommend.Query{}))
	assert.Len(t, res.Items, 10, "N = 0 means 10")
	// Hostile strings are just unknown items.
	require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{"", "\xff", strings.Repeat("x", 1<<20)}, N: 5}))
	assert.Len(t, res.Unknown, 3)
	assert.True(t, res.Fallback)
}

func TestRecommendationJSON(t *testing.T) {
	r := recommend.Recommendation{Item: "i02", Score: 0.5, Reason: recommend.ReasonContext, Because: [recommend.MaxExplain]string{"i00", "i01"}, Support: 80}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"item":"i02","score":0.5,"reason":"context","because":["i00","i01"],"support":80,
		"explanation":"bought together with i00 and i01"}`, string(b))
	r3 := recommend.Recommendation{Reason: recommend.ReasonContext, Because: [recommend.MaxExplain]string{"a", "b", "c"}}
	assert.Equal(t, "bought together with a, b and c", r3.Explain())
}

func TestRecommendAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; .ci/run runs this test without -race")
	}
	m := clusteredModel(t)
	var res recommend.Result
	q := recommend.Query{Context: []string{"i00", "i01", "unknown"}, N: 5, Exclude: []string{"i03"}, Categories: []string{"even", "odd"}}
	one := recommend.Query{Context: []string{"i00"}, N: 5, MinSupport: 3, Available: func(string) bool { return true }}
	popular := recommend.Query{N: 5, ExcludeCategories: []string{"odd"}}
	typo := recommend.Query{N: 5, Categories: []string{"od"}}
	for _, q := range []recommend.Query{q, one, popular, typo} {
		require.NoError(t, m.Recommend(&res, q))
		assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = m.Recommend(&res, q) }))
	}
}

// Queries keep working, with no error, while models are swapped under them
// through an atomic.Pointer, as a server does (run with -race).
func TestQueriesDuringHotSwap(t *testing.T) {
	a, b := clusteredModel(t), clusteredModel(t)
	var r atomic.Pointer[recommend.Model]
	r.Store(a)
	var failures atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res recommend.Result
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.Load().Recommend(&res, recommend.Query{Context: []string{"i00"}, N: 3}); err != nil || len(res.Items) != 3 {
					failures.Add(1)
				}
			}
		}()
	}
	for i := range 200 {
		if i%2 == 0 {
			r.Store(b)
		} else {
			r.Store(a)
		}
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load())
	assert.Same(t, a, r.Load())
}

func BenchmarkRecommend(b *testing.B) {
	m := clusteredModel(b)
	for _, ctx := range [][]string{{"i00"}, {"i00", "i01", "i02", "i03", "i05"}} {
		b.Run(strings.Join(ctx, "+"), func(b *testing.B) {
			var res recommend.Result
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Recommend(&res, recommend.Query{Context: ctx, N: 10})
			}
		})
	}
}

// A reused Result holds no references to a previous, longer answer.
func TestReusedResultKeepsNothingStale(t *testing.T) {
	m := clusteredModel(t)
	var res recommend.Result
	require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{"i00"}, N: 10}))
	require.Len(t, res.Items, 10)
	require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{"i01"}, N: 3}))
	require.Len(t, res.Items, 3)
	for i, r := range res.Items[3:10] {
		assert.Zero(t, r, "entry %d beyond the answer", 3+i)
	}
	require.Error(t, m.Recommend(&res, recommend.Query{N: -1}))
	assert.Empty(t, res.Items)
	for i, r := range res.Items[:3] {
		assert.Zero(t, r, "entry %d after a refused query", i)
	}
}
