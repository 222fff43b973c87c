package dp

import (
	"errors"
	"math"
	"testing"

	"github.com/google/differential-privacy/go/v2/noise"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoParts is a plan shaped like privrec's default release: a part of K
// values, each changed by at most 1, and one of K(K−1)/2 values.
func twoParts(k int64, share float64) []PartSpec {
	return []PartSpec{
		{Name: "items", L0: k, LInf: 1, Share: share},
		{Name: "pairs", L0: k * (k - 1) / 2, LInf: 1, Share: 1 - share},
	}
}

func TestPlanSpendsWhatItReports(t *testing.T) {
	thresholded := twoParts(16, 0.5)
	thresholded[1].ThresholdDelta = 5e-7
	lapThreshold := twoParts(8, 0.5)
	lapThreshold[1].ThresholdDelta = 1e-6
	cases := []struct {
		name string
		o    PlanOptions
	}{
		{"gaussian", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: twoParts(16, 0.5)}},
		{"gaussian threshold", PlanOptions{Epsilon: 2, Delta: 1e-6, Parts: thresholded}},
		{"gaussian small eps", PlanOptions{Epsilon: 0.1, Delta: 1e-8, Parts: twoParts(4, 0.5)}},
		{"gaussian big eps", PlanOptions{Epsilon: 8, Delta: 1e-5, Parts: twoParts(32, 0.6)}},
		{"gaussian one part", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "items", L0: 1, LInf: 1, Share: 1}}}},
		{"gaussian float sensitivity", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "factors", L0: 1, LInf: 2.5, Share: 1}}}},
		{"laplace", PlanOptions{Epsilon: 1, Noise: Laplace, Parts: twoParts(8, 0.5)}},
		{"laplace threshold", PlanOptions{Epsilon: 1, Delta: 1e-6, Noise: Laplace, Parts: lapThreshold}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := NewPlan(tc.o)
			require.NoError(t, err)
			require.Len(t, plan.Parts, len(tc.o.Parts))

			// The reported cost is the sum of the parts' costs...
			var want Cost
			for _, p := range plan.Parts {
				want = want.Add(p.Cost())
			}
			assert.Equal(t, want, plan.Cost)
			// ...its ε is the accountant's, and within rounding of what was asked.
			eps, err := plan.Cost.Epsilon(tc.o.Delta)
			require.NoError(t, err)
			assert.Equal(t, eps, plan.Epsilon)
			assert.LessOrEqual(t, plan.Epsilon, tc.o.Epsilon*(1+1e-9))
			assert.GreaterOrEqual(t, plan.Epsilon, tc.o.Epsilon*0.98)

			var rho float64
			for i, p := range plan.Parts {
				assert.Equal(t, tc.o.Parts[i], p.PartSpec)
				assert.Same(t, &plan.Parts[i], plan.Part(p.Name))
				l0, lInf := p.Sensitivity()
				assert.Equal(t, p.L0, l0)
				assert.Equal(t, p.LInf, lInf)
				// Each part's cost follows from the σ it uses...
				l2 := math.Sqrt(float64(l0)) * lInf
				switch tc.o.Noise {
				case Gaussian:
					assert.InEpsilon(t, l2*l2/(2*p.Sigma()*p.Sigma()), p.Cost().Rho, 1e-12)
					rho += p.Cost().Rho
				case Laplace:
					assert.InEpsilon(t, tc.o.Epsilon*p.Share, p.Cost().PureEpsilon, 1e-12)
					assert.InEpsilon(t, float64(l0)*lInf/p.Cost().PureEpsilon*math.Sqrt2, p.Sigma(), 1e-12)
				}
				// ...and an engine that draws noise through the DP library
				// with the counter's LibraryParams gets exactly its σ.
				eps, delta := p.LibraryParams()
				switch tc.o.Noise {
				case Gaussian:
					assert.Equal(t, noise.SigmaForGaussian(l0, lInf, eps, delta), p.Sigma())
				case Laplace:
					assert.Zero(t, delta)
				}
				if p.ThresholdDelta > 0 {
					assert.Greater(t, p.Threshold(), 1.0)
					assert.Equal(t, p.ThresholdDelta, p.Cost().Delta)
				} else {
					assert.Zero(t, p.Threshold())
					assert.Zero(t, p.Cost().Delta)
				}
			}
			// Gaussian parts split ρ by their shares (up to the DP
			// library's rounding of σ, which only ever lowers ρ).
			if tc.o.Noise == Gaussian {
				for _, p := range plan.Parts {
					assert.InEpsilon(t, p.Share, p.Cost().Rho/rho, 1e-3)
				}
			}
		})
	}
	assert.Nil(t, (&Plan{}).Part("none"))
}

