package release

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/internal/engine"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// exactCounts computes, from raw per-subject items, the exact counts a
// head-pairs release would noise, as another engine would: bounded with a
// the collector's bounding rule (bottomk), Keep and sample key.
func exactCounts(t *testing.T, cat *recommend.Catalog, k, headSize int, raw map[pseudonym.ID][]uint32) engine.Counts {
	rc := engine.Counts{Items: make([]int64, cat.Len()), Pairs: map[[2]uint32]int64{}}
	kept := map[pseudonym.ID][]uint32{}
	for id, items := range raw {
		kept[id] = bottomk.New([16]byte{1, 2, 3}).Bound(k, id, slices.Clone(items))
		for _, it := range kept[id] {
			rc.Items[it]++
		}
	}
	if k == 1 {
		return rc
	}
	head := headItems(rc.Items, headSize)
	for x := range head {
		for y := x + 1; y < len(head); y++ {
			rc.Pairs[pairOf(head[x], head[y])] = 0
		}
	}
	for _, items := range kept {
		for x := range items {
			for y := x + 1; y < len(items); y++ {
				if key := pairOf(items[x], items[y]); slices.Contains(head, items[x]) && slices.Contains(head, items[y]) {
					rc.Pairs[key]++
				}
			}
		}
	}
	return rc
}

// sameModel checks that two models hold the same catalog, popularity and
// evidence: their snapshots agree but for the report, which says who built
// them.
func sameModel(t *testing.T, want, got *recommend.Model) {
	t.Helper()
	for i := range want.Catalog().Len() {
		q := recommend.Query{Context: []string{want.Catalog().Item(i).ID}, N: 20}
		require.Equal(t, recommendOK(t, want, q), recommendOK(t, got, q))
	}
	assert.Equal(t, want.Report().Contents, got.Report().Contents)
}

func TestExternalAssemblesWhatExactReleases(t *testing.T) {
	for _, tc := range []struct{ k, head int }{{1, 20}, {4, 20}, {16, 8}, {16, 2}} {
		t.Run(fmt.Sprintf("K=%d,head=%d", tc.k, tc.head), func(t *testing.T) {
			cat := testCatalog(t)
			c := testCollector(t, cat, tc.k)
			raw := randomWindow(t, c, 7)
			o := Options{K: tc.k, HeadSize: tc.head, Mechanisms: Popularity | Pairs}
			if tc.k == 1 {
				o.Mechanisms = Popularity
			}
			rc := exactCounts(t, cat, tc.k, tc.head, raw)
			want, err := Exact(c, o)
			require.NoError(t, err)
			x, err := engine.NewRelease(cat, o, true)
			require.NoError(t, err)
			assert.Nil(t, x.Items())
			assert.Nil(t, x.Pairs())
			got, err := x.Assemble(rc, engine.Info{Window: testWindow, BuiltWith: "test engine"})
			require.NoError(t, err)
			sameModel(t, want, got)
			assert.Equal(t, "test engine", got.Report().BuiltWith)
			assert.False(t, got.Report().Privacy.DifferentiallyPrivate)
			_, err = x.Charge(testWindow)
			assert.Error(t, err, "an exact release is not charged")
		})
	}
}

// TestExternalReportsThePlan checks that an assembled private model's
// report states exactly what its plan spends, and that the engine is told
// the plan's counters.
func TestExternalReportsThePlan(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	raw := randomWindow(t, c, 3)
	o := Options{Epsilon: 1, Delta: 1e-6, K: 4, HeadSize: 10, Mechanisms: Popularity | Pairs}
	plan, err := o.Plan(cat)
	require.NoError(t, err)
	x, err := engine.NewRelease(cat, o, false)
	require.NoError(t, err)
	assert.Equal(t, plan.Part(partItems).Sigma(), x.Items().Sigma())
	assert.Equal(t, plan.Part(partPairs).Sigma(), x.Pairs().Sigma())
	l0, _ := x.Pairs().Sensitivity()
	assert.Equal(t, int64(6), l0)
	charge, err := x.Charge(testWindow)
	require.NoError(t, err)
	assert.Equal(t, plan.Cost, charge.Cost)
	assert.Len(t, charge.Release, 16)

	rc := exactCounts(t, cat, 4, 10, raw)
	m, err := x.Assemble(rc, engine.Info{Window: testWindow, ReleaseID: "r1", Kinds: []events.Kind{events.KindPurchase}})
	require.NoError(t, err)
	r := m.Report()
	assert.True(t, r.Privacy.DifferentiallyPrivate)
	assert.Equal(t, plan.Epsilon, r.Privacy.Epsilon)
	assert.Equal(t, plan.Cost.Rho, r.Privacy.Rho)
	assert.Equal(t, plan.Part(partItems).Sigma(), r.Privacy.Parts[0].Sigma)
	assert.Equal(t, plan.Part(partPairs).Sigma(), r.Privacy.Parts[1].Sigma)
	assert.Equal(t, []string{"purchase"}, r.EventKinds)
	assert.Equal(t, 45, r.Privacy.Parts[1].Values)
	assert.Equal(t, "r1", r.ReleaseID)
	assert.Nil(t, (&external{o: Options{K: 1, Mechanisms: Popularity}, plan: plan}).Pairs(), "popularity alone releases no pairs")
}

