package dp

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParamsValidate(t *testing.T) {
	ok := Params{Epsilon: 1, Delta: 1e-6}
	cases := []struct {
		name  string
		p     Params
		field string
		why   string
	}{
		{"NaN epsilon", Params{Epsilon: math.NaN(), Delta: 1e-6}, "Epsilon", "finite"},
		{"Inf epsilon", Params{Epsilon: math.Inf(1), Delta: 1e-6}, "Epsilon", "finite"},
		{"zero epsilon", Params{Delta: 1e-6}, "Epsilon", "> 0"},
		{"negative epsilon", Params{Epsilon: -1, Delta: 1e-6}, "Epsilon", "> 0"},
		{"huge epsilon", Params{Epsilon: 1e9, Delta: 1e-6}, "Epsilon", "at most"},
		{"NaN delta", Params{Epsilon: 1, Delta: math.NaN()}, "Delta", "finite"},
		{"negative delta", Params{Epsilon: 1, Delta: -1e-9}, "Delta", ">= 0"},
		{"delta one", Params{Epsilon: 1, Delta: 1}, "Delta", "< 1"},
		{"gaussian without delta", Params{Epsilon: 1}, "Delta", "Gaussian noise needs Delta > 0"},
		{"laplace head with delta", Params{Epsilon: 1, Delta: 1e-6, Mechanism: Laplace}, "Delta", "pure ε-DP"},
		{"laplace threshold without delta", Params{Epsilon: 1, Mechanism: Laplace, Pairs: ThresholdPairs}, "Delta", "needs Delta > 0"},
		{"unknown mechanism", Params{Epsilon: 1, Delta: 1e-6, Mechanism: 7}, "Mechanism", "unknown"},
		{"negative K", Params{Epsilon: 1, Delta: 1e-6, MaxItemsPerUser: -1}, "MaxItemsPerUser", "[1, 256]"},
		{"huge K", Params{Epsilon: 1, Delta: 1e-6, MaxItemsPerUser: 1000}, "MaxItemsPerUser", "[1, 256]"},
		{"item share one", Params{Epsilon: 1, Delta: 1e-6, ItemShare: 1}, "ItemShare", "(0, 1)"},
		{"item share negative", Params{Epsilon: 1, Delta: 1e-6, ItemShare: -0.5}, "ItemShare", "(0, 1)"},
		{"item share NaN", Params{Epsilon: 1, Delta: 1e-6, ItemShare: math.NaN()}, "ItemShare", "(0, 1)"},
		{"head too small", Params{Epsilon: 1, Delta: 1e-6, HeadSize: 1}, "HeadSize", "[2, 20000]"},
		{"selection share", Params{Epsilon: 1, Delta: 1e-6, Pairs: ThresholdPairs, SelectionDeltaShare: 2}, "SelectionDeltaShare", "(0, 1)"},
		{"unknown pairs", Params{Epsilon: 1, Delta: 1e-6, Pairs: 9}, "Pairs", "unknown"},
		{"keep below K", Params{Epsilon: 1, Delta: 1e-6, MaxItemsPerUser: 16, KeepItems: 8}, "KeepItems", "[MaxItemsPerUser, 256]"},
		{"keep too many", Params{Epsilon: 1, Delta: 1e-6, KeepItems: 300}, "KeepItems", "[MaxItemsPerUser, 256]"},
		{"keep with threshold", Params{Epsilon: 1, Delta: 1e-6, KeepItems: 64, Pairs: ThresholdPairs}, "KeepItems", "needs head pairs"},
	}
	require.NoError(t, ok.Validate())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			var pe *ParamError
			require.True(t, errors.As(err, &pe), "want *ParamError, got %v", err)
			assert.Equal(t, tc.field, pe.Field)
			assert.Contains(t, err.Error(), tc.why)
			assert.Contains(t, err.Error(), "Params."+tc.field)
		})
	}
}

func TestParamsDefaults(t *testing.T) {
	p := Params{Epsilon: 1, Delta: 1e-6}.WithDefaults()
	assert.Equal(t, DefaultMaxItemsPerUser, p.MaxItemsPerUser)
	assert.Equal(t, DefaultItemShare, p.ItemShare)
	assert.Equal(t, DefaultHeadSize, p.HeadSize)
	assert.Equal(t, Gaussian, p.Mechanism)
	assert.Equal(t, HeadPairs, p.Pairs)
}

// TestWeightsBoundTheNorm checks, for every basket size, that a user's
// weighted contribution has at most the norm of K unweighted items: L2 for
// Gaussian noise, L1 for Laplace, for item counts and pair counts alike;
// and that nothing is weighted without KeepItems.
func TestWeightsBoundTheNorm(t *testing.T) {
	for _, mech := range []Mechanism{Gaussian, Laplace} {
		for _, k := range []int{1, 2, 16, 40} {
			p := Params{Mechanism: mech, MaxItemsPerUser: k, KeepItems: 256}
			kf := float64(k)
			pairsK := kf * (kf - 1) / 2
			for n := 1; n <= 256; n++ {
				wi, wp := p.Weights(n)
				nf := float64(n)
				pairs := nf * (nf - 1) / 2
				switch mech {
				case Gaussian:
					require.LessOrEqual(t, nf*wi*wi, kf*(1+1e-12), "items, K=%d n=%d", k, n)
					require.LessOrEqual(t, pairs*wp*wp, pairsK*(1+1e-12)+1e-12, "pairs, K=%d n=%d", k, n)
				case Laplace:
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
	wi, wp := Params{MaxItemsPerUser: 16}.Weights(100)
	assert.Equal(t, [2]float64{1, 1}, [2]float64{wi, wp}, "no weighting without KeepItems")
	wi, wp = Params{MaxItemsPerUser: 16, KeepItems: 64}.Weights(64)
	assert.InDelta(t, 0.5, wi, 1e-12)
	assert.InDelta(t, math.Sqrt(16.0*15/(64*63)), wp, 1e-12)
}

func TestParseNames(t *testing.T) {
	for _, m := range []Mechanism{Gaussian, Laplace} {
		got, err := ParseMechanism(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	for _, s := range []PairSelection{HeadPairs, ThresholdPairs} {
		got, err := ParsePairSelection(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := ParseMechanism("exponential")
	require.Error(t, err)
	_, err = ParsePairSelection("all")
	require.Error(t, err)
}
