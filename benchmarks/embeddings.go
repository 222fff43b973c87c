package benchmarks

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/privrec/privrec/dp"
)

// EmbeddingOptions configure FitEmbeddings: private alternating least
// squares in the "billboard" model (Chien et al., ICML 2021, "Private
// Alternating Least Squares"), measured here against the library's
// release and not shipped in it (see FitEmbeddings).
type EmbeddingOptions struct {
	// Dim is the factors' dimension; default 32.
	Dim int
	// Iterations is the number of item steps; each one spends budget.
	// Default 5.
	Iterations int
	// HeadSize is how many items, the most popular by released counts,
	// get factors; default 1000.
	HeadSize int
	// K bounds the items a user counts for, as in release.Options;
	// default 16.
	K int
	// ItemShare is the share of ρ spent on the item counts that choose
	// the head and rank the rest; default 0.3.
	ItemShare float64
	// GramShare is the share of each iteration's ρ spent on the global
	// Gramian; default 0.05.
	GramShare float64
	// RareWeight a weights a user's items by (n_min/n_i)^a, favouring rarer
	// items (Chien et al. use a = 1/4); default 0, every item 1.
	RareWeight float64
	// Ridge is λ in every least-squares solve; default 1.
	Ridge float64
	// Confidence α weighs a user's own items 1 + α against every other
	// item's 0 (implicit-feedback ALS, Hu et al. 2008); default 0: the
	// plain least-squares fit of the 0/1 matrix.
	Confidence float64
}

func (o EmbeddingOptions) withDefaults() EmbeddingOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Dim, 32)
	def(&o.Iterations, 5)
	def(&o.HeadSize, 1000)
	def(&o.K, 16)
	if o.ItemShare == 0 {
		o.ItemShare = 0.3
	}
	if o.GramShare == 0 {
		o.GramShare = 0.05
	}
	if o.Ridge == 0 {
		o.Ridge = 1
	}
	return o
}

func (o EmbeddingOptions) validate() error {
	switch {
	case o.Dim < 1 || o.Iterations < 1 || o.HeadSize < 1 || o.K < 1:
		return fmt.Errorf("embeddings: Dim, Iterations, HeadSize and K must be ≥ 1 (%d, %d, %d, %d)", o.Dim, o.Iterations, o.HeadSize, o.K)
	case !(o.ItemShare > 0 && o.ItemShare < 1), !(o.GramShare > 0 && o.GramShare < 1):
		return fmt.Errorf("embeddings: ItemShare %v and GramShare %v must be in (0, 1)", o.ItemShare, o.GramShare)
	case !(o.RareWeight >= 0 && o.RareWeight <= 4), !(o.Ridge > 0) || math.IsInf(o.Ridge, 0),
		!(o.Confidence >= 0 && o.Confidence <= 1e6):
		return fmt.Errorf("embeddings: RareWeight %v must be in [0, 4], Ridge %v finite and > 0, Confidence %v in [0, 1e6]", o.RareWeight, o.Ridge, o.Confidence)
	}
	return nil
}

// String describes o for tables.
func (o EmbeddingOptions) String() string {
	o = o.withDefaults()
	s := fmt.Sprintf("d = %d, %d iterations, head %d", o.Dim, o.Iterations, o.HeadSize)
	if o.RareWeight != 0 {
		s += fmt.Sprintf(", items weighted n^-%g", o.RareWeight)
	}
	if o.Confidence != 0 {
		s += fmt.Sprintf(", confidence α = %g", o.Confidence)
	}
	return s
}

// Embeddings is a fitted item-embedding model. It ranks a user's next
// items from the factors of the items in their context, solved at query
// time (the user's factor is never released), and implements Scorer.
type Embeddings struct {
	opts   EmbeddingOptions
	counts []float64 // released users per item
	order  []int32   // items by released count, largest first
	head   []int32   // items with factors: order[:len(head)]
	pos    map[int32]int
	v      *mat.Dense // head × dim item factors
	gram   *mat.Dense // vᵀv
	// Plan is the calibration the fit spent (nil without noise).
	Plan *dp.Plan

	scores []float64
	ranked []int
	seen   map[int32]bool
}

// contribution is what one user adds to an iteration's sufficient
// statistics: their clipped factor u (unit norm) added, with weight w_i ≤ 1,
// to the sum of each of their head items, and uuᵀ to the Gramian. Its
// L2 norm over the sums is at most sqrt(K) and over the Gramian's upper
// triangle at most 1: the sensitivities the plan charges for.
type contribution struct {
	u     []float64
	items []int // head positions
}