// TestPlanCalibration pins the σ of privrec's default release against an
// independent computation: K = 16, ε = 1, δ = 1e-6, half of ρ on each part.
// The exact Gaussian curve gives μ ≈ 0.236704 (ρ ≈ 0.028014; solved
// independently by bisection on Φ(μ/2 − ε/μ) − e^ε·Φ(−μ/2 − ε/μ) = δ); the part of 16
// values has L2 sensitivity 4, the part of 120 values sqrt(120), so their σ
// are 4/sqrt(ρ) and sqrt(120/ρ) up to the DP library's rounding of σ
// upwards.
func TestPlanCalibration(t *testing.T) {
	plan, err := NewPlan(PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: twoParts(16, 0.5)})
	require.NoError(t, err)
	mu := muForGaussian(1, 1e-6)
	assert.InDelta(t, 0.236704, mu, 1e-6)
	rho := mu * mu / 2
	items, pairs := plan.Part("items"), plan.Part("pairs")
	assert.InEpsilon(t, 4/math.Sqrt(rho), items.Sigma(), 1e-3)
	assert.InEpsilon(t, math.Sqrt(120/rho), pairs.Sigma(), 1e-3)
	assert.GreaterOrEqual(t, items.Sigma(), 4/math.Sqrt(rho)*(1-1e-12))
	assert.InDelta(t, 23.906, items.Sigma(), 1e-3)
	assert.InDelta(t, 65.470, pairs.Sigma(), 1e-3)
}

func TestPlanRejectsInvalidOptions(t *testing.T) {
	one := []PartSpec{{Name: "a", L0: 1, LInf: 1, Share: 1}}
	cases := []struct {
		name string
		o    PlanOptions
		want string
	}{
		{"NaN epsilon", PlanOptions{Epsilon: math.NaN(), Delta: 1e-6, Parts: one}, "ε"},
		{"zero epsilon", PlanOptions{Delta: 1e-6, Parts: one}, "ε"},
		{"huge epsilon", PlanOptions{Epsilon: 1e9, Delta: 1e-6, Parts: one}, "ε"},
		{"negative delta", PlanOptions{Epsilon: 1, Delta: -1, Parts: one}, "δ"},
		{"delta one", PlanOptions{Epsilon: 1, Delta: 1, Parts: one}, "δ"},
		{"gaussian without delta", PlanOptions{Epsilon: 1, Parts: one}, "Gaussian noise needs δ > 0"},
		{"unknown noise", PlanOptions{Epsilon: 1, Delta: 1e-6, Noise: 7, Parts: one}, "unknown noise"},
		{"no parts", PlanOptions{Epsilon: 1, Delta: 1e-6}, "no parts"},
		{"duplicate names", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "a", L0: 1, LInf: 1, Share: 0.5}, {Name: "a", L0: 1, LInf: 1, Share: 0.5}}}, "unique"},
		{"empty name", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{L0: 1, LInf: 1, Share: 1}}}, "unique"},
		{"zero L0", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "a", LInf: 1, Share: 1}}}, "L0"},
		{"NaN LInf", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "a", L0: 1, LInf: math.NaN(), Share: 1}}}, "LInf"},
		{"shares below one", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "a", L0: 1, LInf: 1, Share: 0.5}}}, "add up to"},
		{"share zero", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "a", L0: 1, LInf: 1, Share: 0}, {Name: "b", L0: 1, LInf: 1, Share: 1}}}, "share"},
		{"thresholds over delta", PlanOptions{Epsilon: 1, Delta: 1e-6, Noise: Laplace, Parts: []PartSpec{{Name: "a", L0: 1, LInf: 1, Share: 1, ThresholdDelta: 2e-6}}}, "thresholds spend"},
		{"gaussian delta all on thresholds", PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "a", L0: 1, LInf: 1, Share: 1, ThresholdDelta: 1e-6}}}, "beyond what thresholds spend"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlan(tc.o)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidPlan), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseNoise(t *testing.T) {
	for _, n := range []Noise{Gaussian, Laplace} {
		got, err := ParseNoise(n.String())
		require.NoError(t, err)
		assert.Equal(t, n, got)
	}
	_, err := ParseNoise("exponential")
	require.Error(t, err)
	assert.Equal(t, "Noise(9)", Noise(9).String())
}

