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