// FitEmbeddings fits item factors on s's training items by private
// alternating least squares: each user counts for at most K random items;
// item counts (noisy, integer) choose the head; from random (public) item
// factors, each iteration solves every user's factor from their head items
// (a ridge regression on the current factors), normalizes it to unit norm,
// and releases, with Gaussian noise, the weighted sum of user factors per
// head item and the Gramian of all user factors (projected to positive
// semi-definite); the new item factors are the sums times the inverse of
// Gramian + λI. Only item factors and counts leave the fit.
//
// eps = +Inf fits without noise. Otherwise the fit is (eps, delta)-DP at
// the user level by the plan it returns in Embeddings.Plan: the parts
// "item counts" (L0 = K, LInf = 1), and per iteration t "item sums t"
// (L0 = K, LInf = 1: unit factors, weights ≤ 1) and "Gramian t" (L0 = 1,
// LInf = 1: ‖uuᵀ‖_F = 1), composed as Gaussian mechanisms. Noise is drawn
// by the DP library through dp.Counter.
//
// The harness measures this mechanism side by side with the library's pair
// release (issue 13); it is not a release mechanism of the library because
// it lost to it on the real co-occurrence structure (see RESULTS.md).
func FitEmbeddings(s Split, eps, delta float64, o EmbeddingOptions, seed uint64) (*Embeddings, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	private := !math.IsInf(eps, 1)
	var plan *dp.Plan
	if private {
		parts := []dp.PartSpec{{Name: "item counts", L0: int64(o.K), LInf: 1, Share: o.ItemShare}}
		per := (1 - o.ItemShare) / float64(o.Iterations)
		for t := range o.Iterations {
			parts = append(parts,
				dp.PartSpec{Name: fmt.Sprintf("item sums %d", t+1), L0: int64(o.K), LInf: 1, Share: per * (1 - o.GramShare)},
				dp.PartSpec{Name: fmt.Sprintf("Gramian %d", t+1), L0: 1, LInf: 1, Share: per * o.GramShare})
		}
		var err error
		plan, err = dp.NewPlan(dp.PlanOptions{Epsilon: eps, Delta: delta, Noise: dp.Gaussian, Parts: parts})
		if err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0xe3b))
	users := boundUsers(s.Train, o.K, rng)

	e := &Embeddings{opts: o, Plan: plan, pos: map[int32]int{}}
	counts := make([]int64, s.Items)
	for _, items := range users {
		for _, it := range items {
			counts[it]++
		}
	}
	e.counts = make([]float64, s.Items)
	for i, c := range counts {
		if private {
			n, err := plan.Part("item counts").Noisy(c)
			if err != nil {
				return nil, fmt.Errorf("embeddings: %w", err)
			}
			c = n
		}
		e.counts[i] = float64(c)
	}
	e.order = make([]int32, s.Items)
	for i := range e.order {
		e.order[i] = int32(i)
	}
	slices.SortStableFunc(e.order, func(a, b int32) int { return cmp.Compare(e.counts[b], e.counts[a]) })
	e.head = e.order[:min(o.HeadSize, s.Items)]
	for k, it := range e.head {
		e.pos[it] = k
	}
	h, d := len(e.head), o.Dim
	weights := make([]float64, h)
	minCount := math.Max(1, e.counts[e.head[h-1]])
	for k, it := range e.head {
		weights[k] = math.Pow(minCount/math.Max(minCount, e.counts[it]), o.RareWeight)
	}
	// Each user's head items, as positions, once.
	heads := make([][]int, len(users))
	for u, items := range users {
		for _, it := range items {
			if k, ok := e.pos[it]; ok {
				heads[u] = append(heads[u], k)
			}
		}
	}

	v := mat.NewDense(h, d, nil)
	for k := range h {
		for j := range d {
			v.Set(k, j, rng.NormFloat64()/math.Sqrt(float64(d)))
		}
	}
	for t := range o.Iterations {
		sums, gram := userStep(v, heads, weights, o.Ridge, o.Confidence)
		if private {
			if err := addNoise(sums.RawMatrix().Data, plan.Part(fmt.Sprintf("item sums %d", t+1))); err != nil {
				return nil, err
			}
			if err := addSymNoise(gram, plan.Part(fmt.Sprintf("Gramian %d", t+1))); err != nil {
				return nil, err
			}
		}
		projectPSD(gram)
		for j := range d {
			gram.SetSym(j, j, gram.At(j, j)+o.Ridge)
		}
		var ch mat.Cholesky
		if !ch.Factorize(gram) {
			return nil, fmt.Errorf("embeddings: iteration %d: Gramian not positive definite", t+1)
		}
		var inv mat.SymDense
		if err := ch.InverseTo(&inv); err != nil {
			return nil, fmt.Errorf("embeddings: iteration %d: %w", t+1, err)
		}
		next := mat.NewDense(h, d, nil)
		next.Mul(sums, &inv)
		v = next
	}
	e.v = v
	e.gram = mat.NewDense(d, d, nil)
	e.gram.Mul(v.T(), v)
	return e, nil
}

