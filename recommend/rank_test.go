package recommend

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// bruteForce scores every item of m for q by the formula in the Model and
// NewCategoryEvidence documentation, applies the filters, and returns the
// best q.N items (ties to the more popular, then the lower index) with their reasons and whether the query fell back.
func bruteForce(m *Model, nb *neighbors, cg *categories, q Query) ([]Recommendation, bool) {
	var ctx []uint32
	for _, id := range q.Context {
		if i, ok := m.cat.index[id]; ok && !slices.Contains(ctx, i) {
			ctx = append(ctx, i)
		}
	}
	blocked := map[uint32]bool{}
	for _, i := range ctx {
		blocked[i] = true
	}
	for _, id := range q.Exclude {
		if i, ok := m.cat.index[id]; ok {
			blocked[i] = true
		}
	}
	n := len(m.pop)
	prior, boost, touched := 1.0, make([]float64, n), make([]bool, n)
	factor := make([]float64, n)
	for j := range factor {
		factor[j] = 1
	}
	// Every contribution of a context item to a candidate, in the order
	// the query visits them, for the explanation: the MaxExplain with the
	// largest weight (ties to the earlier), and the support of the first.
	type contribution struct {
		ctx          uint32
		weight, supp float32
	}
	contribs := make([][]contribution, n)
	catCount := map[int32]int{}
	if len(ctx) > 0 && nb != nil {
		prior = 0
		for _, i := range ctx {
			prior += float64(nb.base[i])
		}
		for _, i := range ctx {
			for k := nb.off[i]; k < nb.off[i+1]; k++ {
				j := nb.item[k]
				if float64(nb.support[k]) >= q.MinSupport && !blocked[j] {
					boost[j] += float64(nb.weight[k])
					touched[j] = true
					contribs[j] = append(contribs[j], contribution{i, nb.weight[k], nb.support[k]})
				}
			}
		}
	}
	if len(ctx) > 0 && cg != nil {
		mc := 0
		for _, i := range ctx {
			if d := m.itemCat[i]; d >= 0 {
				catCount[d]++
				mc++
			}
		}
		if mc > 0 {
			for j := range factor {
				d := m.itemCat[j]
				switch {
				case d < 0:
				case catCount[d] > 0:
					factor[j] = (float64(catCount[d])/m.catShare[d] + cg.alpha) / (float64(mc) + cg.alpha)
				default:
					factor[j] = cg.alpha / (float64(mc) + cg.alpha)
				}
			}
		}
	}
	type scored struct {
		j     uint32
		score float64
	}
	var all []scored
	anyTouched := false
	for j := range n {
		if touched[j] {
			anyTouched = true
		}
		if blocked[uint32(j)] || m.pop[j] < q.MinSupport {
			continue
		}
		d := m.itemCat[j]
		if len(q.Categories) > 0 && (d < 0 || !slices.Contains(q.Categories, m.cat.categories[d])) {
			continue
		}
		if d >= 0 && slices.Contains(q.ExcludeCategories, m.cat.categories[d]) {
			continue
		}
		if q.Available != nil && !q.Available(m.ids[j]) {
			continue
		}
		s := 0.0
		if m.popTotal > 0 {
			s = m.pop[j] * (prior / m.popTotal) * factor[j]
		}
		all = append(all, scored{uint32(j), s + boost[j]})
	}
	slices.SortFunc(all, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(m.popRank[a.j], m.popRank[b.j])
	})
	out := []Recommendation{}
	for _, s := range all[:min(len(all), q.N)] {
		rec := Recommendation{Item: m.ids[s.j], Score: s.score, Reason: ReasonPopular}
		if touched[s.j] {
			rec.Reason = ReasonContext
			cs := slices.Clone(contribs[s.j])
			slices.SortStableFunc(cs, func(a, b contribution) int { return cmp.Compare(b.weight, a.weight) })
			for e, c := range cs[:min(len(cs), MaxExplain)] {
				if c.weight > 0 {
					rec.Because[e] = m.ids[c.ctx]
				}
			}
			if cs[0].weight > 0 {
				rec.Support = float64(cs[0].supp)
			}
		} else if d := m.itemCat[s.j]; d >= 0 && catCount[d] > 0 {
			rec.Reason, rec.Category = ReasonCategory, m.cat.categories[d]
			e := 0
			for _, i := range ctx {
				if e < MaxExplain && m.itemCat[i] == d {
					rec.Because[e] = m.ids[i]
					e++
				}
			}
		}
		out = append(out, rec)
	}
	return out, !anyTouched && len(catCount) == 0 && len(q.Context) > 0
}

