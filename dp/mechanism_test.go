package dp

import (
	"math"
	"testing"

	"github.com/google/differential-privacy/go/v2/noise"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanSpendsWhatItReports(t *testing.T) {
	cases := []struct {
		name string
		p    Params
	}{
		{"gaussian head", Params{Epsilon: 1, Delta: 1e-6}},
		{"gaussian threshold", Params{Epsilon: 2, Delta: 1e-6, Pairs: ThresholdPairs}},
		{"gaussian small eps", Params{Epsilon: 0.1, Delta: 1e-8, MaxItemsPerUser: 4}},
		{"gaussian big eps", Params{Epsilon: 8, Delta: 1e-5, MaxItemsPerUser: 32, ItemShare: 0.6}},
		{"laplace head", Params{Epsilon: 1, Mechanism: Laplace}},
		{"laplace threshold", Params{Epsilon: 1, Delta: 1e-6, Mechanism: Laplace, Pairs: ThresholdPairs}},
		{"K=1 has no pairs", Params{Epsilon: 1, Delta: 1e-6, MaxItemsPerUser: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := NewPlan(tc.p)
			require.NoError(t, err)
			p := plan.Params
			k := int64(p.MaxItemsPerUser)

			// The reported cost is the sum of the counters' costs...
			want := plan.Items.Cost()
			if plan.Pairs != nil {
				want = want.Add(plan.Pairs.Cost())
			}
			assert.Equal(t, want, plan.Cost)
			// ...its ε is the accountant's, and within rounding of what was asked.
			eps, err := plan.Cost.Epsilon(p.Delta)
			require.NoError(t, err)
			assert.Equal(t, eps, plan.Epsilon)
			assert.LessOrEqual(t, plan.Epsilon, p.Epsilon*(1+1e-9))
			assert.GreaterOrEqual(t, plan.Epsilon, p.Epsilon*0.98)

			// Each counter's cost follows from the σ it uses.
			l0, lInf := plan.Items.Sensitivity()
			assert.Equal(t, k, l0)
			assert.Equal(t, int64(1), lInf)
			switch p.Mechanism {
			case Gaussian:
				assert.InEpsilon(t, float64(k)/(2*plan.Items.Sigma()*plan.Items.Sigma()), plan.Items.Cost().Rho, 1e-12)
			case Laplace:
				assert.InEpsilon(t, float64(k)/plan.Items.Cost().PureEpsilon*math.Sqrt2, plan.Items.Sigma(), 1e-12)
			}
			// An engine that draws noise through the DP library with the
			// counter's LibraryParams gets exactly the counter's σ.
			for _, c := range []*Counter{plan.Items, plan.Pairs} {
				if c == nil {
					continue
				}
				eps, delta := c.LibraryParams()
				l0, lInf := c.Sensitivity()
				switch p.Mechanism {
				case Gaussian:
					assert.Equal(t, noise.SigmaForGaussian(l0, float64(lInf), eps, delta), c.Sigma())
				case Laplace:
					assert.Zero(t, delta)
					assert.InEpsilon(t, math.Sqrt2*float64(l0*lInf)/eps, c.Sigma(), 1e-12)
				}
			}
			if k == 1 {
				assert.Nil(t, plan.Pairs)
				return
			}
			require.NotNil(t, plan.Pairs)
			pl0, _ := plan.Pairs.Sensitivity()
			assert.Equal(t, PairsPerUser(int(k)), pl0)
			if p.Pairs == ThresholdPairs {
				assert.Greater(t, plan.Pairs.Threshold(), 1.0)
				assert.Positive(t, plan.Cost.Delta)
			} else {
				assert.Zero(t, plan.Cost.Delta)
			}
		})
	}
}

func TestPlanRejectsInvalidParams(t *testing.T) {
	_, err := NewPlan(Params{Epsilon: math.NaN(), Delta: 1e-6})
	require.Error(t, err)
	var pe *ParamError
	require.ErrorAs(t, err, &pe)
}

func TestCounterConstructorsRejectBadArguments(t *testing.T) {
	_, err := NewGaussianCounter(0, 1, 1)
	require.Error(t, err)
	_, err = NewGaussianCounter(1, 1, math.NaN())
	require.Error(t, err)
	_, err = NewGaussianCounter(1, 1, -1)
	require.Error(t, err)
	_, err = NewLaplaceCounter(1, 0, 1)
	require.Error(t, err)
	_, err = NewLaplaceCounter(1, 1, math.Inf(1))
	require.Error(t, err)
	c, err := NewLaplaceCounter(1, 1, 1)
	require.NoError(t, err)
	_, err = c.WithThreshold(0)
	require.Error(t, err)
}

// Statistical test of the noise scale. With n samples the sample standard
// deviation s of a distribution with kurtosis κ has relative standard error
// about sqrt((κ-1)/(4n)): κ = 3 (Gaussian) or 6 (Laplace). We accept
// |s/σ − 1| below 5 standard errors, and |mean| below 5 standard errors of
// the mean: each check fails by chance with probability below 6e-7, so the
// whole test (8 checks) below 5e-6.
func TestNoiseHasPromisedStandardDeviation(t *testing.T) {
	const n = 20000
	gPlan, err := NewPlan(Params{Epsilon: 1, Delta: 1e-6, MaxItemsPerUser: 8})
	require.NoError(t, err)
	lPlan, err := NewPlan(Params{Epsilon: 1, Mechanism: Laplace, MaxItemsPerUser: 4})
	require.NoError(t, err)
	cases := []struct {
		name     string
		c        *Counter
		kurtosis float64
	}{
		{"gaussian items", gPlan.Items, 3},
		{"gaussian pairs", gPlan.Pairs, 3},
		{"laplace items", lPlan.Items, 6},
		{"laplace pairs", lPlan.Pairs, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			xs := make([]int64, n)
			for i := range xs {
				xs[i] = 1000
			}
			require.NoError(t, tc.c.NoisyAll(xs))
			var sum, sq float64
			for _, x := range xs {
				d := float64(x - 1000)
				sum += d
				sq += d * d
			}
			mean := sum / n
			sd := math.Sqrt(sq/n - mean*mean)
			sigma := tc.c.Sigma()
			// Integer noise adds a rounding variance of at most 1/12.
			sigmaInt := math.Sqrt(sigma*sigma + 1.0/12)
			se := math.Sqrt((tc.kurtosis - 1) / (4 * n))
			assert.InDelta(t, 1, sd/sigmaInt, 5*se+0.002, "σ=%v sample sd=%v", sigma, sd)
			assert.InDelta(t, 0, mean, 5*sigma/math.Sqrt(n), "mean")
		})
	}
}

