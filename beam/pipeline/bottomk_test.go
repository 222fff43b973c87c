package pipeline

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/pseudonym"
)

// The combiner keeps exactly the items bottomk.Bound (and so a
// collect.Collector) keeps, however the runner splits a user's events into
// partial accumulators and merges them, with repeated items.
func TestBottomKCombinerEqualsBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	hash := bottomk.New([16]byte{4, 2})
	for tc := range 2000 {
		k := []int{1, 2, 4, 16, 64}[rng.IntN(5)]
		id := pseudonym.ID{byte(tc), byte(tc >> 8), 1}
		var items []uint32
		for range 1 + rng.IntN(100) {
			items = append(items, uint32(rng.IntN(60)))
		}
		f := &bottomKFn{K: k}
		parts := make([][]byte, 1+rng.IntN(4))
		for i := range parts {
			parts[i] = f.CreateAccumulator()
		}
		for _, it := range items {
			p := rng.IntN(len(parts))
			parts[p] = f.AddInput(parts[p], appendRanked(nil, hash.Rank(id, it), it))
		}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		acc := parts[0]
		for _, p := range parts[1:] {
			acc = f.MergeAccumulators(acc, p)
		}
		got := decodeItems(f.ExtractOutput(acc))
		want := hash.Bound(k, id, slices.Clone(items))
		slices.Sort(got)
		slices.Sort(want)
		require.Equal(t, want, got, "case %d: K = %d, items %v", tc, k, items)
	}
}