// boundUsers keeps at most k random distinct items per user.
func boundUsers(train [][]int32, k int, rng *rand.Rand) [][]int32 {
	out := make([][]int32, len(train))
	for u, items := range train {
		items = slices.Clone(items)
		rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		out[u] = items[:min(k, len(items))]
	}
	return out
}

// userStep solves every user's factor from the current item factors v and
// returns the iteration's exact sufficient statistics: per head item the
// weighted sum of its users' unit factors, and the Gramian of all users'
// factors. Users are split across goroutines, each with its own sums.
func userStep(v *mat.Dense, heads [][]int, weights []float64, ridge, alpha float64) (*mat.Dense, *mat.SymDense) {
	h, d := v.Dims()
	base := itemGramian(v, ridge)
	workers := runtime.GOMAXPROCS(0)
	sums := make([]*mat.Dense, workers)
	grams := make([]*mat.SymDense, workers)
	var wg sync.WaitGroup
	for w := range workers {
		sums[w], grams[w] = mat.NewDense(h, d, nil), mat.NewSymDense(d, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			lhs := mat.NewSymDense(d, nil)
			rhs := mat.NewVecDense(d, nil)
			u := mat.NewVecDense(d, nil)
			var ch mat.Cholesky
			for i := w; i < len(heads); i += workers {
				c := contribute(v, heads[i], weights, base, alpha, lhs, rhs, u, &ch)
				if c.u == nil {
					continue
				}
				grams[w].SymRankOne(grams[w], 1, u)
				for _, k := range c.items {
					row := sums[w].RawRowView(k)
					for j, x := range c.u {
						row[j] += weights[k] * x
					}
				}
			}
		}()
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		sums[0].Add(sums[0], sums[w])
		grams[0].AddSym(grams[0], grams[w])
	}
	return sums[0], grams[0]
}

// itemGramian returns VᵀV + λI: every head item as an implicit 0 in a
// user's least-squares fit. It is computed from released factors.
func itemGramian(v *mat.Dense, ridge float64) *mat.SymDense {
	_, d := v.Dims()
	g := mat.NewSymDense(d, nil)
	g.SymOuterK(1, v.T())
	for j := range d {
		g.SetSym(j, j, g.At(j, j)+ridge)
	}
	return g
}

// contribute solves one user's factor over their head items I,
// u = (base + α Σ_I w_i v_i v_iᵀ)⁻¹ (1 + α) Σ_I w_i v_i with base = VᵀV + λI
// (the least-squares fit of 1 on the user's items and 0 elsewhere, the
// user's items weighted 1 + α), and clips it to unit norm. It returns a
// zero contribution for a user without head items or a degenerate solve.
func contribute(v *mat.Dense, items []int, weights []float64, base *mat.SymDense, alpha float64, lhs *mat.SymDense, rhs, u *mat.VecDense, ch *mat.Cholesky) contribution {
	if len(items) == 0 {
		return contribution{}
	}
	_, d := v.Dims()
	lhs.CopySym(base)
	rhs.Zero()
	for _, k := range items {
		row := mat.NewVecDense(d, v.RawRowView(k))
		if alpha != 0 {
			lhs.SymRankOne(lhs, alpha*weights[k], row)
		}
		rhs.AddScaledVec(rhs, weights[k], row)
	}
	if !ch.Factorize(lhs) || ch.SolveVecTo(u, rhs) != nil {
		return contribution{}
	}
	n := mat.Norm(u, 2)
	if !(n > 0) || math.IsInf(n, 0) {
		return contribution{}
	}
	u.ScaleVec(1/n, u)
	return contribution{u: u.RawVector().Data, items: items}
}

func addNoise(xs []float64, p *dp.Part) error {
	for i, x := range xs {
		y, err := p.NoisyFloat(x)
		if err != nil {
			return fmt.Errorf("embeddings: %w", err)
		}
		xs[i] = y
	}
	return nil
}

// addSymNoise adds noise to the upper triangle of a (diagonal included),
// the values a user's uuᵀ changes by at most its Frobenius norm.
func addSymNoise(a *mat.SymDense, p *dp.Part) error {
	n := a.SymmetricDim()
	for i := range n {
		for j := i; j < n; j++ {
			y, err := p.NoisyFloat(a.At(i, j))
			if err != nil {
				return fmt.Errorf("embeddings: %w", err)
			}
			a.SetSym(i, j, y)
		}
	}
	return nil
}

