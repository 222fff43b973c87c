package release

import (
	"cmp"
	"fmt"
	"iter"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/engine"
	"github.com/privrec/privrec/recommend"
)

// pairs releases the number of users per pair of items, and turns what the
// counts say beyond popularity into neighbour lists ("bought together").
// One user changes at most K(K−1)/2 pair counts by at most 1.
//
// With HeadPairs the pairs are those among the HeadSize items with the
// largest released item counts, and every one of them gets noise, zeros
// included: the head is chosen from DP output, so the pair domain is public
// and selection spends no δ. With ThresholdPairs every pair some user had
// gets noise and only those above the DP library's threshold are released.
type pairs struct {
	share float64
	head  int // head size; Options.HeadSize when 0
	// k, when set, bounds each user's pairs to those of k items (weighting
	// users with more items in the head), spending the budget of the plan's
	// pair part: Auto chooses it. Options.K when 0.
	k int
}

// partPairs is the pair mechanism's part.
const partPairs = "pair counts"

func (pairs) name() string { return "pairs" }

func (pr pairs) parts(o Options) []part {
	p := part{
		spec:   dp.PartSpec{Name: partPairs, L0: pairsPerUser(pr.bound(o)), LInf: 1, Share: pr.share},
		domain: "every pair of the head items (the most popular by the noisy item counts), zeros included",
	}
	if pr.k != 0 && pr.k != o.K {
		p.budget = partPairs
	}
	if o.Pairs == ThresholdPairs {
		p.domain = "pairs some user had, released when the noisy count reached the threshold"
		p.spec.ThresholdDelta = o.Delta
		if o.Noise == dp.Gaussian {
			p.spec.ThresholdDelta = o.Delta * o.SelectionDeltaShare
		}
	}
	return []part{p}
}

// bound is the number of items whose pairs bound a user's contribution.
func (p pairs) bound(o Options) int {
	if p.k != 0 {
		return p.k
	}
	return o.K
}

func (p pairs) release(b *builder) error {
	c, err := b.useOnly(p)
	if err != nil {
		return err
	}
	if b.o.Pairs == ThresholdPairs {
		ev, err := thresholdEvidence(b, c)
		if err != nil {
			return err
		}
		return p.use(b, ev, c.Sigma())
	}
	size := p.head
	if size == 0 {
		size = b.o.HeadSize
	}
	head := headItems(b.itemCounts, size)
	k := p.bound(b.o)
	tri, err := noisy(foldHeadPairs(b, head, k), c, b.o.Keep > k)
	if err != nil {
		return err
	}
	b.observed(partPairs, c, head, floats(tri))
	defer clear(tri)
	return p.useHead(b, head, tri, c.Sigma())
}

// useHead takes the released counts of the head pairs (from release or
// from another engine), whose noise has standard deviation sigma, and adds
// their evidence to b.
func (p pairs) useHead(b *builder, head []uint32, tri []int64, sigma float64) error {
	b.values[partPairs] = len(tri)
	ev := headEvidence(b.pop, head, tri, sigma, b.o.Noise, b.o.Scoring)
	b.threshold = ev.threshold
	if ev.rank > 0 {
		b.note(fmt.Sprintf("pairs: %d broad pattern(s) of co-purchase stood out of the noise; their low-rank part adds to the pairs the garrote kept", ev.rank))
	}
	return p.use(b, ev, sigma)
}

// use turns evidence into the model's neighbour lists.
func (pairs) use(b *builder, ev evidence, sigma float64) error {
	if b.o.Pairs == ThresholdPairs {
		b.values[partPairs] = ev.released
	}
	nb, err := neighborEvidence(b.pop, ev, math.Max(1, sigma), b.o.Neighbors)
	if err != nil {
		return err
	}
	b.evidence = append(b.evidence, nb)
	return nil
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
	// threshold is the garrote's threshold on residuals (head pairs).
	threshold float64
	// rank is the number of patterns in the low-rank part (head pairs).
	rank int
}

type edge struct {
	to      uint32
	excess  float64 // co-count beyond lambda·n_i·n_j, after shrinkage
	support float64 // estimated co-count: lambda·n_i·n_j + excess
}