func TestCounterConstructorsRejectBadArguments(t *testing.T) {
	_, err := newGaussianCounter(0, 1, 1)
	require.Error(t, err)
	_, err = newGaussianCounter(1, 1, math.NaN())
	require.Error(t, err)
	_, err = newGaussianCounter(1, 1, -1)
	require.Error(t, err)
	_, err = newGaussianCounter(1, math.Inf(1), 1)
	require.Error(t, err)
	_, err = newLaplaceCounter(1, 0, 1)
	require.Error(t, err)
	_, err = newLaplaceCounter(1, 1, math.Inf(1))
	require.Error(t, err)
	c, err := newLaplaceCounter(1, 1, 1)
	require.NoError(t, err)
	_, err = c.withThreshold(0)
	require.Error(t, err)
	// Integer noise needs an integral LInf; float noise does not.
	f, err := newGaussianCounter(1, 0.5, 1)
	require.NoError(t, err)
	_, err = f.Noisy(3)
	require.ErrorContains(t, err, "integral LInf")
	_, err = f.NoisyFloat(3)
	require.NoError(t, err)
}

// Statistical test of the noise scale. With n samples the sample standard
// deviation s of a distribution with kurtosis κ has relative standard error
// about sqrt((κ-1)/(4n)): κ = 3 (Gaussian) or 6 (Laplace). We accept
// |s/σ − 1| below 5 standard errors, and |mean| below 5 standard errors of
// the mean: each check fails by chance with probability below 6e-7, so the
// whole test (12 checks) below 1e-5.
func TestNoiseHasPromisedStandardDeviation(t *testing.T) {
	const n = 20000
	gPlan, err := NewPlan(PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: twoParts(8, 0.5)})
	require.NoError(t, err)
	lPlan, err := NewPlan(PlanOptions{Epsilon: 1, Noise: Laplace, Parts: twoParts(4, 0.5)})
	require.NoError(t, err)
	gRescaled, err := gPlan.Part("pairs").WithSensitivity(1, 1)
	require.NoError(t, err)
	lRescaled, err := lPlan.Part("pairs").WithSensitivity(4, 1)
	require.NoError(t, err)
	cases := []struct {
		name     string
		c        *Counter
		float    bool
		kurtosis float64
	}{
		{"gaussian items", gPlan.Part("items").Counter, false, 3},
		{"gaussian pairs", gPlan.Part("pairs").Counter, false, 3},
		{"gaussian float", gPlan.Part("pairs").Counter, true, 3},
		{"laplace items", lPlan.Part("items").Counter, false, 6},
		{"laplace pairs", lPlan.Part("pairs").Counter, false, 6},
		{"laplace float", lPlan.Part("items").Counter, true, 6},
		{"gaussian rescaled", gRescaled, false, 3},
		{"gaussian rescaled float", gRescaled, true, 3},
		{"laplace rescaled", lRescaled, false, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			xs := make([]float64, n)
			if tc.float {
				for i := range xs {
					y, err := tc.c.NoisyFloat(1000.25)
					require.NoError(t, err)
					xs[i] = y - 1000.25
				}
			} else {
				for i := range xs {
					y, err := tc.c.Noisy(1000)
					require.NoError(t, err)
					xs[i] = float64(y - 1000)
				}
			}
			var sum, sq float64
			for _, d := range xs {
				sum += d
				sq += d * d
			}
			mean := sum / n
			sd := math.Sqrt(sq/n - mean*mean)
			sigma := tc.c.Sigma()
			if !tc.float {
				// Integer noise adds a rounding variance of at most 1/12.
				sigma = math.Sqrt(sigma*sigma + 1.0/12)
			}
			se := math.Sqrt((tc.kurtosis - 1) / (4 * n))
			assert.InDelta(t, 1, sd/sigma, 5*se+0.002, "σ=%v sample sd=%v", tc.c.Sigma(), sd)
			assert.InDelta(t, 0, mean, 5*tc.c.Sigma()/math.Sqrt(n), "mean")
		})
	}
}

