package recommend

import (
	"cmp"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/privrec/privrec/dp"
)

type buildInfo struct {
	releaseID string
	at        time.Time
	window    Window
	neighbors int
	keyPeriod time.Duration
	kinds     uint8
	builtWith string // Report.BuiltWith; the embedded default when empty
	scoring   ScoringOptions
}

// ScoringOptions tune the post-processing that turns released counts into
// a model. They never change what is released or what it costs; the zero
// value is the measured best (benchmarks/RESULTS.md, ablation).
type ScoringOptions struct {
	// NoShrinkage keeps every positive residual pair count as evidence,
	// instead of the non-negative garrote at the noise's universal
	// threshold. For ablation benchmarks: a noisy model then recommends
	// noise.
	NoShrinkage bool
	// LowRank denoises the residual head pair matrix before the garrote:
	// it keeps the eigencomponents above the noise edge 2σ·sqrt(h), with
	// their eigenvalues shrunk for the spiked-Wigner bias, and lowers the
	// garrote's threshold to the noise left, σ·sqrt(2r/h) for r components.
	// Off by default: it did not help on Online Retail.
	LowRank bool
}

// counter adds noise to counts; *dp.Counter is the private one.
type counter interface {
	Noisy(x int64) (int64, error)
	NoisyRounded(x float64) (int64, error)
	NoisyAll(xs []int64) error
	Keep(noisy int64) bool
	Sigma() float64
}

// exactCounter adds no noise: for non-private reference models only.
type exactCounter struct{}

func (exactCounter) Noisy(x int64) (int64, error) { return x, nil }
func (exactCounter) NoisyAll([]int64) error       { return nil }
func (exactCounter) NoisyRounded(x float64) (int64, error) {
	return int64(math.Round(x)), nil
}
func (exactCounter) Keep(x int64) bool { return x > 0 }
func (exactCounter) Sigma() float64    { return 0 }

// releaseSpec is what build needs to know about the mechanisms.
type releaseSpec struct {
	params dp.Params // validated, defaults filled
	items  counter
	pairs  counter  // nil when K == 1
	plan   *dp.Plan // nil for a non-private release

	// observeItems and observePairs, when set, see the noisy counts as
	// released, before post-processing: the privacy audit tests them.
	observeItems func(noisy []int64)
	observePairs func(head []uint32, noisy []int64) // head: catalog index of each head position
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
	itemCounts, err := noisy(foldItems(st, nItems, spec.params), spec.items, spec.params)
	if err != nil {
		return nil, err
	}
	if spec.observeItems != nil {
		spec.observeItems(itemCounts)
	}
	pop := popularity(itemCounts)

	// 2. Users per item pair, as per-item evidence beyond popularity.
	var ev evidence
	if spec.pairs != nil {
		switch spec.params.Pairs {
		case dp.HeadPairs:
			ev, err = headEvidence(st, itemCounts, pop, spec, info)
		case dp.ThresholdPairs:
			ev, err = thresholdEvidence(st, nItems, spec)
		}
		if err != nil {
			return nil, err
		}
	}
	clear(itemCounts)

	// 3. Post-processing: scoring coefficients and neighbour lists.
	return assemble(cat, pop, ev, spec, info), nil
}

// popularity turns released item counts into the model's popularity:
// negative noisy counts become zero.
func popularity(itemCounts []int64) []float64 {
	pop := make([]float64, len(itemCounts))
	for i, c := range itemCounts {
		pop[i] = float64(max(c, 0))
	}
	return pop
}

// assemble derives the model from released popularity and pair evidence.
func assemble(cat *Catalog, pop []float64, ev evidence, spec releaseSpec, info buildInfo) *Model {
	m := newModel(cat, pop)
	m.smoothing = 1
	if spec.pairs != nil {
		m.smoothing = math.Max(1, spec.pairs.Sigma())
	}
	m.setScoring(ev, info.neighbors)
	m.report = newReport(spec, info, len(pop), ev.released, len(m.nbrItem))
	if info.builtWith != "" {
		m.report.BuiltWith = info.builtWith
	}
	return m
}

// foldItems sums, for each catalog item, the weights of the users who kept
// it (dp.Params.Weights: 1 unless users keep more than K items, so then it
// counts them).
func foldItems(st *windowState, nItems int, p dp.Params) []float64 {
	sums := make([]float64, nItems)
	st.forEachUser(func(items []uint32) {
		w, _ := p.Weights(len(items))
		for _, it := range items {
			sums[it] += w
		}
	})
	return sums
}

// noisy releases folded sums through c. Unweighted sums are integer counts
// and get the DP library's integer noise; weighted sums get the same noise
// in floating point, rounded afterwards (post-processing).
func noisy(sums []float64, c counter, p dp.Params) ([]int64, error) {
	out := make([]int64, len(sums))
	if p.KeepItems == p.MaxItemsPerUser {
		for i, x := range sums {
			out[i] = int64(x)
		}
		if err := c.NoisyAll(out); err != nil {
			return nil, err
		}
		return out, nil
	}
	for i, x := range sums {
		y, err := c.NoisyRounded(x)
		if err != nil {
			return nil, err
		}
		out[i] = y
	}
	return out, nil
}

