package release

import (
	"fmt"
	"math"

	"github.com/privrec/privrec/dp"
)

// baskets releases, for Auto, what it needs to predict whether pair counts
// will carry signal: the number of active users, and for each candidate
// head (the h most popular items by the released counts, for h = 25, 50,
// 100... up to HeadSize) the total pair weight users would bring to its
// pairs: a user with n ≥ 2 items in the head, each of their n(n−1)/2 head
// pairs weighted to a norm of one pair (pairWeight with k = 2), brings
// n·sqrt(2/(n(n−1))) = sqrt(2n/(n−1)) ∈ (1, 2] to the pairs of their items.
// One user changes the first value by at most 1 and each other by at most
// 2. It runs after popularity, whose released counts choose the heads.
type baskets struct {
	share float64
	heads []int // candidateHeads
}

// partBaskets is the baskets mechanism's part.
const partBaskets = "basket statistics"

func (baskets) name() string { return "auto" }

// candidateHeads returns the head sizes Auto considers: 25, 50, 100... up
// to maxHead (and maxHead itself), at most the catalog size.
func candidateHeads(maxHead, items int) []int {
	maxHead = min(maxHead, items)
	var hs []int
	for h := 25; h < maxHead; h *= 2 {
		hs = append(hs, h)
	}
	return append(hs, maxHead)
}

func (bs baskets) parts(Options) []part {
	n := len(bs.heads)
	return []part{{
		spec:   dp.PartSpec{Name: partBaskets, L0: int64(1 + n), LInf: 2, Share: bs.share},
		domain: fmt.Sprintf("1 + %d sums: the users who kept an item, and for each candidate head the pair weight its users bring", n),
	}}
}

func (bs baskets) release(b *builder) error {
	heads := bs.heads
	order := headItems(b.itemCounts, heads[len(heads)-1])
	rank := make([]int32, b.cat.Len())
	for i := range rank {
		rank[i] = math.MaxInt32
	}
	for r, it := range order {
		rank[it] = int32(r)
	}
	users := int64(0)
	mass := make([]float64, len(heads))
	in := make([]int, len(heads))
	b.st.ForEachUser(func(items []uint32) {
		if len(items) == 0 {
			return
		}
		users++
		clear(in)
		for _, it := range items {
			for c, h := range heads {
				if int(rank[it]) < h {
					in[c]++
				}
			}
		}
		for c, n := range in {
			if n >= 2 {
				mass[c] += math.Sqrt(2 * float64(n) / float64(n-1))
			}
		}
	})
	c, err := b.useOnly(bs)
	if err != nil {
		return err
	}
	nu, err := c.NoisyFloat(float64(users))
	if err != nil {
		return err
	}
	b.activeUsers = math.Max(nu, 0)
	b.heads = heads
	raw := []float64{nu}
	b.pairMass = make([]float64, len(heads))
	for i, m := range mass {
		v, err := c.NoisyFloat(m)
		if err != nil {
			return err
		}
		raw = append(raw, v)
		b.pairMass[i] = math.Max(v, 0)
	}
	b.values[partBaskets] = 1 + len(heads)
	b.observed(partBaskets, c, nil, raw)
	return nil
}
