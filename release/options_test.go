package release

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/dp"
)

func TestOptionsValidate(t *testing.T) {
	ok := Options{Epsilon: 1, Delta: 1e-6}
	cases := []struct {
		name  string
		o     Options
		field string
		why   string
	}{
		{"NaN epsilon", Options{Epsilon: math.NaN(), Delta: 1e-6}, "Epsilon", "finite"},
		{"Inf epsilon", Options{Epsilon: math.Inf(1), Delta: 1e-6}, "Epsilon", "finite"},
		{"zero epsilon", Options{Delta: 1e-6}, "Epsilon", "> 0"},
		{"negative epsilon", Options{Epsilon: -1, Delta: 1e-6}, "Epsilon", "> 0"},
		{"huge epsilon", Options{Epsilon: 1e9, Delta: 1e-6}, "Epsilon", "at most"},
		{"NaN delta", Options{Epsilon: 1, Delta: math.NaN()}, "Delta", "finite"},
		{"negative delta", Options{Epsilon: 1, Delta: -1e-9}, "Delta", ">= 0"},
		{"delta one", Options{Epsilon: 1, Delta: 1}, "Delta", "< 1"},
		{"gaussian without delta", Options{Epsilon: 1}, "Delta", "Gaussian noise needs Delta > 0"},
		{"laplace head with delta", Options{Epsilon: 1, Delta: 1e-6, Noise: dp.Laplace}, "Delta", "pure ε-DP"},
		{"laplace threshold without delta", Options{Epsilon: 1, Noise: dp.Laplace, Pairs: ThresholdPairs, Mechanisms: Popularity | Pairs}, "Delta", "needs Delta > 0"},
		{"unknown noise", Options{Epsilon: 1, Delta: 1e-6, Noise: 7}, "Noise", "unknown"},
		{"negative K", Options{Epsilon: 1, Delta: 1e-6, K: -1}, "K", "[1, 256]"},
		{"huge K", Options{Epsilon: 1, Delta: 1e-6, K: 1000}, "K", "[1, 256]"},
		{"item share one", Options{Epsilon: 1, Delta: 1e-6, ItemShare: 1}, "ItemShare", "(0, 1)"},
		{"item share negative", Options{Epsilon: 1, Delta: 1e-6, ItemShare: -0.5}, "ItemShare", "(0, 1)"},
		{"item share NaN", Options{Epsilon: 1, Delta: 1e-6, ItemShare: math.NaN()}, "ItemShare", "(0, 1)"},
		{"head too small", Options{Epsilon: 1, Delta: 1e-6, HeadSize: 1}, "HeadSize", "[2, 20000]"},
		{"selection share", Options{Epsilon: 1, Delta: 1e-6, Pairs: ThresholdPairs, Mechanisms: Popularity | Pairs, SelectionDeltaShare: 2}, "SelectionDeltaShare", "(0, 1)"},
		{"unknown pairs", Options{Epsilon: 1, Delta: 1e-6, Pairs: 9}, "Pairs", "unknown"},
		{"keep below K", Options{Epsilon: 1, Delta: 1e-6, K: 16, Keep: 8}, "Keep", "[K, 256]"},
		{"keep too many", Options{Epsilon: 1, Delta: 1e-6, Keep: 300}, "Keep", "[K, 256]"},
		{"keep with threshold", Options{Epsilon: 1, Delta: 1e-6, Keep: 64, Pairs: ThresholdPairs, Mechanisms: Popularity | Pairs}, "Keep", "needs head pairs"},
		{"neighbors", Options{Epsilon: 1, Delta: 1e-6, Neighbors: -1}, "Neighbors", "[1, 10000]"},
		{"unknown mechanism", Options{Epsilon: 1, Delta: 1e-6, Mechanisms: 1 << 7}, "Mechanisms", "unknown mechanism"},
		{"no popularity", Options{Epsilon: 1, Delta: 1e-6, Mechanisms: Pairs}, "Mechanisms", "every release includes Popularity"},
		{"pairs with K 1", Options{Epsilon: 1, Delta: 1e-6, K: 1, Mechanisms: Popularity | Pairs}, "Mechanisms", "pairs need K >= 2"},
		{"auto thresholding", Options{Epsilon: 1, Delta: 1e-6, Pairs: ThresholdPairs}, "Pairs", "Auto chooses"},
	}
	require.NoError(t, ok.Validate())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			var oe *OptionError
			require.True(t, errors.As(err, &oe), "want *OptionError, got %v", err)
			assert.Equal(t, tc.field, oe.Field)
			assert.Contains(t, err.Error(), tc.why)
			assert.Contains(t, err.Error(), "invalid "+tc.field+" =")
			_, err = tc.o.Plan(testCatalog(t))
			require.ErrorAs(t, err, &oe, "Plan validates too")
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Epsilon: 1, Delta: 1e-6}.WithDefaults()
	assert.Equal(t, 16, o.K)
	assert.Zero(t, o.Keep, "the collector's")
	assert.Equal(t, 64, o.CollectKeep())
	assert.Equal(t, 100, Options{K: 100}.CollectKeep())
	assert.Equal(t, 8, Options{K: 8, Pairs: ThresholdPairs}.CollectKeep())
	assert.Equal(t, 20, Options{K: 8, Keep: 20}.CollectKeep())
	assert.Equal(t, 0.5, o.ItemShare)
	assert.Equal(t, 500, o.HeadSize)
	assert.Equal(t, 100, o.Neighbors)
	assert.Equal(t, dp.Gaussian, o.Noise)
	assert.Equal(t, HeadPairs, o.Pairs)
	assert.NotNil(t, o.Logger)
}

