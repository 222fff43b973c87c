package release

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/recommend"
)

// categoryConcentration inverts r = (α·S + 1)/(α + 1) one standard error
// below the released r, and refuses evidence within two standard errors
// of the popularity-only value S.
func TestCategoryConcentration(t *testing.T) {
	for _, tc := range []struct {
		name             string
		sum, n, sigma, s float64
	}{
		{"exact, strong", 500, 1000, 0, 0.2},
		{"exact, none", 200, 1000, 0, 0.2},
		{"few users", 0.5, 0.4, 0, 0.2},
		{"noisy, clear", 3000, 10000, 30, 0.1},
		{"noisy, within noise", 1100, 10000, 300, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alpha, note := categoryConcentration(tc.sum, tc.n, tc.sigma, tc.s)
			r := tc.sum / tc.n
			se := 0.0
			if tc.n >= 1 {
				se = math.Sqrt(tc.sigma*tc.sigma*(1+r*r)/(tc.n*tc.n) + r*(1-r)/tc.n)
			}
			if tc.n < 1 || r-tc.s <= 2*se {
				assert.Zero(t, alpha, note)
				assert.Contains(t, note, "no category evidence")
				return
			}
			lo := r - se
			assert.InDelta(t, (1-lo)/(lo-tc.s), alpha, 1e-12, note)
			// The model's r at that α is one standard error below the data's.
			assert.InDelta(t, lo, (alpha*tc.s+1)/(alpha+1), 1e-12)
			assert.Contains(t, note, "category evidence with concentration")
		})
	}
}

// categoryWindow adds users over testCatalog (categories "even", "odd",
// and i19 without): with loyal set, each user buys 4 items from one
// category; otherwise 4 items at random.
func categoryWindow(t *testing.T, loyal bool, users int) (*recommend.Catalog, *collect.Collector) {
	t.Helper()
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	for u := range users {
		parity := u % 2
		for _, p := range rng.Perm(9)[:4] {
			it := 2*p + parity
			if !loyal {
				it = rng.IntN(19)
			}
			add(t, c, u, fmt.Sprintf("i%02d", it))
		}
	}
	return cat, c
}

// Users who stay in their categories give category evidence with a small
// α; users who do not give none, or (with noise, by chance) a weak one.
// About 2000 users count, and the statistic's standard error is about
// 0.015 at ε = 1: loyal users (r = 1, S ≈ 0.5) give α ≈ 0.04, above 0.5
// only if the noise moved r by 15 standard errors; random users give
// α > 5 unless r exceeds S by 10 standard errors. Neither happens with a
// probability above 1e-20.
func TestCategoriesMechanism(t *testing.T) {
	for _, tc := range []struct {
		name    string
		loyal   bool
		private bool
	}{{"loyal, exact", true, false}, {"loyal, ε = 1", true, true}, {"random, exact", false, false}, {"random, ε = 1", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := categoryWindow(t, tc.loyal, 2000)
			o := Options{Epsilon: 1, Delta: 1e-6, K: 4, Mechanisms: Popularity | Categories, Logger: quiet}
			var m *recommend.Model
			var err error
			if tc.private {
				m, err = Private(context.Background(), c, testLedger(t), o)
			} else {
				m, err = Exact(c, o)
			}
			require.NoError(t, err)
			alpha := m.Report().Contents.CategoryConcentration
			if !tc.loyal {
				assert.True(t, alpha == 0 || alpha > 5, "α = %v: %v", alpha, m.Report().Privacy.Decisions)
				if !tc.private {
					assert.Zero(t, alpha)
				}
				return
			}
			// Every user's pairs are within one category: r = 1, so α is
			// as small as the release allows (exact) or close to it.
			assert.Positive(t, alpha)
			assert.Less(t, alpha, 0.5, "%v", m.Report().Privacy.Decisions)
			var res recommend.Result
			require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{"i02"}, N: 5}))
			for _, r := range res.Items {
				assert.Equal(t, recommend.ReasonCategory, r.Reason)
				assert.Equal(t, "even", r.Category)
			}
		})
	}
}

