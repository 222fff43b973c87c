package release

import (
	"fmt"
	"math"

	"github.com/privrec/privrec/dp"
)

// popularity releases the number of users per catalog item. The catalog is
// public, so every item gets noise, zeros included, and the set of items
// released reveals nothing. Every release runs it first: the model ranks
// by popularity wherever there is no other evidence, and the head of the
// pair mechanism is chosen from it.
type popularity struct {
	share float64
}

// Parts of the popularity mechanism: the item counts, and with Auto,
// possibly a second, independent release of them (see autoFlex).
const (
	partItems       = "item counts"
	partItemsSecond = "item counts, second release"
)

func (popularity) name() string { return "popularity" }

func (p popularity) parts(o Options) []part {
	return []part{{spec: itemSpec(o, partItems, p.share), domain: "every catalog item, zeros included"}}
}

// itemSpec is the sensitivity of item counts under o: a user changes at
// most K of them by 1 (or, weighted, the same norm).
func itemSpec(o Options, name string, share float64) dp.PartSpec {
	return dp.PartSpec{Name: name, L0: int64(o.K), LInf: 1, Share: share}
}

func (p popularity) release(b *builder) error {
	c, err := b.useOnly(p)
	if err != nil {
		return err
	}
	counts, err := noisy(foldItems(b), c, b.o.Keep > b.o.K)
	if err != nil {
		return err
	}
	b.itemSigma = c.Sigma()
	b.observed(partItems, c, nil, floats(counts))
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

// releaseAgain releases the item counts a second time, as part second,
// and combines the two releases by inverse variance: the result has the
// noise of one release with both parts' budget.
func (p popularity) releaseAgain(b *builder, second part) error {
	c, err := b.use(p.name(), second)
	if err != nil {
		return err
	}
	again, err := noisy(foldItems(b), c, b.o.Keep > b.o.K)
	if err != nil {
		return err
	}
	b.observed(second.spec.Name, c, nil, floats(again))
	b.values[second.spec.Name] = len(again)
	v1, v2 := sq(b.itemSigma), sq(c.Sigma())
	w1 := 0.5 // exact releases: both are the truth
	if v1+v2 > 0 {
		w1 = v2 / (v1 + v2)
	}
	combined := make([]int64, len(again))
	for i := range combined {
		combined[i] = int64(math.Round(w1*float64(b.itemCounts[i]) + (1-w1)*float64(again[i])))
	}
	if err := p.use(b, combined); err != nil {
		return err
	}
	b.itemSigma = math.Sqrt(v1 * v2 / (v1 + v2))
	b.values[partItems] = len(combined)
	return nil
}

func sq(x float64) float64 { return x * x }

// foldItems sums, for each catalog item, the weights of the users who kept
// it (Options.weights: 1 unless users keep more than K items, so then it
// counts them).
func foldItems(b *builder) []float64 {
	sums := make([]float64, b.cat.Len())
	b.st.ForEachUser(func(items []uint32) {
		w := itemWeight(len(items), b.o.K, b.o.Noise)
		for _, it := range items {
			sums[it] += w
		}
	})
	return sums
}