// evidence is what the released pair counts say beyond popularity.
type evidence struct {
	// lambda fits the independence model c_ij ≈ lambda·n_i·n_j to the
	// released pair counts; 0 when it cannot be fitted (thresholded pairs).
	lambda float64
	// rows[i] lists, for item i, the items j whose released co-count
	// exceeds what popularity alone predicts, with that excess (shrunk).
	rows [][]edge
	// released is the number of pair counts the release published.
	released int
}

type edge struct {
	to      uint32
	excess  float64 // co-count beyond lambda·n_i·n_j, after shrinkage
	support float64 // estimated co-count: lambda·n_i·n_j + excess
}

// headEvidence counts pairs among the HeadSize items with the largest released
// counts and noises every one of them, zeros included: the head is chosen from
// DP output, so the pair domain is public and selection spends no δ.
func headEvidence(st *windowState, itemCounts []int64, pop []float64, spec releaseSpec, info buildInfo) (evidence, error) {
	head := HeadItems(itemCounts, spec.params.HeadSize)
	tri, err := noisy(foldHeadPairs(st, head, len(pop), spec.params), spec.pairs, spec.params)
	if err != nil {
		return evidence{}, err
	}
	if spec.observePairs != nil {
		spec.observePairs(head, tri)
	}
	ev := headEvidenceFrom(pop, head, tri, spec.pairs.Sigma(), info.scoring)
	clear(tri)
	return ev, nil
}

