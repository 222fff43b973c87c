package collect

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
)

// The open-addressing table agrees with a Go map through random inserts
// and removes, at every size the growth passes through: a removed ID is
// gone, every other is found with its payload, and the count matches.
// Removes shift the rest of a probe back, which is where such tables
// break; sid's IDs differ only in a few bytes, and half of the keys share
// their first byte (one shard's worth).
func TestUserTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, seed := range []uint64{0, 1, 0xdeadbeef} {
		tab := userTable{seed: seed}
		ref := map[pseudonym.ID]uint32{}
		var ids []pseudonym.ID
		for op := range 40_000 {
			if len(ids) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(ids))
				id := ids[i]
				ids[i] = ids[len(ids)-1]
				ids = ids[:len(ids)-1]
				require.True(t, tab.remove(id))
				delete(ref, id)
				require.False(t, tab.remove(id), "removed twice")
				continue
			}
			var id pseudonym.ID
			if op%2 == 0 {
				id = sid(op)
			} else {
				id = pseudonym.ID{7}
				for j := 1; j < len(id); j++ {
					id[j] = byte(rng.Uint32())
				}
			}
			require.Nil(t, tab.find(id))
			tab.insert(id).at = uint32(op)
			ref[id] = uint32(op)
			ids = append(ids, id)
		}
		require.Equal(t, len(ref), tab.n)
		for id, at := range ref {
			u := tab.find(id)
			require.NotNil(t, u)
			require.Equal(t, at, u.at)
		}
		seen := 0
		tab.each(func(u *user) {
			seen++
			require.Equal(t, ref[u.id], u.at)
		})
		require.Equal(t, len(ref), seen)
		require.LessOrEqual(t, tab.n*4, len(tab.entries)*maxLoad, "fill above the bound")
	}
}

// Growing the table zeroes the array it leaves, which held pseudonyms.
func TestUserTableGrowZeroesOldEntries(t *testing.T) {
	var tab userTable
	tab.insert(sid(0))
	old := tab.entries
	for i := 1; len(tab.entries) == len(old); i++ {
		tab.insert(sid(i))
	}
	for _, u := range old {
		require.Zero(t, u)
	}
}

// Forget frees a user's storage (inline region or Keep-sized array) for
// the next user, zeroed: new users reuse it, grow nothing, and keep
// exactly their own items.
func TestForgetReusesZeroedStorage(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 20)
	add := func(u, items int) {
		for i := range items {
			require.NoError(t, c.Add(Event{Subject: sid(u), Item: fmt.Sprintf("i%02d", i), Kind: events.KindView, Time: testStart}))
		}
	}
	add(1, 20) // outgrows the inline region
	add(2, 3)
	s := &c.shards[sid(1)[0]%numShards]
	require.Equal(t, s, &c.shards[sid(2)[0]%numShards], "one shard for these IDs")
	inline, over := len(s.items), len(s.over)
	for _, u := range []int{1, 2} {
		ok, err := c.Forget(sid(u))
		require.NoError(t, err)
		require.True(t, ok)
	}
	assert.Empty(t, state(c))
	for _, it := range s.items {
		require.Zero(t, it, "a forgotten user's inline item is still in memory")
	}
	for _, it := range s.over[0] {
		require.Zero(t, it, "a forgotten user's item is still in memory")
	}
	add(4, 18) // takes the freed region, then the freed array, freeing the region again
	add(3, 2)
	assert.Equal(t, inline, len(s.items), "the freed inline regions were reused")
	assert.Equal(t, over, len(s.over), "the freed array was reused")
	got := state(c)
	assert.Equal(t, []string{"i00", "i01"}, got[sid(3)])
	assert.Len(t, got[sid(4)], 18)
	assert.Len(t, got, 2)
}