// TestWeightsBoundTheNorm checks, for every basket size, that a user's
// weighted contribution has at most the norm of k unweighted items: L2 for
// Gaussian noise, L1 for Laplace, for item counts and pair counts alike;
// and that nobody with at most k items is weighted.
func TestWeightsBoundTheNorm(t *testing.T) {
	for _, noise := range []dp.Noise{dp.Gaussian, dp.Laplace} {
		for _, k := range []int{1, 2, 16, 40} {
			kf := float64(k)
			pairsK := kf * (kf - 1) / 2
			for n := 1; n <= 256; n++ {
				wi, wp := itemWeight(n, k, noise), pairWeight(n, k, noise)
				nf := float64(n)
				pairs := nf * (nf - 1) / 2
				switch noise {
				case dp.Gaussian:
					require.LessOrEqual(t, nf*wi*wi, kf*(1+1e-12), "items, K=%d n=%d", k, n)
					require.LessOrEqual(t, pairs*wp*wp, pairsK*(1+1e-12)+1e-12, "pairs, K=%d n=%d", k, n)
				case dp.Laplace:
					require.LessOrEqual(t, nf*wi, kf*(1+1e-12), "items, K=%d n=%d", k, n)
					require.LessOrEqual(t, pairs*wp, pairsK*(1+1e-12)+1e-12, "pairs, K=%d n=%d", k, n)
				}
				require.LessOrEqual(t, wi, 1.0)
				require.LessOrEqual(t, wp, 1.0)
				if n <= k {
					require.Equal(t, [2]float64{1, 1}, [2]float64{wi, wp})
				}
			}
		}
	}
	assert.InDelta(t, 0.5, itemWeight(64, 16, dp.Gaussian), 1e-12)
	assert.InDelta(t, math.Sqrt(16.0*15/(64*63)), pairWeight(64, 16, dp.Gaussian), 1e-12)
	assert.InDelta(t, math.Sqrt(2.0/(5*4)), pairWeight(5, 2, dp.Gaussian), 1e-12, "a bound of 2: one pair's norm")
}

