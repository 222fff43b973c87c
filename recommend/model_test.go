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
	assert.Equal(t, Contents{Items: 3, Neighbors: 2}, m.Report().Contents, "the contents are counted, not claimed")
	m, err = NewModel(cat, pop, Report{Contents: Contents{Items: 99, Neighbors: 99}})
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewModel(tc.cat, tc.pop, tc.rep, tc.ev...)
			require.ErrorContains(t, err, tc.want)
		})
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
