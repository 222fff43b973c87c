package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/internal/engine"
)

// admitAll runs admitFn over lines in one bundle and returns what it
// emitted, as (pseudonym, partial set) rows.
func admitAll(t *testing.T, f *admitFn, lines []string) (rows [][2]string) {
	t.Helper()
	require.NoError(t, f.Setup(context.Background()))
	emit := func(id string, acc []byte) { rows = append(rows, [2]string{id, string(acc)}) }
	bad := func(string) {}
	f.StartBundle(emit, bad)
	for _, l := range lines {
		require.NoError(t, f.ProcessElement(context.Background(), l, emit, bad))
	}
	f.FinishBundle(emit, bad)
	return rows
}

// keptBy merges partial sets per pseudonym, as the runner's combiner does.
func keptBy(rows [][2]string, k int) map[string][]byte {
	c := &bottomKFn{K: k}
	acc := map[string][]byte{}
	for _, r := range rows {
		acc[r[0]] = c.AddInput(acc[r[0]], []byte(r[1]))
	}
	out := map[string][]byte{}
	for id, a := range acc {
		out[id] = c.ExtractOutput(a)
	}
	return out
}

// The per-bundle bottom-K sets that admitFn flushes early, when it holds
// too many users, merge into exactly the sets of one unflushed bundle.
func TestAdmitFlushingChangesNoKeptItem(t *testing.T) {
	opts := fixture(t, sampleEvents(t))
	opts.NonPrivate = true // validate only; nothing is released
	v, err := validate(context.Background(), opts)
	require.NoError(t, err)
	lines := strings.Split(string(sampleEvents(t)), "\n")
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	for _, k := range []int{1, 4, 16} {
		whole := admitAll(t, &admitFn{Config: v.cfg, SampleKey: opts.SampleKey[:], K: k}, lines)
		flushed := admitAll(t, &admitFn{Config: v.cfg, SampleKey: opts.SampleKey[:], K: k, maxUsers: 7}, lines)
		want := keptBy(whole, k)
		require.Len(t, whole, len(want), "one row per user without flushing")
		require.Greater(t, len(flushed), 2*len(want), "K = %d: flushed early", k)
		got := keptBy(flushed, k)
		require.Equal(t, want, got, "K = %d", k)
		for _, r := range flushed {
			require.LessOrEqual(t, len(r[1]), k*rankedLen, "a partial set holds at most K items")
		}
	}
}

// headPairsFn's per-bundle counts, flushed early when they hold too many
// pairs, add up to every head pair's exact number of users.
func TestHeadPairsFlushingKeepsExactCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const items, head = 40, 12
	itemCounts := make([]int64, items)
	for i := range itemCounts {
		itemCounts[i] = int64(rng.IntN(1000))
	}
	inHead := map[uint32]bool{}
	for _, it := range engine.HeadItems(itemCounts, head) {
		inHead[it] = true
	}
	want := map[int64]int64{}
	var users [][]byte
	for range 300 {
		var kept []byte
		var ks []uint32
		for _, it := range rng.Perm(items)[:1+rng.IntN(16)] {
			kept = binary.LittleEndian.AppendUint32(kept, uint32(it))
			ks = append(ks, uint32(it))
		}
		for x := range ks {
			for y := x + 1; y < len(ks); y++ {
				if inHead[ks[x]] && inHead[ks[y]] {
					want[pairKey(ks[x], ks[y])]++
				}
			}
		}
		users = append(users, kept)
	}
	for _, maxKeys := range []int{0, 10, 50} {
		f := &headPairsFn{HeadSize: head, maxKeys: maxKeys}
		got := map[int64]int64{}
		emitted := 0
		emit := func(k, c int64) { got[k] += c; emitted++ }
		for _, kept := range users {
			f.ProcessElement("", bytes.Clone(kept), itemCounts, emit)
		}
		f.FinishBundle(itemCounts, emit)
		assert.Equal(t, want, got, "maxKeys %d", maxKeys)
		if maxKeys != 0 {
			assert.Greater(t, emitted, len(want), "maxKeys %d: flushed early", maxKeys)
		}
	}
}