// projectPSD sets a's negative eigenvalues to zero (post-processing).
func projectPSD(a *mat.SymDense) {
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	a.Zero()
	for i, l := range vals {
		if l > 0 {
			a.SymRankOne(a, l, vecs.ColView(i))
		}
	}
}

// Name implements Scorer.
func (e *Embeddings) Name() string { return "item embeddings (DP-ALS), " + e.opts.String() }

// Recommend implements Scorer: the user's factor is solved from the
// factors of their training items in the head as in the fit (without
// clipping), and head items are ranked by v_j·u; the rest follow by
// released count. A user with no head item gets the most popular items.
func (e *Embeddings) Recommend(train []int32, n int, out []int32) []int32 {
	h, d := e.v.Dims()
	if e.scores == nil {
		e.scores, e.ranked, e.seen = make([]float64, h), make([]int, h), map[int32]bool{}
	}
	clear(e.seen)
	lhs := mat.NewSymDense(d, nil)
	rhs := mat.NewVecDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			lhs.SetSym(i, j, e.gram.At(i, j))
		}
		lhs.SetSym(i, i, lhs.At(i, i)+e.opts.Ridge)
	}
	any := false
	for _, it := range train {
		e.seen[it] = true
		if k, ok := e.pos[it]; ok {
			row := mat.NewVecDense(d, e.v.RawRowView(k))
			lhs.SymRankOne(lhs, e.opts.Confidence, row)
			rhs.AddVec(rhs, row)
			any = true
		}
	}
	var u mat.VecDense
	var ch mat.Cholesky
	if any && ch.Factorize(lhs) && ch.SolveVecTo(&u, rhs) == nil {
		for k := range h {
			e.scores[k] = mat.Dot(mat.NewVecDense(d, e.v.RawRowView(k)), &u)
		}
	} else {
		for k := range h {
			e.scores[k] = -float64(k)
		}
	}
	for k := range e.ranked {
		e.ranked[k] = k
	}
	slices.SortStableFunc(e.ranked, func(a, b int) int { return cmp.Compare(e.scores[b], e.scores[a]) })
	for _, k := range e.ranked {
		if len(out) == n {
			return out
		}
		if it := e.head[k]; !e.seen[it] {
			out = append(out, it)
		}
	}
	for _, it := range e.order[h:] {
		if len(out) == n {
			break
		}
		if !e.seen[it] {
			out = append(out, it)
		}
	}
	return out
}

// EmbeddingScalingRow is the item-embedding fit at one number of users:
// NDCG@10 with and without noise, and the private fit's cost.
type EmbeddingScalingRow struct {
	Users               int
	Epsilon             float64
	NonPrivate, Private float64
	// Seconds is the private fit's wall time (all cores), PeakHeap the
	// largest live heap sampled during it, above the heap before it.
	Seconds  float64
	PeakHeap uint64
}

// EmbeddingScaling fits item embeddings on data sets of the given sizes
// made by g, once without noise and once at eps (with delta), and measures
// NDCG@10 over at most evalUsers test users and the private fit's time
// and peak heap.
func EmbeddingScaling(g Generator, sizes []int, eps, delta float64, o EmbeddingOptions, evalUsers int, progress func(string)) ([]EmbeddingScalingRow, error) {
	var rows []EmbeddingScalingRow
	for _, n := range sizes {
		if progress != nil {
			progress(fmt.Sprintf("embeddings scaling, %s: %d users", g.Name, n))
		}
		_, split := g.Make(n)
		eval := split
		eval.Test = limitTest(split.Test, evalUsers)
		row := EmbeddingScalingRow{Users: n, Epsilon: eps}
		exact, err := FitEmbeddings(split, math.Inf(1), 0, o, 1)
		if err != nil {
			return nil, err
		}
		row.NonPrivate = Evaluate(eval, exact, 10).NDCG
		exact = nil
		before := heapInUse()
		stop := samplePeakHeap()
		start := time.Now()
		priv, err := FitEmbeddings(split, eps, delta, o, 1)
		row.Seconds = time.Since(start).Seconds()
		if peak := stop(); peak > before {
			row.PeakHeap = peak - before
		}
		if err != nil {
			return nil, err
		}
		row.Private = Evaluate(eval, priv, 10).NDCG
		rows = append(rows, row)
	}
	return rows, nil
}

// samplePeakHeap samples the live heap every 5 ms until the returned
// function is called, which returns the largest sample.
func samplePeakHeap() func() uint64 {
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var max uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > max {
				max = v
			}
			select {
			case <-done:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-peak
	}
}
