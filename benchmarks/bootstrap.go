package benchmarks

import (
	"math/rand/v2"
	"slices"
)

// BootstrapSplit scales a split to n users by resampling real customers'
// training items with replacement, so that the co-occurrence structure is
// the real one rather than a low-rank model's. The first users are s's own,
// with their test items, and the added users are copies of randomly drawn
// users' training items with nothing to predict: no test item is ever in
// the training data. n below len(s.Train) returns s.
func BootstrapSplit(s Split, n int, seed uint64) Split {
	if n <= len(s.Train) {
		return s
	}
	rng := rand.New(rand.NewPCG(seed, 0xb007))
	out := Split{Name: s.Name + ", bootstrapped", Items: s.Items,
		Train: make([][]int32, n), Test: make([][]int32, n)}
	copy(out.Train, s.Train)
	copy(out.Test, s.Test)
	for u := len(s.Train); u < n; u++ {
		out.Train[u] = s.Train[rng.IntN(len(s.Train))]
	}
	return out
}

// IndependentBaskets generates users whose items are drawn independently
// by d's item popularity (users per item), with d's users' basket sizes
// (distinct items): data without any pair structure, on which a model must
// rank like popularity, with noise or without. No categories.
func IndependentBaskets(d *Dataset, users int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 0x1dea))
	counts := make([]float64, len(d.Items))
	var sizes []int
	for _, u := range d.Users {
		items := distinct(u)
		sizes = append(sizes, len(items))
		for _, it := range items {
			counts[it]++
		}
	}
	cdf := make([]float64, len(counts))
	total := 0.0
	for i, c := range counts {
		total += c
		cdf[i] = total
	}
	out := &Dataset{Name: d.Name + ", items drawn independently", Items: slices.Clone(d.Items), Users: make([][]Interaction, users)}
	for u := range out.Users {
		n := min(sizes[rng.IntN(len(sizes))], len(d.Items)/2)
		seen := map[int32]bool{}
		for len(seen) < n {
			i, _ := slices.BinarySearch(cdf, rng.Float64()*total)
			it := int32(min(i, len(cdf)-1))
			if !seen[it] {
				seen[it] = true
				out.Users[u] = append(out.Users[u], Interaction{Item: it, Time: int64(len(seen))})
			}
		}
	}
	return out
}