// headItems returns the catalog indexes of the size items with the largest
// released counts (negative counts as zero; ties by catalog index), most
// popular first: engine.HeadItems, the rule engines share.
func headItems(itemCounts []int64, size int) []uint32 { return engine.HeadItems(itemCounts, size) }

// foldHeadPairs sums, for each pair of head items, the pair weights of the
// users who kept both, in the packed upper triangle of head positions (see
// triIndex). A user's weight depends on how many head items they kept
// (pairWeight of that number, bounded to the pairs of k items): their pairs outside the head are not
// released, so only those inside count towards the norm of their
// contribution, and a user with many items but few in the head keeps a
// full weight.
func foldHeadPairs(b *builder, head []uint32, k int) []float64 {
	h := len(head)
	pos := make([]int32, b.cat.Len())
	for i := range pos {
		pos[i] = -1
	}
	for p, it := range head {
		pos[it] = int32(p)
	}
	sums := make([]float64, h*(h-1)/2)
	buf := make([]int32, 0, b.o.Keep)
	b.st.ForEachUser(func(items []uint32) {
		buf = buf[:0]
		for _, it := range items {
			if p := pos[it]; p >= 0 {
				buf = append(buf, p)
			}
		}
		slices.Sort(buf)
		w := pairWeight(len(buf), k, b.o.Noise)
		for x := 0; x < len(buf); x++ {
			for y := x + 1; y < len(buf); y++ {
				sums[triIndex(int(buf[x]), int(buf[y]), h)] += w
			}
		}
	})
	return sums
}

