package recommend

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func smallCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := NewCatalog([]Item{{ID: "a", Category: "x"}, {ID: "b"}, {ID: "c", Category: "x"}})
	require.NoError(t, err)
	return c
}

func TestNewModelValidatesItsInputs(t *testing.T) {
	cat := smallCatalog(t)
	good, err := NewNeighborEvidence([]float32{0.1, 0.1, 0.1}, [][]Neighbor{{{Item: 2, Weight: 1, Support: 5}}, nil, {{Item: 0, Weight: 1, Support: 5}}})
	require.NoError(t, err)
	pop := []float64{3, 2, 1}

	m, err := NewModel(cat, pop, Report{}, good)
	require.NoError(t, err)
	assert.Equal(t, ReportFormat, m.Report().Format, "the report format is filled in")
	// One-item queries: a (pop 3) and c (pop 1) have a neighbour, b (2)
	// has none, so evidence answers (3+1)/6 of them.
	assert.Equal(t, Contents{Items: 3, Neighbors: 2, EvidenceShare: 4.0 / 6}, m.Report().Contents, "the contents are counted, not claimed")
	m, err = NewModel(cat, pop, Report{Contents: Contents{Items: 99, Neighbors: 99, EvidenceShare: 1}})
	require.NoError(t, err)
	assert.Equal(t, Contents{Items: 3}, m.Report().Contents)

	short, err := NewNeighborEvidence([]float32{0.1}, [][]Neighbor{nil})
	require.NoError(t, err)
	nan, err := NewNeighborEvidence([]float32{0, 0, 0}, [][]Neighbor{{{Item: 1, Weight: float32(math.NaN())}}, nil, nil})
	require.NoError(t, err)
	cases := []struct {
		name string
		cat  *Catalog
		pop  []float64
		rep  Report
		ev   []Evidence
		want string
	}{
		{"no catalog", nil, pop, Report{}, nil, "needs a catalog"},
		{"short popularity", cat, pop[:2], Report{}, nil, "2 popularity values for a catalog of 3"},
		{"negative popularity", cat, []float64{1, -1, 0}, Report{}, nil, "popularity of item 1"},
		{"NaN popularity", cat, []float64{1, math.NaN(), 0}, Report{}, nil, "popularity of item 1"},
		{"other report format", cat, pop, Report{Format: "privrec-report/v1"}, nil, "report format"},
		{"evidence for another catalog", cat, pop, Report{}, []Evidence{short}, "lists for 1 items, catalog has 3"},
		{"NaN weight", cat, pop, Report{}, []Evidence{nan}, "weight invalid"},
		{"two of a kind", cat, pop, Report{}, []Evidence{good, good}, "two evidences"},
		{"NaN concentration", cat, pop, Report{}, []Evidence{&categories{alpha: math.NaN()}}, "concentration NaN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewModel(tc.cat, tc.pop, tc.rep, tc.ev...)
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, alpha := range []float64{0, -1, math.Inf(1), math.NaN()} {
		_, err = NewCategoryEvidence(alpha)
		assert.ErrorContains(t, err, "must be finite and > 0", "alpha %v", alpha)
	}
	_, err = NewNeighborEvidence([]float32{0}, [][]Neighbor{{{Item: 5}}})
	assert.ErrorContains(t, err, "out of range")
	_, err = NewNeighborEvidence([]float32{0, 0}, [][]Neighbor{nil})
	assert.ErrorContains(t, err, "2 base weights for 1 neighbour lists")
}

// A model without evidence ranks by popularity alone, with the popularity
// share as score, for any context.
func TestModelWithoutEvidenceIsPopularity(t *testing.T) {
	m, err := NewModel(smallCatalog(t), []float64{1, 3, 2}, Report{})
	require.NoError(t, err)
	var res Result
	require.NoError(t, m.Recommend(&res, Query{Context: []string{"a"}}))
	require.Len(t, res.Items, 2)
	assert.Equal(t, "b", res.Items[0].Item)
	assert.InDelta(t, 0.5, res.Items[0].Score, 1e-12)
	assert.Equal(t, ReasonPopular, res.Items[0].Reason)
	assert.True(t, res.Fallback)
}

// Category evidence multiplies the popularity of the context's categories
// by (n_d/π_d + α)/(m + α) and of the others by α/(m + α); items without a
// category keep theirs, and context items without a category count for
// nothing.
func TestCategoryEvidenceScores(t *testing.T) {
	cat, err := NewCatalog([]Item{
		{ID: "tea", Category: "kitchen"}, {ID: "cup", Category: "kitchen"},
		{ID: "lamp", Category: "home"}, {ID: "rug", Category: "home"},
		{ID: "card"}, {ID: "gift"},
	})
	require.NoError(t, err)
	// Shares among items with a category: kitchen 2/10, home 8/10.
	pop := []float64{1, 1, 5, 3, 10, 10}
	ev, err := NewCategoryEvidence(0.5)
	require.NoError(t, err)
	m, err := NewModel(cat, pop, Report{}, ev)
	require.NoError(t, err)
	assert.Equal(t, 0.5, m.Report().Contents.CategoryConcentration)

	var res Result
	require.NoError(t, m.Recommend(&res, Query{Context: []string{"tea", "card"}}))
	total := 30.0
	kitchen := (1/0.2 + 0.5) / 1.5 // n = 1 of m = 1 in kitchen
	other := 0.5 / 1.5
	want := []Recommendation{
		{Item: "gift", Score: 10 / total, Reason: ReasonPopular, Support: 10},
		{Item: "cup", Score: 1 / total * kitchen, Reason: ReasonCategory, Category: "kitchen", Because: [MaxExplain]string{"tea"}, Support: 1},
		{Item: "lamp", Score: 5 / total * other, Reason: ReasonPopular, Support: 5},
		{Item: "rug", Score: 3 / total * other, Reason: ReasonPopular, Support: 3},
	}
	require.Len(t, res.Items, len(want))
	for k := range want {
		assert.Equal(t, want[k].Item, res.Items[k].Item, "rank %d", k)
		assert.InDelta(t, want[k].Score, res.Items[k].Score, 1e-12, "rank %d", k)
		want[k].Score = res.Items[k].Score
	}
	assert.Equal(t, want, res.Items)
	assert.False(t, res.Fallback)
	assert.Equal(t, "popular in kitchen, the category of tea", res.Items[1].Explain())

	// A context without categorized items is popularity.
	require.NoError(t, m.Recommend(&res, Query{Context: []string{"card"}}))
	assert.True(t, res.Fallback)
	assert.Equal(t, []string{"gift", "lamp"}, []string{res.Items[0].Item, res.Items[1].Item})
	assert.InDelta(t, 5/total, res.Items[1].Score, 1e-12)
}