func TestExternalRefusesWhatItCannotDo(t *testing.T) {
	cat := testCatalog(t)
	pairs := Popularity | Pairs
	_, err := engine.NewRelease(cat, Options{Epsilon: 1, Delta: 1e-6, K: 4, Pairs: ThresholdPairs, Mechanisms: pairs}, false)
	assert.ErrorContains(t, err, "threshold pair selection is not supported")
	_, err = engine.NewRelease(cat, Options{Epsilon: 1, Delta: 1e-6, K: 4, Keep: 8, Mechanisms: pairs}, false)
	assert.ErrorContains(t, err, "weighted contributions")
	_, err = engine.NewRelease(nil, Options{Epsilon: 1, Delta: 1e-6}, false)
	assert.ErrorContains(t, err, "needs a catalog")
	_, err = engine.NewRelease(cat, Options{Epsilon: -1, Delta: 1e-6}, false)
	var oe *OptionError
	assert.ErrorAs(t, err, &oe)
	_, err = engine.NewRelease(cat, Options{K: -1}, true)
	assert.ErrorAs(t, err, &oe)
	_, err = engine.NewRelease(cat, &Options{Epsilon: 1, Delta: 1e-6}, false)
	assert.ErrorContains(t, err, "not release.Options")
	for _, m := range []Mechanisms{Auto, Popularity | Categories, Popularity | Pairs | Categories} {
		_, err = engine.NewRelease(cat, Options{Epsilon: 1, Delta: 1e-6, K: 4, Mechanisms: m}, false)
		assert.ErrorContains(t, err, "not supported on Beam or other external engines", "%v", m)
	}
}

func TestExternalRefusesCountsThatDoNotFit(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	raw := randomWindow(t, c, 5)
	good := exactCounts(t, cat, 4, 6, raw)
	head := headItems(good.Items, 6)
	withPairs := func(edit func(map[[2]uint32]int64)) engine.Counts {
		p := map[[2]uint32]int64{}
		for k, v := range good.Pairs {
			p[k] = v
		}
		edit(p)
		return engine.Counts{Items: good.Items, Pairs: p}
	}
	x, err := engine.NewRelease(cat, Options{K: 4, HeadSize: 6, Mechanisms: Popularity | Pairs}, true)
	require.NoError(t, err)
	one, err := engine.NewRelease(cat, Options{K: 1, Mechanisms: Popularity}, true)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		x      engine.Release
		counts engine.Counts
		info   engine.Info
		want   string
	}{
		{"no window", x, good, engine.Info{}, "window"},
		{"short items", x, engine.Counts{Items: good.Items[:3], Pairs: good.Pairs}, engine.Info{Window: testWindow}, "3 item counts for a catalog of 20"},
		{"missing pair", x, withPairs(func(p map[[2]uint32]int64) { delete(p, pairOf(head[0], head[1])); p[[2]uint32{7, 5}] = 1 }), engine.Info{Window: testWindow}, "no count for head pair"},
		{"extra pair", x, withPairs(func(p map[[2]uint32]int64) { p[pairOf(18, 19)] = 1 }), engine.Info{Window: testWindow}, "16 pair counts, want the 15 pairs"},
		{"pairs without the pairs mechanism", one, good, engine.Info{Window: testWindow}, "the release has no pairs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.x.Assemble(tc.counts, tc.info)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// pairOf is the key of a head pair in Counts.Pairs.
func pairOf(a, b uint32) [2]uint32 { return [2]uint32{min(a, b), max(a, b)} }
