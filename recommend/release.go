package recommend

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/privrec/privrec/dp"
)

type buildInfo struct {
	releaseID string
	at        time.Time
	window    Window
	neighbors int
	keyPeriod time.Duration
	kinds     uint8
}

// counter adds noise to counts; *dp.Counter is the private one.
type counter interface {
	Noisy(x int64) (int64, error)
	NoisyAll(xs []int64) error
	Keep(noisy int64) bool
	Sigma() float64
}

// exactCounter adds no noise: for non-private reference models only.
type exactCounter struct{}

func (exactCounter) Noisy(x int64) (int64, error) { return x, nil }
func (exactCounter) NoisyAll([]int64) error       { return nil }
func (exactCounter) Keep(x int64) bool            { return x > 0 }
func (exactCounter) Sigma() float64               { return 0 }

// releaseSpec is what build needs to know about the mechanisms.
type releaseSpec struct {
	params dp.Params // validated, defaults filled
	items  counter
	pairs  counter  // nil when K == 1
	plan   *dp.Plan // nil for a non-private release
}

func privateSpec(plan *dp.Plan) releaseSpec {
	spec := releaseSpec{params: plan.Params, items: plan.Items, plan: plan}
	if plan.Pairs != nil {
		spec.pairs = plan.Pairs
	}
	return spec
}

// build folds a window's bounded state into noisy aggregates and derives the
// model from them. Everything after the noise is post-processing of DP
// outputs and costs no privacy.
func build(st *windowState, cat *Catalog, spec releaseSpec, info buildInfo) (*Model, error) {
	nItems := cat.Len()

	// 1. Users per item, over the public catalog: noise on every item,
	//    zeros included, so the released set of items reveals nothing.
	itemCounts := foldItems(st, nItems)
	if err := spec.items.NoisyAll(itemCounts); err != nil {
		return nil, err
	}
	pop := make([]float64, nItems)
	for i, c := range itemCounts {
		pop[i] = float64(max(c, 0))
	}
	clear(itemCounts)

	// 2. Users per item pair.
	var pairs []pairCount
	var err error
	if spec.pairs != nil {
		switch spec.params.Pairs {
		case dp.HeadPairs:
			pairs, err = headPairs(st, pop, spec)
		case dp.ThresholdPairs:
			pairs, err = thresholdPairs(st, spec)
		}
		if err != nil {
			return nil, err
		}
	}

	// 3. Post-processing: neighbour lists with popularity as the prior.
	m := newModel(cat, pop)
	m.smoothing = 1
	if spec.pairs != nil {
		m.smoothing = math.Max(1, spec.pairs.Sigma())
	}
	m.buildNeighbors(pairs, info.neighbors)
	m.report = newReport(spec, info, nItems, len(pairs), len(m.nbrItem))
	return m, nil
}

// foldItems counts, for each catalog item, the users who kept it.
func foldItems(st *windowState, nItems int) []int64 {
	counts := make([]int64, nItems)
	st.forEachUser(func(items []uint32) {
		for _, it := range items {
			counts[it]++
		}
	})
	return counts
}

// pairCount is a released (noisy, post-processed) count of users who have
// both items a < b.
type pairCount struct {
	a, b  uint32
	count float64
}

