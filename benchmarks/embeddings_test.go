package benchmarks

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// clusterSplit is users who buy only within one of two item groups (items
// 0–9 and 10–19), 6 items each, one held out.
func clusterSplit(users int, seed uint64) Split {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := Split{Items: 20, Train: make([][]int32, users), Test: make([][]int32, users)}
	for u := range users {
		base := int32(10 * (u % 2))
		perm := rng.Perm(10)
		for _, p := range perm[:5] {
			s.Train[u] = append(s.Train[u], base+int32(p))
		}
		s.Test[u] = []int32{base + int32(perm[5])}
	}
	return s
}

func TestEmbeddingOptionsRefused(t *testing.T) {
	for _, o := range []EmbeddingOptions{
		{Dim: -1}, {Iterations: -2}, {ItemShare: 1}, {GramShare: -0.1},
		{RareWeight: -1}, {RareWeight: math.NaN()}, {Ridge: math.Inf(1)}, {Ridge: -1},
	} {
		_, err := FitEmbeddings(clusterSplit(10, 1), 1, 1e-6, o, 1)
		assert.Error(t, err, "%+v", o)
	}
}

// Each user's factor is clipped to unit norm and added, with weights ≤ 1,
// to at most K item sums: the L2 norm of one user's contribution is at most
// sqrt(K) over the sums and 1 over the Gramian, what the plan charges for.
func TestEmbeddingContributionBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const h, d, k = 50, 8, 4
	v := mat.NewDense(h, d, nil)
	for i := range h {
		for j := range d {
			v.Set(i, j, 50*rng.NormFloat64()) // large factors: norms far from 1
		}
	}
	weights := make([]float64, h)
	for i := range weights {
		weights[i] = rng.Float64()
	}
	users := boundUsers([][]int32{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {3}, {1, 2}}, k, rng)
	for _, items := range users {
		require.LessOrEqual(t, len(items), k)
		var pos []int
		for _, it := range items {
			pos = append(pos, int(it))
		}
		c := contribute(v, pos, weights, itemGramian(v, 0.01), 2, mat.NewSymDense(d, nil), mat.NewVecDense(d, nil), mat.NewVecDense(d, nil), &mat.Cholesky{})
		require.NotNil(t, c.u)
		assert.InDelta(t, 1, floatsNorm(c.u), 1e-9, "the user's factor is clipped to unit norm")
		l2 := 0.0
		for _, p := range c.items {
			require.LessOrEqual(t, weights[p], 1.0)
			l2 += weights[p] * weights[p] * floatsNorm(c.u) * floatsNorm(c.u)
		}
		assert.LessOrEqual(t, math.Sqrt(l2), math.Sqrt(k)+1e-9)
	}
	// The fit's plan charges exactly those sensitivities and spends ε.
	e, err := FitEmbeddings(clusterSplit(40, 1), 2, 1e-6, EmbeddingOptions{Dim: 4, Iterations: 3, K: k, RareWeight: 0.25}, 1)
	require.NoError(t, err)
	require.Len(t, e.Plan.Parts, 1+2*3)
	for _, p := range e.Plan.Parts {
		l2 := math.Sqrt(float64(p.L0)) * p.LInf
		if p.Name[0] == 'G' {
			assert.Equal(t, 1.0, l2, p.Name)
		} else {
			assert.Equal(t, math.Sqrt(k), l2, p.Name)
		}
	}
	assert.InDelta(t, 2, e.Plan.Epsilon, 0.01)
	assert.LessOrEqual(t, e.Plan.Epsilon, 2.0)
	for _, w := range []float64{0.25, 1} {
		e, err := FitEmbeddings(clusterSplit(40, 1), math.Inf(1), 0, EmbeddingOptions{Dim: 4, HeadSize: 20, RareWeight: w}, 1)
		require.NoError(t, err)
		minCount := e.counts[e.head[len(e.head)-1]]
		for _, it := range e.head {
			assert.LessOrEqual(t, math.Pow(minCount/e.counts[it], w), 1.0)
		}
	}
}

func floatsNorm(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// Users who buy within one of two groups: without noise the fitted
// factors rank a user's own group first and hold out items of it in the
// top 5; with noise at ε = 8 the same holds on all but rare fits.
func TestEmbeddingsLearnGroups(t *testing.T) {
	s := clusterSplit(200, 2)
	e, err := FitEmbeddings(s, math.Inf(1), 0, EmbeddingOptions{Dim: 2, Iterations: 5, K: 5}, 7)
	require.NoError(t, err)
	for _, ctx := range [][]int32{{0, 1, 2}, {15, 16}} {
		got := e.Recommend(ctx, 5, nil)
		require.Len(t, got, 5)
		for _, it := range got {
			assert.Equal(t, ctx[0]/10, it/10, "context %v ranked %v", ctx, got)
			assert.NotContains(t, ctx, it)
		}
	}
	assert.Greater(t, Evaluate(s, e, 5).HR, 0.9, "held-out item of the user's group in the top 5")

	// With noise. The fit's noise comes from the DP library's secure
	// source, so the test is statistical: 10 fits on 5,000 users at ε = 8
	// (item sums' σ ≈ 4 against sums of about 1,250 unit vectors); at least
	// 9 must reach HR@5 ≥ 0.9. One fit in several hundred separated the
	// groups only partly (HR 0.70, seen once in CI; 0 of 560 fits locally),
	// so with a per-fit failure rate p ≤ 0.005 the test fails with
	// probability C(10,2)·p² ≤ 1.2e-3.
	s = clusterSplit(5000, 3)
	good := 0
	for r := range 10 {
		e, err := FitEmbeddings(s, 8, 1e-6, EmbeddingOptions{Dim: 2, Iterations: 5, K: 5}, uint64(r+1))
		require.NoError(t, err)
		if Evaluate(s, e, 5).HR >= 0.9 {
			good++
		}
	}
	assert.GreaterOrEqual(t, good, 9, "fits at ε = 8 that rank the user's group first")
}