// HeadItems returns the catalog indexes of the size items with the largest
// released counts (negative counts as zero; ties by catalog index), most
// popular first: the items whose pairs a HeadPairs release counts. It is
// post-processing of DP output, exported so that an engine that computes
// the counts elsewhere (privrec/beam) picks exactly the same head.
func HeadItems(itemCounts []int64, size int) []uint32 {
	h := max(0, min(size, len(itemCounts)))
	order := make([]uint32, len(itemCounts))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if c := cmp.Compare(max(itemCounts[b], 0), max(itemCounts[a], 0)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return order[:h:h]
}

// foldHeadPairs sums, for each pair of head items, the pair weights of the
// users who kept both (dp.Params.Weights), in the packed upper triangle of
// head positions (see triIndex).
func foldHeadPairs(st *windowState, head []uint32, nItems int, p dp.Params) []float64 {
	h := len(head)
	pos := make([]int32, nItems)
	for i := range pos {
		pos[i] = -1
	}
	for p, it := range head {
		pos[it] = int32(p)
	}
	sums := make([]float64, h*(h-1)/2)
	buf := make([]int32, 0, p.KeepItems)
	st.forEachUser(func(items []uint32) {
		buf = buf[:0]
		for _, it := range items {
			if p := pos[it]; p >= 0 {
				buf = append(buf, p)
			}
		}
		slices.Sort(buf)
		_, w := p.Weights(len(items))
		for x := 0; x < len(buf); x++ {
			for y := x + 1; y < len(buf); y++ {
				sums[triIndex(int(buf[x]), int(buf[y]), h)] += w
			}
		}
	})
	return sums
}

// headEvidenceFrom separates signal from noise in the released head pair
// counts tri (noise standard deviation sigma). It is post-processing, free
// of privacy cost.
//
// An independence model c_ij ≈ λ·n_i·n_j is fitted to the noisy counts by
// least squares; what popularity predicts is then already in the score. Of
// the residual r_ij = ĉ_ij − λ·n_i·n_j only clear positive evidence is kept,
// by the non-negative garrote at the universal threshold
// t = σ·sqrt(2·ln(h−1)) (Donoho & Johnstone): e_ij = r_ij − t²/r_ij when
// r_ij > t, else 0. Pure noise clears t in a row of h−1 pairs with
// probability about 1/sqrt(π·ln h), and then only barely, so where pair
// counts carry no signal the recommendations are the popular items; strong
// pairs lose little.
func headEvidenceFrom(pop []float64, head []uint32, tri []int64, sigma float64, opts ScoringOptions) evidence {
	h := len(head)
	ev := evidence{rows: make([][]edge, len(pop)), released: len(tri)}
	vals := make([]float64, len(tri))
	for i, c := range tri {
		vals[i] = float64(c)
	}
	noisy := func(x, y int) float64 {
		if x > y {
			x, y = y, x
		}
		return vals[triIndex(x, y, h)]
	}
	var num, den float64
	for x := 0; x < h; x++ {
		for y := x + 1; y < h; y++ {
			a := pop[head[x]] * pop[head[y]]
			num += noisy(x, y) * a
			den += a * a
		}
	}
	if den > 0 && num > 0 {
		ev.lambda = num / den
	}
	if opts.LowRank && sigma > 0 && h > 2 {
		sigma = lowRankResiduals(vals, pop, head, ev.lambda, sigma)
	}
	t := 0.0
	if h > 2 && !opts.NoShrinkage {
		t = sigma * math.Sqrt(2*math.Log(float64(h-1)))
	}
	for x := 0; x < h; x++ {
		ni := pop[head[x]]
		var row []edge
		for y := 0; y < h; y++ {
			if y == x {
				continue
			}
			expect := ev.lambda * ni * pop[head[y]]
			if r := noisy(x, y) - expect; r > t && r > 0 {
				ex := r - t*t/r
				row = append(row, edge{to: head[y], excess: ex, support: expect + ex})
			}
		}
		ev.rows[head[x]] = row
	}
	return ev
}

// lowRankResiduals replaces the residuals r_xy = vals_xy − λ·n_x·n_y of
// the head pair matrix by their projection on the eigencomponents that
// stand out of the noise (|eigenvalue| > 2σ·sqrt(h), the edge of the
// semicircle of a symmetric noise matrix), each eigenvalue l shrunk to the
// θ with l = θ + σ²h/θ, and returns the noise level left, σ·sqrt(2r/h). It
// writes the denoised counts back into vals.
func lowRankResiduals(vals, pop []float64, head []uint32, lambda, sigma float64) float64 {
	h := len(head)
	a := mat.NewSymDense(h, nil)
	for x := range h {
		for y := x + 1; y < h; y++ {
			a.SetSym(x, y, vals[triIndex(x, y, h)]-lambda*pop[head[x]]*pop[head[y]])
		}
	}
	var es mat.EigenSym
	if !es.Factorize(a, true) {
		return sigma
	}
	values := es.Values(nil)
	var vectors mat.Dense
	es.VectorsTo(&vectors)
	edge := 2 * sigma * math.Sqrt(float64(h))
	var cols []int
	var theta []float64
	for i, l := range values {
		if al := math.Abs(l); al > edge {
			cols = append(cols, i)
			theta = append(theta, math.Copysign((al+math.Sqrt(al*al-edge*edge))/2, l))
		}
	}
	for x := range h {
		for y := x + 1; y < h; y++ {
			r := 0.0
			for j, c := range cols {
				r += theta[j] * vectors.At(x, c) * vectors.At(y, c)
			}
			vals[triIndex(x, y, h)] = r + lambda*pop[head[x]]*pop[head[y]]
		}
	}
	return sigma * math.Sqrt(2*float64(max(len(cols), 1))/float64(h))
}

// triIndex maps x < y < h to a position in the packed upper triangle.
func triIndex(x, y, h int) int { return x*(2*h-x-1)/2 + (y - x - 1) }

// thresholdEvidence noises the count of every pair some user has and keeps
// those above the DP library's threshold. Unreleased pairs are unknown, so no
// independence model is fitted: a released count is all excess.
func thresholdEvidence(st *windowState, nItems int, spec releaseSpec) (evidence, error) {
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
	ev := evidence{rows: make([][]edge, nItems)}
	for key, c := range counts {
		noisy, err := spec.pairs.Noisy(c)
		if err != nil {
			return evidence{}, err
		}
		if !spec.pairs.Keep(noisy) {
			continue
		}
		a, b, v := uint32(key>>32), uint32(key), float64(noisy)
		ev.rows[a] = append(ev.rows[a], edge{b, v, v})
		ev.rows[b] = append(ev.rows[b], edge{a, v, v})
		ev.released++
	}
	clear(counts)
	return ev, nil
}

// popularityWeight scales the popularity part of the score against the
// pair evidence. It was tuned on the Online Retail data (benchmarks/
// RESULTS.md): 0.02 doubled the non-private NDCG@10 against an unscaled
// popularity term, and kept private models level with or above it at every
// ε measured. Its effect grows with the pair noise (see setScoring), so noisy
// models lean on popularity.
const popularityWeight = 0.02

// setScoring derives the model's scoring coefficients from the evidence:
//
//	base[i]       = popularityWeight · s · (λ·n_i·Σn + s) / (n_i + s)
//	weight[i][j]  = e_ij / sqrt((n_i + s)·(n_j + s))
//
// for the top n neighbours j of i by weight. See Model for the score they
// add up to.
func (m *Model) setScoring(ev evidence, n int) {
	nItems := len(m.items)
	s := m.smoothing
	m.base = make([]float32, nItems)
	m.nbrOff = make([]uint32, nItems+1)
	for i := range nItems {
		ni := m.pop[i]
		m.base[i] = float32(popularityWeight * s * (ev.lambda*ni*m.popTotal + s) / (ni + s))
		var row []edge
		if ev.rows != nil {
			row = ev.rows[i]
		}
		weight := func(e edge) float64 { return e.excess / math.Sqrt((ni+s)*(m.pop[e.to]+s)) }
		slices.SortFunc(row, func(x, y edge) int {
			if c := cmp.Compare(weight(y), weight(x)); c != 0 {
				return c
			}
			return cmp.Compare(x.to, y.to)
		})
		for _, e := range row[:min(len(row), n)] {
			m.nbrItem = append(m.nbrItem, e.to)
			m.nbrWeight = append(m.nbrWeight, float32(weight(e)))
			m.nbrSupport = append(m.nbrSupport, float32(e.support))
		}
		m.nbrOff[i+1] = uint32(len(m.nbrItem))
	}
}