// Auto releases pairs where they carry signal and gives their budget to
// popularity where they do not; either way the report's parts spend no
// more than the plan the ledger was charged, and each part's σ is its
// counter's. The choice is robust to the noise: with 3000 users each
// bringing pair weight 2, an item's predicted strongest pair is about 67
// against a threshold of 14; with 200 users, about 3.4, and 5 standard
// deviations of the basket statistics' noise (σ ≈ 61 on their sum of
// about 340) would not lift it above 7.
func TestAutoChoosesAndSpendsThePlan(t *testing.T) {
	for _, tc := range []struct {
		name      string
		users     int
		strong    bool
		wantPairs bool
	}{
		{"strong pairs, many users", 3000, true, true},
		{"independent items, few users", 200, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat := testCatalog(t)
			c := testCollector(t, cat, 4)
			rng := rand.New(rand.NewPCG(3, 3))
			for u := range tc.users {
				if tc.strong {
					g := 2 * (u % 9) // users buy i(2g), i(2g+1) together
					add(t, c, u, fmt.Sprintf("i%02d", g))
					add(t, c, u, fmt.Sprintf("i%02d", g+1))
				} else {
					for range 3 {
						add(t, c, u, fmt.Sprintf("i%02d", rng.IntN(20)))
					}
				}
			}
			o := Options{Epsilon: 1, Delta: 1e-6, K: 4, Logger: quiet}
			ledger := testLedger(t)
			m, err := Private(context.Background(), c, ledger, o)
			require.NoError(t, err)
			plan, err := o.Plan(cat)
			require.NoError(t, err)
			r := m.Report()
			assert.Equal(t, "auto", r.Privacy.Requested)
			assert.Equal(t, tc.wantPairs, r.Privacy.Mechanisms == "popularity+pairs+categories", "%s: %v", r.Privacy.Mechanisms, r.Privacy.Decisions)
			assert.Equal(t, plan.Epsilon, r.Privacy.Epsilon)
			assert.Equal(t, plan.Cost.Rho, r.Privacy.Rho)
			var rho float64
			names := map[string]bool{}
			for _, p := range r.Privacy.Parts {
				names[p.Name] = true
				rho += p.Rho
				require.Positive(t, p.Sigma, p.Name)
				// ρ = Δ₂²/(2σ²) of the part's own sensitivity.
				l2 := math.Sqrt(float64(p.L0)) * p.LInf
				assert.InEpsilon(t, l2*l2/(2*p.Sigma*p.Sigma), p.Rho, 1e-9, p.Name)
			}
			assert.LessOrEqual(t, rho, plan.Cost.Rho*(1+1e-12), "the parts spend no more than was charged")
			assert.InEpsilon(t, plan.Cost.Rho, rho, 0.01, "and nearly all of it")
			assert.Equal(t, tc.wantPairs, names[partPairs])
			assert.Equal(t, !tc.wantPairs, names[partItemsSecond])
			if tc.wantPairs {
				var res recommend.Result
				require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{"i04"}, N: 1}))
				assert.Equal(t, "i05", res.Items[0].Item)
				assert.Equal(t, recommend.ReasonContext, res.Items[0].Reason)
			}
			sum, err := ledger.Summary(r.CreatedAt)
			require.NoError(t, err)
			assert.Equal(t, plan.Cost, sum.Charges[0].Cost)
		})
	}
}

// Without noise, Auto releases pairs over the whole head with the bound K.
func TestAutoExactReleasesPairs(t *testing.T) {
	_, c := categoryWindow(t, false, 300)
	m, err := Exact(c, Options{K: 4, HeadSize: 20, Logger: quiet})
	require.NoError(t, err)
	assert.Contains(t, m.Report().Privacy.Mechanisms, "pairs")
	assert.Contains(t, m.Report().Privacy.Decisions, "auto: no noise: pairs released among the 20 most popular items")
}

