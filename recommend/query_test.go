package recommend

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/privrec/privrec/internal/race"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ids(res *Result) []string {
	out := make([]string, len(res.Items))
	for i, r := range res.Items {
		out[i] = r.Item
	}
	return out
}

func TestSimilarFindsBoughtTogether(t *testing.T) {
	m := clusteredModel(t)
	res, err := m.Similar("i00", 3, QueryOptions{})
	require.NoError(t, err)
	require.Len(t, res.Items, 3)
	assert.Equal(t, "i02", res.Items[0].Item, "80 users have i00 and i02")
	assert.Equal(t, "i04", res.Items[1].Item)
	for _, r := range res.Items[:2] {
		assert.Equal(t, ReasonContext, r.Reason)
		assert.Equal(t, []string{"i00"}, r.BecauseItems())
		assert.Equal(t, "bought together with i00", r.Explain())
		assert.Greater(t, r.Support, 50.0)
	}
	assert.False(t, res.Fallback)
	assert.Empty(t, res.Unknown)
	// The third result has no pair evidence: it is the most popular other item.
	assert.Equal(t, ReasonPopular, res.Items[2].Reason)
	assert.Greater(t, res.Items[1].Score, res.Items[2].Score)
}

func TestForContextCombinesContextItems(t *testing.T) {
	m := clusteredModel(t)
	res, err := m.ForContext([]string{"i00", "i01", "unknown-sku", "i00"}, 4, QueryOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"unknown-sku"}, res.Unknown)
	got := ids(res)
	assert.Subset(t, got, []string{"i02", "i03", "i04", "i05"})
	assert.NotContains(t, got, "i00", "context items are never recommended")
	for _, r := range res.Items {
		assert.Equal(t, ReasonContext, r.Reason)
		assert.Len(t, r.BecauseItems(), 1)
	}
}

func TestEmptyAndUnknownContextFallsBackToPopular(t *testing.T) {
	m := clusteredModel(t)
	pop, err := m.Popular(5, QueryOptions{})
	require.NoError(t, err)
	assert.False(t, pop.Fallback)
	for _, ctx := range [][]string{{}, {"nope", "zilch"}} {
		res, err := m.ForContext(ctx, 5, QueryOptions{})
		require.NoError(t, err)
		assert.True(t, res.Fallback)
		assert.Equal(t, ids(pop), ids(res))
		for _, r := range res.Items {
			assert.Equal(t, ReasonPopular, r.Reason)
			assert.Equal(t, "popular with other shoppers", r.Explain())
		}
	}
	// i10 was bought once: it has no released pairs, so its "similar" items
	// are the popular ones.
	res, err := m.Similar("i10", 3, QueryOptions{})
	require.NoError(t, err)
	assert.True(t, res.Fallback)
	// Popular itself is ordered by released counts: i00 and i02 (80 users) first.
	assert.ElementsMatch(t, []string{"i00", "i02"}, ids(pop)[:2])
}

