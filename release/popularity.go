package release

import (
	"fmt"

	"github.com/privrec/privrec/dp"
)

// popularity releases the number of users per catalog item. The catalog is
// public, so every item gets noise, zeros included, and the set of items
// released reveals nothing. Every release runs it first: the model ranks
// by popularity wherever there is no other evidence, and the head of the
// pair mechanism is chosen from it.
type popularity struct{}

// partItems is the popularity mechanism's part.
const partItems = "item counts"

func (popularity) name() string { return "popularity" }

func (popularity) parts(o Options) []part {
	share := o.ItemShare
	if o.K == 1 {
		share = 1 // no pairs: item counts get the whole budget
	}
	return []part{{
		spec:   dp.PartSpec{Name: partItems, L0: int64(o.K), LInf: 1, Share: share},
		domain: "every catalog item, zeros included",
	}}
}

func (p popularity) release(b *builder) error {
	counts, err := noisy(foldItems(b), b.counter(partItems), b.o)
	if err != nil {
		return err
	}
	if b.observeItems != nil {
		b.observeItems(counts)
	}
	return p.use(b, counts)
}

// use takes released item counts (from release or from another engine)
// as the model's popularity: negative noisy counts become zero.
func (popularity) use(b *builder, counts []int64) error {
	if len(counts) != b.cat.Len() {
		return fmt.Errorf("%d item counts for a catalog of %d items", len(counts), b.cat.Len())
	}
	b.itemCounts = counts
	b.pop = make([]float64, len(counts))
	for i, c := range counts {
		b.pop[i] = float64(max(c, 0))
	}
	b.values[partItems] = len(counts)
	return nil
}

// foldItems sums, for each catalog item, the weights of the users who kept
// it (Options.weights: 1 unless users keep more than K items, so then it
// counts them).
func foldItems(b *builder) []float64 {
	sums := make([]float64, b.cat.Len())
	b.st.ForEachUser(func(items []uint32) {
		w, _ := b.o.weights(len(items))
		for _, it := range items {
			sums[it] += w
		}
	})
	return sums
}