// A count created by one user (value LInf = 1) must clear the threshold with
// probability at most δ_p = 1 − (1 − δ_sel)^(1/L0) per partition, as the DP
// library's threshold promises. Over n = 200000 such counts the number of hits
// is at most Binomial(n, δ_p), mean λ = n·δ_p ≈ 33; we fail above λ + 7·sqrt(λ)
// + 2, which a correct threshold exceeds with probability below 1e-9.
func TestThresholdRarelyReleasesSingleUserCounts(t *testing.T) {
	plan, err := NewPlan(Params{Epsilon: 1, Delta: 2e-2, Pairs: ThresholdPairs, MaxItemsPerUser: 4})
	require.NoError(t, err)
	c := plan.Pairs
	l0, _ := c.Sensitivity()
	const n = 50000
	selDelta := plan.Params.Delta * plan.Params.SelectionDeltaShare
	lambda := n * (1 - math.Pow(1-selDelta, 1/float64(l0)))
	hits := 0
	for range n {
		y, err := c.Noisy(1)
		require.NoError(t, err)
		if c.Keep(y) {
			hits++
		}
	}
	assert.LessOrEqual(t, float64(hits), lambda+7*math.Sqrt(lambda)+2, "λ = %v", lambda)
	big, err := c.Noisy(int64(c.Threshold()) + int64(20*c.Sigma()))
	require.NoError(t, err)
	assert.True(t, c.Keep(big))
}