func TestQueryFilters(t *testing.T) {
	m := clusteredModel(t)
	cases := []struct {
		name    string
		opts    QueryOptions
		ctx     []string
		allowed func(id string) bool
	}{
		{"exclude", QueryOptions{Exclude: []string{"i02", "unknown"}}, []string{"i00"},
			func(id string) bool { return id != "i02" && id != "i00" }},
		{"category allow", QueryOptions{Categories: []string{"odd"}}, []string{"i00"},
			func(id string) bool { return id[2]%2 == 1 && id != "i19" }},
		{"unknown category allows nothing", QueryOptions{Categories: []string{"purple"}}, []string{"i00"},
			func(string) bool { return false }},
		{"category deny", QueryOptions{ExcludeCategories: []string{"even"}}, []string{"i00"},
			func(id string) bool { return id[2]%2 == 1 || id == "i19" || id[1] == '1' && id[2]%2 == 1 }},
		{"available", QueryOptions{Available: func(id string) bool { return id != "i04" }}, []string{"i00"},
			func(id string) bool { return id != "i04" && id != "i00" }},
		{"min support", QueryOptions{MinSupport: 50}, []string{"i00"},
			func(id string) bool { return id == "i02" || id == "i04" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := m.ForContext(tc.ctx, 20, tc.opts)
			require.NoError(t, err)
			for _, r := range res.Items {
				assert.True(t, tc.allowed(r.Item), "%s not allowed", r.Item)
			}
			pop, err := m.Popular(20, tc.opts)
			require.NoError(t, err)
			for _, r := range pop.Items {
				assert.True(t, tc.allowed(r.Item) || containsString(tc.ctx, r.Item), "popular %s not allowed", r.Item)
			}
		})
	}
	// Popular within one category uses that category's ranking.
	res, err := m.Popular(3, QueryOptions{Categories: []string{"odd"}})
	require.NoError(t, err)
	assert.Equal(t, "i01", res.Items[0].Item)
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
	for _, n := range []int{0, -1, MaxResults + 1} {
		_, err := m.Popular(n, QueryOptions{})
		require.ErrorIs(t, err, ErrBadQuery)
	}
	_, err := m.ForContext(make([]string, MaxContextItems+1), 5, QueryOptions{})
	require.ErrorIs(t, err, ErrBadQuery)
	// Hostile strings are just unknown items.
	res, err := m.ForContext([]string{"", "\xff", strings.Repeat("x", 1<<20)}, 5, QueryOptions{})
	require.NoError(t, err)
	assert.Len(t, res.Unknown, 3)
	assert.True(t, res.Fallback)
}

func TestRecommendationJSON(t *testing.T) {
	r := Recommendation{Item: "i02", Score: 0.5, Reason: ReasonContext, Because: [MaxExplain]string{"i00", "i01"}, Support: 80}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"item":"i02","score":0.5,"reason":"context","because":["i00","i01"],"support":80,
		"explanation":"bought together with i00 and i01"}`, string(b))
	r3 := Recommendation{Reason: ReasonContext, Because: [MaxExplain]string{"a", "b", "c"}}
	assert.Equal(t, "bought together with a, b and c", r3.Explain())
}

func TestForContextIntoAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; .ci/run runs this test without -race")
	}
	m := clusteredModel(t)
	var res Result
	ctx := []string{"i00", "i01", "unknown"}
	opts := QueryOptions{Exclude: []string{"i03"}, Categories: []string{"even", "odd"}}
	require.NoError(t, m.ForContextInto(&res, ctx, 5, opts))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = m.ForContextInto(&res, ctx, 5, opts) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = m.SimilarInto(&res, "i00", 5, opts) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = m.PopularInto(&res, 5, opts) }))
}

// Queries keep working, with no error, while models are swapped under them.
func TestRecommenderHotSwap(t *testing.T) {
	a, b := clusteredModel(t), clusteredModel(t)
	r := NewRecommender(nil)
	var res Result
	require.ErrorIs(t, r.ForContextInto(&res, nil, 3, QueryOptions{}), ErrNoModel)
	r.Swap(a)
	var failures atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res Result
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.ForContextInto(&res, []string{"i00"}, 3, QueryOptions{}); err != nil || len(res.Items) != 3 {
					failures.Add(1)
				}
			}
		}()
	}
	for i := range 200 {
		if i%2 == 0 {
			r.Swap(b)
		} else {
			r.Swap(a)
		}
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load())
	assert.Same(t, a, r.Swap(nil))
}

func BenchmarkForContext(b *testing.B) {
	m := clusteredModel(b)
	for _, ctx := range [][]string{{"i00"}, {"i00", "i01", "i02", "i03", "i05"}} {
		b.Run(strings.Join(ctx, "+"), func(b *testing.B) {
			var res Result
			b.ReportAllocs()
			for b.Loop() {
				_ = m.ForContextInto(&res, ctx, 10, QueryOptions{})
			}
		})
	}
}