// headEvidence separates signal from noise in the released head pair
// counts tri (noise standard deviation sigma). It is post-processing, free
// of privacy cost.
//
// An independence model c_ij ≈ λ·n_i·n_j is fitted to the noisy counts by
// least squares; what popularity predicts is then already in the score. Of
// the residual r_ij = ĉ_ij − λ·n_i·n_j only clear positive evidence is kept,
// by the non-negative garrote at threshold t = τ·s: e_ij = r_ij − t²/r_ij
// when r_ij > t, else 0, where s² = σ² + max(λ·n_i·n_j, 1) is the variance
// of the count around independence from noise and from sampling (about
// Poisson, at least 1), and τ comes from the data (pairThreshold: a
// target-decoy estimate of the false discovery rate). Where pair counts
// carry no signal, hardly any residual clears it and the recommendations
// are the popular items, with noise or without; where many pairs carry
// weak signal, τ falls and they count; strong pairs lose little.
func headEvidence(pop []float64, head []uint32, tri []int64, sigma float64, noise dp.Noise, opts ScoringOptions) evidence {
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
	// The low-rank part of the residuals is taken out first; the garrote
	// below then works on what it leaves, and a pair's evidence is the sum.
	var part []float64
	if opts.LowRank && sigma > 0 && h > 2 && h <= maxLowRankHead {
		part, ev.rank = lowRankPart(vals, pop, head, ev.lambda, sigma)
		for i := range part {
			vals[i] -= part[i]
		}
	}
	// spread is the standard deviation of a pair's count around what
	// independence predicts: noise, and sampling (about Poisson, variance
	// expect, at least 1 so that one chance co-occurrence of two rare
	// items is not evidence).
	spread := func(expect float64) float64 { return math.Sqrt(sigma*sigma + max(expect, 1)) }
	// score is what pairThreshold sees of a pair: its standardized
	// residual, whose values below −τ stand for the noise above τ. Where
	// the noise is below one count (0 < σ < 1, large ε), sampling
	// dominates the spread and its skew makes plain negatives undercount
	// the chance excesses (on baskets without pair structure, noise then
	// passes as evidence). A pair below its expectation then stands for
	// the count mirrored on Anscombe's variance-stabilized scale, where
	// sampling is about symmetric: the c' with sqrt(c'+3/8) − sqrt(e+3/8)
	// = sqrt(e+3/8) − sqrt(c+3/8), standardized like any count.
	//
	// With Laplace noise the mirroring measured worse than the universal
	// threshold it replaced (Online Retail at ε = 8: NDCG@10 0.040 against
	// 0.098): its pair counts are weighted in L1 (K(K−1)/(n(n−1)) per
	// user), far from the Poisson counts the mirroring assumes. Laplace
	// releases below σ = 1 keep the universal threshold.
	universal := sigma > 0 && sigma < 1 && noise == dp.Laplace
	score := func(c, e float64) float64 { return (c - e) / spread(e) }
	if sigma > 0 && sigma < 1 && !universal {
		score = func(c, e float64) float64 {
			a, b := math.Sqrt(max(c, 0)+0.375), math.Sqrt(e+0.375)
			if a >= b {
				return (c - e) / spread(e)
			}
			m := 2*b - a
			return -(m*m - 0.375 - e) / spread(e)
		}
	}
	z := 0.0
	switch {
	case h <= 2 || opts.NoShrinkage:
	case opts.UniversalThreshold:
		z = math.Sqrt(2 * math.Log(float64(h-1)))
	default:
		z = pairThreshold(h, sigma, universal, func(yield func(float64) bool) {
			for x := 0; x < h; x++ {
				for y := x + 1; y < h; y++ {
					expect := ev.lambda * pop[head[x]] * pop[head[y]]
					if !yield(score(noisy(x, y), expect)) {
						return
					}
				}
			}
		})
	}
	ev.threshold = z * sigma
	var keep func(zr float64) float64 // a standardized residual's weight; nil: the garrote
	if opts.LocalFDR && sigma >= 1 && h > 2 {
		keep = localFDRWeights(func(yield func(float64) bool) {
			for x := 0; x < h; x++ {
				for y := x + 1; y < h; y++ {
					expect := ev.lambda * pop[head[x]] * pop[head[y]]
					if !yield((noisy(x, y) - expect) / spread(expect)) {
						return
					}
				}
			}
		})
	}
	for x := 0; x < h; x++ {
		ni := pop[head[x]]
		var row []edge
		for y := 0; y < h; y++ {
			if y == x {
				continue
			}
			expect := ev.lambda * ni * pop[head[y]]
			if keep != nil {
				r := noisy(x, y) - expect
				if w := keep(r / spread(expect)); r > 0 && w > 0 {
					row = append(row, edge{to: head[y], excess: w * r, support: expect + w*r})
				}
				continue
			}
			t := z * spread(expect)
			ex := 0.0
			if r := noisy(x, y) - expect; r > t && r > 0 {
				ex = r - t*t/r
			}
			if part != nil {
				ex += part[triIndex(min(x, y), max(x, y), h)]
			}
			if ex > 0 {
				row = append(row, edge{to: head[y], excess: ex, support: expect + ex})
			}
		}
		ev.rows[head[x]] = row
	}
	return ev
}

// pairFDR is the false discovery rate pairThreshold aims at. Measured
// (benchmarks/RESULTS.md): 0.1 kept too little of the broad, weak signal of
// the synthetic shops; 0.5 let noise through on baskets without any pair
// structure at ε = 4; 0.3 was level with or better than the universal
// threshold everywhere.
const pairFDR = 0.3