// A count created by one user (value LInf = 1) must clear the threshold with
// probability at most δ_p = 1 − (1 − δ_sel)^(1/L0) per partition, as the DP
// library's threshold promises. Over n = 50000 such counts the number of hits
// is at most Binomial(n, δ_p); we fail above λ + 7·sqrt(λ) + 2, which a
// correct threshold exceeds with probability below 1e-9.
func TestThresholdRarelyReleasesSingleUserCounts(t *testing.T) {
	parts := twoParts(4, 0.5)
	const selDelta = 1e-2
	parts[1].ThresholdDelta = selDelta
	plan, err := NewPlan(PlanOptions{Epsilon: 1, Delta: 2e-2, Parts: parts})
	require.NoError(t, err)
	c := plan.Part("pairs")
	const n = 50000
	lambda := n * (1 - math.Pow(1-selDelta, 1/float64(c.L0)))
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

// WithSensitivity keeps a counter's privacy loss for new sensitivities: the
// noise scales with the L2 (Gaussian) or L1 (Laplace) sensitivity, and the
// cost never exceeds the original's (it is what the ledger was charged).
// TestNoiseHasPromisedStandardDeviation checks that the rescaled counters'
// noise has the σ they claim.
func TestCounterWithSensitivity(t *testing.T) {
	for _, nz := range []Noise{Gaussian, Laplace} {
		o := PlanOptions{Epsilon: 1, Delta: 1e-6, Noise: nz, Parts: twoParts(16, 0.5)}
		if nz == Laplace {
			o.Delta = 0
		}
		plan, err := NewPlan(o)
		require.NoError(t, err)
		c := plan.Part("pairs").Counter
		for _, s := range []struct {
			l0   int64
			lInf float64
		}{{1, 1}, {16, 1}, {120, 1}, {6, 2}, {1, 0.5}} {
			r, err := c.WithSensitivity(s.l0, s.lInf)
			require.NoError(t, err, "%v %+v", nz, s)
			assert.LessOrEqual(t, r.Cost().Rho, c.Cost().Rho, "%v %+v", nz, s)
			assert.LessOrEqual(t, r.Cost().PureEpsilon, c.Cost().PureEpsilon, "%v %+v", nz, s)
			l0, lInf := r.Sensitivity()
			assert.Equal(t, s.l0, l0)
			assert.Equal(t, s.lInf, lInf)
			var ratio float64
			if nz == Gaussian {
				ratio = math.Sqrt(float64(s.l0)) * s.lInf / math.Sqrt(120)
				assert.InEpsilon(t, c.Cost().Rho, r.Cost().Rho, 1e-2, "the same ρ, up to the library rounding σ up")
			} else {
				ratio = float64(s.l0) * s.lInf / 120
				assert.Equal(t, c.Cost().PureEpsilon, r.Cost().PureEpsilon)
			}
			assert.InEpsilon(t, c.Sigma()*ratio, r.Sigma(), 1e-3, "%v %+v", nz, s)
		}
	}
	thr, err := NewPlan(PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []PartSpec{{Name: "p", L0: 4, LInf: 1, Share: 1, ThresholdDelta: 1e-7}}})
	require.NoError(t, err)
	_, err = thr.Part("p").WithSensitivity(1, 1)
	assert.ErrorContains(t, err, "cannot be rescaled")
	_, err = thr.Parts[0].Counter.WithSensitivity(0, 1)
	assert.Error(t, err)
}