func TestParsePairSelection(t *testing.T) {
	for _, s := range []PairSelection{HeadPairs, ThresholdPairs} {
		got, err := ParsePairSelection(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := ParsePairSelection("all")
	require.Error(t, err)
}

// TestPlanParts pins the sensitivity of every part against an independent
// computation: with contribution bound K a user changes at most K item
// counts and K(K−1)/2 pair counts, by at most 1 each, so the L2
// sensitivities are sqrt(K) and sqrt(K(K−1)/2), and each part's ρ is
// Δ₂²/(2σ²) of its own σ.
func TestPlanParts(t *testing.T) {
	pairs := Popularity | Pairs
	for _, tc := range []struct {
		o          Options
		items      int64
		pairs      int64
		itemShare  float64
		selection  float64
		pureInEps  bool
		onlyItems  bool
		explicitL2 [2]float64
	}{
		{o: Options{Epsilon: 1, Delta: 1e-6, Mechanisms: pairs}, items: 16, pairs: 120, itemShare: 0.5, explicitL2: [2]float64{4, math.Sqrt(120)}},
		{o: Options{Epsilon: 2, Delta: 1e-6, K: 4, ItemShare: 0.25, Mechanisms: pairs}, items: 4, pairs: 6, itemShare: 0.25, explicitL2: [2]float64{2, math.Sqrt(6)}},
		{o: Options{Epsilon: 2, Delta: 1e-6, K: 3, Mechanisms: pairs}, items: 3, pairs: 3, itemShare: 0.5, explicitL2: [2]float64{math.Sqrt(3), math.Sqrt(3)}},
		{o: Options{Epsilon: 0.5, Delta: 1e-6, K: 8, Pairs: ThresholdPairs, Mechanisms: pairs}, items: 8, pairs: 28, itemShare: 0.5, selection: 5e-7},
		{o: Options{Epsilon: 2, Noise: dp.Laplace, K: 8, Mechanisms: pairs}, items: 8, pairs: 28, itemShare: 0.5, pureInEps: true},
		{o: Options{Epsilon: 2, Delta: 1e-6, Noise: dp.Laplace, K: 8, Pairs: ThresholdPairs, Mechanisms: pairs}, items: 8, pairs: 28, itemShare: 0.5, pureInEps: true, selection: 1e-6},
		{o: Options{Epsilon: 1, Delta: 1e-6, K: 1, Mechanisms: Popularity}, items: 1, itemShare: 1, onlyItems: true},
		{o: Options{Epsilon: 1, Delta: 1e-6, K: 16, Mechanisms: Popularity}, items: 16, itemShare: 1, onlyItems: true},
		{o: Options{Epsilon: 1, Delta: 1e-6, K: 16, Keep: 64, Mechanisms: pairs}, items: 16, pairs: 120, itemShare: 0.5},
	} {
		plan, err := tc.o.Plan(testCatalog(t))
		require.NoError(t, err)
		items := plan.Part(partItems)
		require.NotNil(t, items)
		assert.Equal(t, tc.items, items.L0)
		assert.Equal(t, 1.0, items.LInf)
		assert.Equal(t, tc.itemShare, items.Share)
		if tc.onlyItems {
			assert.Len(t, plan.Parts, 1)
			continue
		}
		pp := plan.Part(partPairs)
		require.NotNil(t, pp)
		assert.Equal(t, tc.pairs, pp.L0)
		assert.InDelta(t, 1-tc.itemShare, pp.Share, 1e-15)
		assert.Equal(t, tc.selection, pp.ThresholdDelta)
		assert.Equal(t, tc.selection, plan.Cost.Delta)
		if tc.explicitL2 != [2]float64{} {
			for i, p := range []*dp.Part{items, pp} {
				l2 := tc.explicitL2[i]
				assert.InEpsilon(t, l2*l2/(2*p.Sigma()*p.Sigma()), p.Cost().Rho, 1e-12, p.Name)
			}
		}
		if tc.pureInEps {
			assert.InEpsilon(t, tc.o.Epsilon, plan.Cost.PureEpsilon, 1e-12)
		}
		assert.LessOrEqual(t, plan.Epsilon, tc.o.Epsilon*(1+1e-9))
	}
}
