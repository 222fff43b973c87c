package dp

import (
	"math"
	"testing"

	"github.com/google/differential-privacy/go/v2/noise"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The accountant's Gaussian curve must agree with the DP library's own
// calibration: the σ the library picks for (ε, δ) must be worth ε back.
func TestGaussianCurveMatchesDPLibrary(t *testing.T) {
	cases := []struct {
		l0       int64
		eps, del float64
	}{
		{1, 0.1, 1e-5}, {1, 1, 1e-6}, {16, 1, 1e-6}, {120, 0.5, 1e-8}, {120, 4, 1e-5}, {3, 8, 1e-3},
	}
	for _, tc := range cases {
		sigma := noise.SigmaForGaussian(tc.l0, 1, tc.eps, tc.del)
		mu := math.Sqrt(float64(tc.l0)) / sigma
		got := epsilonFromGaussian(mu, tc.del)
		// The library's σ is within 0.1% above the tight one, so ε back is
		// slightly below the ε asked for, never above.
		assert.LessOrEqual(t, got, tc.eps*(1+1e-9), "%+v", tc)
		assert.InDelta(t, tc.eps, got, tc.eps*0.01+1e-3, "%+v", tc)
	}
}

func TestGaussianCurveRoundTrips(t *testing.T) {
	for _, mu := range []float64{0.01, 0.3, 1, 3, 10} {
		for _, d := range []float64{1e-12, 1e-6, 1e-3} {
			eps := epsilonFromGaussian(mu, d)
			if eps == 0 {
				assert.LessOrEqual(t, gaussianDelta(mu, 0), d)
				continue
			}
			assert.InEpsilon(t, d, gaussianDelta(mu, eps), 1e-6, "μ=%v δ=%v", mu, d)
			assert.InEpsilon(t, mu, muForGaussian(eps, d), 1e-6, "μ=%v δ=%v", mu, d)
		}
	}
	// Known value: μ = 1 is (0, 2Φ(1/2)−1)-DP, 2Φ(0.5)−1 = 0.38292492254802624.
	assert.InDelta(t, 0.38292492254802624, gaussianDelta(1, 0), 1e-12)
}

func TestZCDPConversion(t *testing.T) {
	for _, rho := range []float64{0.001, 0.05, 0.5, 2} {
		for _, d := range []float64{1e-9, 1e-6} {
			bs := rho + 2*math.Sqrt(rho*math.Log(1/d))
			got := epsilonFromZCDP(rho, d)
			exact := epsilonFromGaussian(math.Sqrt(2*rho), d)
			// CKS is never worse than Bun-Steinke, and no conversion of a
			// generic ρ-zCDP guarantee can beat the exact Gaussian curve.
			assert.LessOrEqual(t, got, bs, "ρ=%v δ=%v", rho, d)
			assert.GreaterOrEqual(t, got, exact*(1-1e-9), "ρ=%v δ=%v", rho, d)
		}
	}
	assert.Zero(t, epsilonFromZCDP(0, 1e-6))
}

func TestCostEpsilon(t *testing.T) {
	g := Cost{Rho: 0.1}
	l := Cost{PureEpsilon: 0.5, PureRho: 0.125}
	cases := []struct {
		name  string
		cost  Cost
		delta float64
		want  float64
		tol   float64
	}{
		{"zero", Cost{}, 1e-6, 0, 0},
		{"pure", l, 0, 0.5, 0},
		{"pure twice", l.Add(l), 0, 1, 0},
		{"gaussian", g, 1e-6, epsilonFromGaussian(math.Sqrt(0.2), 1e-6), 1e-12},
		// Gaussian mechanisms compose exactly: ρ adds up.
		{"gaussian composed", g.Add(g).Add(g), 1e-6, epsilonFromGaussian(math.Sqrt(0.6), 1e-6), 1e-12},
		{"threshold delta subtracted", Cost{Rho: 0.1, Delta: 5e-7}, 1e-6, epsilonFromGaussian(math.Sqrt(0.2), 5e-7), 1e-12},
		{"mixed", g.Add(l), 1e-6, math.Min(0.5+epsilonFromGaussian(math.Sqrt(0.2), 1e-6), epsilonFromZCDP(0.225, 1e-6)), 1e-12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cost.Epsilon(tc.delta)
			require.NoError(t, err)
			assert.InDelta(t, tc.want, got, tc.tol)
		})
	}
	// Many pure releases: zCDP composition beats adding ε.
	many := Cost{}
	for range 100 {
		many = many.Add(Cost{PureEpsilon: 0.1, PureRho: 0.005})
	}
	eps, err := many.Epsilon(1e-6)
	require.NoError(t, err)
	assert.Less(t, eps, 10.0)
	eps, err = many.Epsilon(0)
	require.NoError(t, err)
	assert.InDelta(t, 10.0, eps, 1e-9)

	_, err = Cost{Rho: 1, Delta: 1e-6}.Epsilon(1e-7)
	require.ErrorIs(t, err, errDeltaTooSmall)
	inf, err := Cost{Rho: 1, Delta: 1e-6}.Epsilon(1e-6)
	require.NoError(t, err)
	assert.True(t, math.IsInf(inf, 1), "no δ left for the Gaussian part")
	_, err = g.Epsilon(math.NaN())
	require.Error(t, err)
	inf, err = g.Epsilon(0)
	require.NoError(t, err)
	assert.True(t, math.IsInf(inf, 1), "Gaussian noise is never pure DP")
}