// pairThreshold on standardized residuals: pure noise gives the family-wise
// threshold (at most about one pair of the matrix passes), broad weak
// signal gives a low one, and without noise it is always family-wise.
// N(0, 1) noise over 124,750 pairs from fixed seeds: under noise alone, a
// τ below the family-wise one needs the decoys to undercount the targets
// by a factor of 3 at some τ ≥ 1, where both counts are in the thousands.
func TestPairThreshold(t *testing.T) {
	const h = 500
	n := h * (h - 1) / 2
	fw := math.Sqrt(2 * math.Log(float64(n)))
	rng := rand.New(rand.NewPCG(8, 9))
	noise := make([]float64, n)
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	assert.Equal(t, fw, pairThreshold(h, 5, false, slices.Values(noise)), "noise alone")
	broad := slices.Clone(noise)
	for i := range broad[:n/5] {
		broad[i] += 2 // a fifth of the pairs carry signal of two spreads
	}
	tau := pairThreshold(h, 5, false, slices.Values(broad))
	assert.Less(t, tau, 2.5, "broad signal lowers the threshold")
	assert.GreaterOrEqual(t, tau, 1.0)
	pos, neg := 0, 0
	for _, z := range broad {
		if z > tau {
			pos++
		}
		if z < -tau {
			neg++
		}
	}
	assert.LessOrEqual(t, float64(neg+1), pairFDR*float64(pos))
	assert.Equal(t, fw, pairThreshold(h, 0, false, slices.Values(broad)), "without noise, family-wise")
	assert.Equal(t, tau, pairThreshold(h, 0.5, false, slices.Values(broad)), "a little noise: the same rule")
	assert.Equal(t, math.Sqrt(2*math.Log(h-1)), pairThreshold(h, 0.5, true, slices.Values(broad)), "Laplace below σ = 1: universal")
}

// Where the noise is below one count, sampling dominates the spread of the
// pair counts and is skewed; headEvidence mirrors the residuals below
// expectation so that the decoys still stand for the chance excesses. On
// counts drawn from the independence model itself (300 head items with
// expectations from about 0.01 to 400, Poisson sampling plus noise of σ =
// 0.5), hardly any pair may pass as evidence. Without the mirroring the
// decoy rule kept about 1,200 of the 44,850 pairs on
// each seed; with it, at most a handful (over 50 seeds the most was 5), so
// the bound of 40 does not fail by chance.
func TestNoEvidenceFromSkewedSampling(t *testing.T) {
	const h, sigma = 300, 0.5
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 77))
		pop := make([]float64, h)
		head := make([]uint32, h)
		for i := range pop {
			pop[i] = math.Round(2000 / math.Pow(float64(i+1), 0.9))
			head[i] = uint32(i)
		}
		tri := make([]int64, h*(h-1)/2)
		for x := range h {
			for y := x + 1; y < h; y++ {
				tri[triIndex(x, y, h)] = poisson(rng, 1e-4*pop[x]*pop[y]) + int64(math.Round(sigma*rng.NormFloat64()))
			}
		}
		ev := headEvidence(pop, head, tri, sigma, dp.Gaussian, ScoringOptions{})
		kept := 0
		for _, row := range ev.rows {
			kept += len(row)
		}
		assert.LessOrEqual(t, kept/2, 40, "seed %d: pairs kept from counts without pair structure", seed)
	}
}

// poisson draws from the Poisson distribution with mean m: by inversion
// below 30, by the normal approximation (skew under 0.2) above.
func poisson(rng *rand.Rand, m float64) int64 {
	if m >= 30 {
		return max(0, int64(math.Round(m+math.Sqrt(m)*rng.NormFloat64())))
	}
	k, p := int64(0), math.Exp(-m)
	for u, cum := rng.Float64(), p; u > cum; cum += p {
		k++
		p *= m / float64(k)
	}
	return k
}

// Local FDR weights: residuals symmetric around 0 (no signal) weigh
// nothing; with a group of signal pairs added, large residuals weigh close
// to 1 and the weight never falls as the residual grows.
func TestLocalFDRWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	noise := make([]float64, 20000)
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	w := localFDRWeights(slices.Values(noise))
	for _, z := range []float64{0.5, 1, 2, 3} {
		assert.Less(t, w(z), 0.2, "pure noise at z = %v", z)
	}
	signal := slices.Clone(noise)
	for range 2000 {
		signal = append(signal, 4+rng.NormFloat64())
	}
	w = localFDRWeights(slices.Values(signal))
	assert.Greater(t, w(4), 0.95)
	assert.Zero(t, w(-1))
	prev := 0.0
	for z := 0.0; z < 6; z += 0.1 {
		assert.GreaterOrEqual(t, w(z), prev, "weight fell at z = %v", z)
		prev = w(z)
	}
}