// pairThreshold returns the threshold on standardized residuals z (each
// pair's residual over its spread) above which a pair is evidence, for h
// head items and pair noise sigma.
//
// The residuals are about symmetric around 0 for pairs without signal
// (headEvidence mirrors them so where sampling would skew them), so the
// pairs below −τ estimate how many of those above τ are noise: the
// threshold is the smallest τ ≥ 1 at which that estimate,
// (#{z < −τ} + 1)/#{z > τ}, is at most pairFDR (a target-decoy estimate of
// the false discovery rate). It adapts to the data: on counts without pair
// structure no τ qualifies, and where many pairs carry weak signal a low τ
// keeps them. Where no τ below the family-wise threshold sqrt(2·ln(pairs))
// qualifies, and always without noise (the exact reference), the
// family-wise threshold, which a pair without signal clears about once in
// the whole matrix.
//
// With universal (Laplace noise below σ = 1, see headEvidence) it is the
// universal threshold sqrt(2·ln(h−1)), which a row's pairs without signal
// clear about once in sqrt(π·ln h) rows. That was the rule below σ = 1 for
// Gaussian noise too, until it measured too strict there: more budget gave
// a worse model (on the synthetic shop of 100k users, NDCG@10 0.120 at
// ε = 4 and 0.104 at ε = 8).
func pairThreshold(h int, sigma float64, universal bool, residuals iter.Seq[float64]) float64 {
	pairs := float64(h) * float64(h-1) / 2
	fw := math.Sqrt(2 * math.Log(pairs))
	switch {
	case sigma == 0:
		return fw
	case universal:
		return math.Sqrt(2 * math.Log(float64(h-1)))
	}
	var zs []float64
	for z := range residuals {
		zs = append(zs, z)
	}
	slices.Sort(zs)
	above := func(t float64) int { // #{z > t}
		i, _ := slices.BinarySearch(zs, math.Nextafter(t, math.Inf(1)))
		return len(zs) - i
	}
	below := func(t float64) int { // #{z < −t}
		i, _ := slices.BinarySearch(zs, -t)
		return i
	}
	for t := 1.0; t < fw; t += 0.05 {
		if pos := above(t); pos > 0 && float64(below(t)+1) <= pairFDR*float64(pos) {
			return t
		}
	}
	return fw
}

// localFDRWeights returns, for a standardized residual z, the estimated
// chance that a pair with that residual carries signal: 1 − lfdr(z), where
// lfdr(z) = (#{decoys in [−z−b, −z+b]} + 1) / #{residuals in [z−b, z+b]} (pairs
// without signal are about symmetric around 0 when noise dominates, so
// the negative residuals stand for the noise among the positive ones),
// with b = 0.25, capped at 1 and made non-increasing in z. Residuals ≤ 0
// weigh 0.
func localFDRWeights(residuals iter.Seq[float64]) func(z float64) float64 {
	var zs []float64
	for z := range residuals {
		zs = append(zs, z)
	}
	slices.Sort(zs)
	count := func(lo, hi float64) int { // #{lo <= z < hi}
		i, _ := slices.BinarySearch(zs, lo)
		j, _ := slices.BinarySearch(zs, hi)
		return j - i
	}
	const step, b = 0.05, 0.25
	top := zs[len(zs)-1]
	var lfdr []float64 // on the grid 0, step, 2·step, ... up to top
	lowest := 1.0
	for t := 0.0; t <= top+step; t += step {
		l := 1.0
		if pos := count(t-b, t+b); pos > 0 {
			l = min(1, float64(count(-t-b, -t+b)+1)/float64(pos))
		}
		lowest = min(lowest, l)
		lfdr = append(lfdr, lowest)
	}
	return func(z float64) float64 {
		if z <= 0 {
			return 0
		}
		i := min(int(z/step), len(lfdr)-1)
		return 1 - lfdr[i]
	}
}

// maxLowRankHead is the largest head whose pair matrix gets a low-rank
// part: the eigendecomposition costs O(h³) (about 0.1 s at the default
// 500 head items, 1 s at 1000).
const maxLowRankHead = 1000