// Recommend finds the same items, scores and reasons as scoring every item
// by the documented formula, over random catalogs, evidence, contexts and
// filters: the candidate generation (touched items plus the first items of
// each popularity group) misses nothing. 3000 cases from a fixed seed.
func TestRecommendMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	for tc := range 3000 {
		nItems, nCats := 1+rng.IntN(40), rng.IntN(5)
		items := make([]Item, nItems)
		for i := range items {
			items[i].ID = fmt.Sprintf("i%d", i)
			if nCats > 0 && rng.IntN(5) > 0 {
				items[i].Category = fmt.Sprintf("c%d", rng.IntN(nCats))
			}
		}
		cat, err := NewCatalog(items)
		require.NoError(t, err)
		pop := make([]float64, nItems)
		for i := range pop {
			pop[i] = float64(rng.IntN(6)) // ties and zeros on purpose
		}
		var evs []Evidence
		var nb *neighbors
		var cg *categories
		if rng.IntN(2) == 0 {
			base := make([]float32, nItems)
			lists := make([][]Neighbor, nItems)
			for i := range lists {
				base[i] = float32(rng.IntN(3)) / 2
				for range rng.IntN(4) {
					lists[i] = append(lists[i], Neighbor{Item: rng.IntN(nItems), Weight: float32(rng.IntN(4)) / 8, Support: float32(rng.IntN(5))})
				}
			}
			ev, err := NewNeighborEvidence(base, lists)
			require.NoError(t, err)
			evs, nb = append(evs, ev), ev.(*neighbors)
		}
		if rng.IntN(2) == 0 {
			ev, err := NewCategoryEvidence([]float64{0.05, 1, 20}[rng.IntN(3)])
			require.NoError(t, err)
			evs, cg = append(evs, ev), ev.(*categories)
		}
		m, err := NewModel(cat, pop, Report{}, evs...)
		require.NoError(t, err)

		pick := func(k int) []string {
			var s []string
			for range k {
				s = append(s, fmt.Sprintf("i%d", rng.IntN(nItems+2))) // some unknown
			}
			return s
		}
		q := Query{N: 1 + rng.IntN(12), Context: pick(rng.IntN(7)), Exclude: pick(rng.IntN(3))}
		switch rng.IntN(6) {
		case 0:
			q.Categories = []string{fmt.Sprintf("c%d", rng.IntN(nCats+1))}
		case 1:
			q.Categories = []string{"c0", "c1"}
		case 2:
			q.ExcludeCategories = []string{fmt.Sprintf("c%d", rng.IntN(nCats+1))}
		case 3:
			q.MinSupport = float64(rng.IntN(3))
		case 4:
			odd := rng.IntN(2)
			q.Available = func(id string) bool { return len(id)%2 == odd }
		}
		want, fallback := bruteForce(m, nb, cg, q)
		var res Result
		require.NoError(t, m.Recommend(&res, q))
		got := make([]Recommendation, len(res.Items))
		for k, r := range res.Items {
			got[k] = Recommendation{Item: r.Item, Score: r.Score, Reason: r.Reason, Category: r.Category}
			switch r.Reason {
			case ReasonCategory:
				got[k].Because = r.Because
			case ReasonContext:
				got[k].Because, got[k].Support = r.Because, r.Support
			}
		}
		require.Equal(t, want, got, "case %d: %+v", tc, q)
		require.Equal(t, fallback, res.Fallback, "case %d: fallback", tc)
	}
}