// headPairs counts pairs among the HeadSize items with the largest released
// counts and noises every one of them, zeros included: the head is chosen from
// DP output, so the pair domain is public and selection spends no δ. Noisy
// counts are then soft-thresholded by one noise standard deviation, which
// removes most of the pure-noise pairs (post-processing).
func headPairs(st *windowState, pop []float64, spec releaseSpec) ([]pairCount, error) {
	h := min(spec.params.HeadSize, len(pop))
	order := make([]uint32, len(pop))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if c := cmp.Compare(pop[b], pop[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	head := order[:h]
	pos := make([]int32, len(pop))
	for i := range pos {
		pos[i] = -1
	}
	for p, it := range head {
		pos[it] = int32(p)
	}
	tri := make([]int64, h*(h-1)/2)
	buf := make([]int32, 0, spec.params.MaxItemsPerUser)
	st.forEachUser(func(items []uint32) {
		buf = buf[:0]
		for _, it := range items {
			if p := pos[it]; p >= 0 {
				buf = append(buf, p)
			}
		}
		slices.Sort(buf)
		for x := 0; x < len(buf); x++ {
			for y := x + 1; y < len(buf); y++ {
				tri[triIndex(int(buf[x]), int(buf[y]), h)]++
			}
		}
	})
	if err := spec.pairs.NoisyAll(tri); err != nil {
		return nil, err
	}
	sigma := spec.pairs.Sigma()
	var out []pairCount
	for x := 0; x < h; x++ {
		for y := x + 1; y < h; y++ {
			c := float64(tri[triIndex(x, y, h)]) - sigma
			if c > 0 {
				a, b := head[x], head[y]
				if a > b {
					a, b = b, a
				}
				out = append(out, pairCount{a, b, c})
			}
		}
	}
	clear(tri)
	return out, nil
}

// triIndex maps x < y < h to a position in the packed upper triangle.
func triIndex(x, y, h int) int { return x*(2*h-x-1)/2 + (y - x - 1) }

// thresholdPairs noises the count of every pair some user has and keeps those
// above the DP library's threshold.
func thresholdPairs(st *windowState, spec releaseSpec) ([]pairCount, error) {
	counts := make(map[uint64]int64)
	buf := make([]uint32, 0, spec.params.MaxItemsPerUser)
	st.forEachUser(func(items []uint32) {
		buf = append(buf[:0], items...)
		slices.Sort(buf)
		for x := 0; x < len(buf); x++ {
			for y := x + 1; y < len(buf); y++ {
				counts[uint64(buf[x])<<32|uint64(buf[y])]++
			}
		}
	})
	var out []pairCount
	for key, c := range counts {
		noisy, err := spec.pairs.Noisy(c)
		if err != nil {
			return nil, err
		}
		if spec.pairs.Keep(noisy) {
			out = append(out, pairCount{uint32(key >> 32), uint32(key), float64(noisy)})
		}
	}
	clear(counts)
	// Map order is random; sort so the model does not depend on it.
	slices.SortFunc(out, func(p, q pairCount) int {
		if c := cmp.Compare(p.a, q.a); c != 0 {
			return c
		}
		return cmp.Compare(p.b, q.b)
	})
	return out, nil
}

// buildNeighbors turns released pair counts into per-item neighbour lists:
// for item i, neighbours j ranked by the released count of users with both,
// keeping the top n, each with weight count/(pop_i + smoothing).
//
// Scoring model (see Model): the probability that a user with i also has j
// is estimated as (c_ij + s·p_j) / (n_i + s), where n_i is i's released count,
// p_j is j's share of all released counts and s (smoothing) is the pair
// noise's standard deviation. When pair counts carry no signal the estimate
// is p_j: ranking falls back to popularity smoothly.
func (m *Model) buildNeighbors(pairs []pairCount, n int) {
	nItems := len(m.items)
	deg := make([]int, nItems)
	for _, p := range pairs {
		deg[p.a]++
		deg[p.b]++
	}
	off := make([]int, nItems+1)
	for i := range nItems {
		off[i+1] = off[i] + deg[i]
	}
	type nb struct {
		item  uint32
		count float64
	}
	all := make([]nb, off[nItems])
	fill := slices.Clone(off[:nItems])
	for _, p := range pairs {
		all[fill[p.a]] = nb{p.b, p.count}
		fill[p.a]++
		all[fill[p.b]] = nb{p.a, p.count}
		fill[p.b]++
	}
	m.nbrOff = make([]uint32, nItems+1)
	for i := range nItems {
		list := all[off[i]:off[i+1]]
		slices.SortFunc(list, func(x, y nb) int {
			if c := cmp.Compare(y.count, x.count); c != 0 {
				return c
			}
			return cmp.Compare(x.item, y.item)
		})
		list = list[:min(len(list), n)]
		denom := m.pop[i] + m.smoothing
		for _, e := range list {
			m.nbrItem = append(m.nbrItem, e.item)
			m.nbrWeight = append(m.nbrWeight, float32(e.count/denom))
			m.nbrSupport = append(m.nbrSupport, float32(e.count))
		}
		m.nbrOff[i+1] = uint32(len(m.nbrItem))
	}
}
