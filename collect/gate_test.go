package collect

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/internal/engine"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

func TestGateAdmitsAsTheIngestorDoes(t *testing.T) {
	cat := testCatalog(t)
	kr := testKeyring(t)
	g, err := engine.NewGate(cat, Options{Window: testWindow, Now: testNow, Kinds: []events.Kind{events.KindPurchase}, StateDir: t.TempDir()}, kr)
	require.NoError(t, err)
	id, idx, err := g.Admit(events.Event{UserID: "alice", Item: "i07", Kind: events.KindPurchase, Time: testStart.Add(time.Hour)})
	require.NoError(t, err)
	want, err := kr.Pseudonymize(kr.Period(testStart), "alice")
	require.NoError(t, err)
	assert.Equal(t, want, id)
	assert.Equal(t, uint32(7), idx)
	for _, tc := range []struct {
		e    events.Event
		want error
	}{
		{events.Event{UserID: "alice", Item: "nope", Kind: events.KindPurchase, Time: testStart}, ErrUnknownItem},
		{events.Event{UserID: "alice", Item: "i01", Kind: events.KindView, Time: testStart}, ErrKindNotAccepted},
		{events.Event{UserID: "alice", Item: "i01", Kind: events.KindPurchase, Time: testWindow.End}, ErrOutsideWindow},
		{events.Event{UserID: "", Item: "i01", Kind: events.KindPurchase, Time: testStart}, pseudonym.ErrEmptyUserID},
	} {
		_, _, err := g.Admit(tc.e)
		require.ErrorIs(t, err, tc.want)
		assert.NotContains(t, err.Error(), "alice")
	}
	_, err = engine.NewGate(cat, Options{Window: recommend.Window{Start: testStart, End: testStart.Add(30 * 24 * time.Hour)}}, kr)
	assert.ErrorContains(t, err, "spans two key periods")
	_, err = engine.NewGate(cat, &Options{Window: testWindow}, kr)
	assert.ErrorContains(t, err, "not collect.Options")
}

// TestBoundKeepsWhatTheCollectorKeeps gives 300 subjects 1 to 30 random
// events each (duplicates included) and checks that, per subject, Bound of
// the raw item list equals what a Collector with the same Keep and sample
// key keeps.
func TestBoundKeepsWhatTheCollectorKeeps(t *testing.T) {
	for _, keep := range []int{1, 3, 16} {
		t.Run(fmt.Sprint("Keep=", keep), func(t *testing.T) {
			cat := testCatalog(t)
			c := testCollector(t, cat, keep)
			rng := rand.New(rand.NewPCG(uint64(keep), 1))
			raw := map[pseudonym.ID][]uint32{}
			for u := range 300 {
				for range 1 + rng.IntN(30) {
					it := uint32(min(rng.IntN(20), rng.IntN(20)))
					raw[sid(u)] = append(raw[sid(u)], it)
					require.NoError(t, c.Add(Event{Subject: sid(u), Item: cat.Item(int(it)).ID, Kind: events.KindPurchase, Time: testStart.Add(time.Hour)}))
				}
			}
			kept := state(c)
			require.Len(t, kept, len(raw))
			for id, items := range raw {
				var got []string
				for _, it := range bottomk.New(c.opts.SampleKey).Bound(keep, id, slices.Clone(items)) {
					got = append(got, cat.Item(int(it)).ID)
				}
				slices.Sort(got)
				require.Equal(t, kept[id], got)
			}
		})
	}
}