// lowRankPart returns the part of the head pair residuals
// r_xy = vals_xy − λ·n_x·n_y that a few broad patterns of co-purchase
// explain, in the packed upper triangle (nil when none stands out), and
// how many patterns it holds.
//
// The residuals are first standardized by their spread
// s_xy = sqrt(σ² + max(λ·n_x·n_y, 1)) (noise and sampling), so that
// without signal the matrix is a symmetric noise matrix with unit
// variance, whose eigenvalues stay below the edge 2·sqrt(h) of the
// semicircle. Each eigencomponent above the edge is kept with its
// eigenvalue l shrunk to the θ with l = θ + h/θ (the spiked-Wigner bias);
// negative ones (patterns of avoidance, or misfit of the independence
// model) are not evidence and are left out. The part is that projection
// scaled back by s_xy. It is post-processing of released counts.
func lowRankPart(vals, pop []float64, head []uint32, lambda, sigma float64) ([]float64, int) {
	h := len(head)
	spread := func(x, y int) float64 {
		return math.Sqrt(sigma*sigma + max(lambda*pop[head[x]]*pop[head[y]], 1))
	}
	a := mat.NewSymDense(h, nil)
	for x := range h {
		for y := x + 1; y < h; y++ {
			a.SetSym(x, y, (vals[triIndex(x, y, h)]-lambda*pop[head[x]]*pop[head[y]])/spread(x, y))
		}
	}
	var es mat.EigenSym
	if !es.Factorize(a, true) {
		return nil, 0
	}
	edge := 2 * math.Sqrt(float64(h))
	var cols []int
	var theta []float64
	for i, l := range es.Values(nil) {
		if l > edge {
			cols = append(cols, i)
			theta = append(theta, (l+math.Sqrt(l*l-edge*edge))/2)
		}
	}
	if len(cols) == 0 {
		return nil, 0
	}
	var vectors mat.Dense
	es.VectorsTo(&vectors)
	part := make([]float64, len(vals))
	for x := range h {
		for y := x + 1; y < h; y++ {
			r := 0.0
			for j, c := range cols {
				r += theta[j] * vectors.At(x, c) * vectors.At(y, c)
			}
			part[triIndex(x, y, h)] = r * spread(x, y)
		}
	}
	return part, len(cols)
}

// triIndex maps x < y < h to a position in the packed upper triangle.
func triIndex(x, y, h int) int { return x*(2*h-x-1)/2 + (y - x - 1) }

// thresholdEvidence noises the count of every pair some user has and keeps
// those above the DP library's threshold. Unreleased pairs are unknown, so no
// independence model is fitted: a released count is all excess.
func thresholdEvidence(b *builder, c counter) (evidence, error) {
	counts := make(map[uint64]int64)
	buf := make([]uint32, 0, b.o.K)
	b.st.ForEachUser(func(items []uint32) {
		buf = append(buf[:0], items...)
		slices.Sort(buf)
		for x := 0; x < len(buf); x++ {
			for y := x + 1; y < len(buf); y++ {
				counts[uint64(buf[x])<<32|uint64(buf[y])]++
			}
		}
	})
	ev := evidence{rows: make([][]edge, b.cat.Len())}
	for key, n := range counts {
		noisy, err := c.Noisy(n)
		if err != nil {
			return evidence{}, err
		}
		if !c.Keep(noisy) {
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
// ε measured. Its effect grows with the pair noise (see neighborEvidence),
// so noisy models lean on popularity.
const popularityWeight = 0.02

// neighborEvidence derives the model's neighbour lists from the evidence,
// with smoothing s (the pair noise's σ, at least 1):
//
//	base[i]       = popularityWeight · s · (λ·n_i·Σn + s) / (n_i + s)
//	weight[i][j]  = e_ij / sqrt((n_i + s)·(n_j + s))
//
// for the top n neighbours j of i by weight. A context of items i then
// scores j with Σ_i base_i·p_j + weight_ij (see recommend.Model).
func neighborEvidence(pop []float64, ev evidence, s float64, n int) (recommend.Evidence, error) {
	total := 0.0
	for _, p := range pop {
		total += p
	}
	base := make([]float32, len(pop))
	lists := make([][]recommend.Neighbor, len(pop))
	for i := range pop {
		ni := pop[i]
		base[i] = float32(popularityWeight * s * (ev.lambda*ni*total + s) / (ni + s))
		row := ev.rows[i]
		weight := func(e edge) float64 { return e.excess / math.Sqrt((ni+s)*(pop[e.to]+s)) }
		slices.SortFunc(row, func(x, y edge) int {
			if c := cmp.Compare(weight(y), weight(x)); c != 0 {
				return c
			}
			return cmp.Compare(x.to, y.to)
		})
		row = row[:min(len(row), n)]
		if len(row) > 0 {
			lists[i] = make([]recommend.Neighbor, len(row))
		}
		for k, e := range row {
			lists[i][k] = recommend.Neighbor{Item: int(e.to), Weight: float32(weight(e)), Support: float32(e.support)}
		}
	}
	return recommend.NewNeighborEvidence(base, lists)
}
