package collect

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/internal/race"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// state snapshots a collector's bounded state as pseudonym -> sorted items.
func state(c *Collector) map[pseudonym.ID][]string {
	out := map[pseudonym.ID][]string{}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.users.each(func(u *user) {
			var items []string
			for _, it := range s.itemsOf(u, c.inline)[:u.n] {
				items = append(items, c.cat.Item(int(it)).ID)
			}
			sortStrings(items)
			out[u.id] = items
		})
		s.mu.Unlock()
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestCollectorRefusesBadEventsWithoutChangingState(t *testing.T) {
	cat := testCatalog(t)
	c, err := New(cat, Options{
		Window: testWindow, Keep: 4, Kinds: []events.Kind{events.KindPurchase, events.KindCart},
		Now: func() time.Time { return testStart.Add(24 * time.Hour) },
	})
	require.NoError(t, err)
	ok := Event{Subject: sid(1), Item: "i01", Kind: events.KindPurchase, Time: testStart.Add(time.Hour)}
	require.NoError(t, c.Add(ok))
	before := state(c)
	statsBefore := c.Stats()

	mod := func(f func(*Event)) Event { e := ok; f(&e); return e }
	cases := []struct {
		name string
		e    Event
		want error
	}{
		{"empty item", mod(func(e *Event) { e.Item = "" }), ErrUnknownItem},
		{"unknown item", mod(func(e *Event) { e.Item = "nope" }), ErrUnknownItem},
		{"megabyte item", mod(func(e *Event) { e.Item = strings.Repeat("x", 1<<20) }), ErrUnknownItem},
		{"invalid utf-8 item", mod(func(e *Event) { e.Item = "\xff\xfe" }), ErrUnknownItem},
		{"zero kind", mod(func(e *Event) { e.Kind = 0 }), events.ErrUnknownKind},
		{"huge kind", mod(func(e *Event) { e.Kind = 200 }), events.ErrUnknownKind},
		{"kind not collected", mod(func(e *Event) { e.Kind = events.KindView }), ErrKindNotAccepted},
		{"before window", mod(func(e *Event) { e.Time = testStart.Add(-time.Nanosecond) }), ErrOutsideWindow},
		{"at window end", mod(func(e *Event) { e.Time = testWindow.End }), ErrOutsideWindow},
		{"zero time", mod(func(e *Event) { e.Time = time.Time{} }), ErrOutsideWindow},
		{"from the future", mod(func(e *Event) { e.Time = testStart.Add(24*time.Hour + 6*time.Minute) }), ErrFutureEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Add(tc.e)
			require.ErrorIs(t, err, tc.want)
			assert.LessOrEqual(t, len(err.Error()), 200, "errors stay short even for huge input")
			assert.Equal(t, before, state(c), "no state changed")
			assert.Equal(t, statsBefore, c.Stats())
		})
	}
	// Within the allowed clock skew is fine.
	require.NoError(t, c.Add(mod(func(e *Event) { e.Time = testStart.Add(24*time.Hour + 4*time.Minute) })))
}

func TestNewCollectorValidatesOptions(t *testing.T) {
	cat := testCatalog(t)
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no window", Options{}, "needs both Start and End"},
		{"backwards window", Options{Window: recommend.Window{Start: testWindow.End, End: testWindow.Start}}, "not before end"},
		{"Keep too big", Options{Window: testWindow, Keep: 1000}, "Keep"},
		{"Keep negative", Options{Window: testWindow, Keep: -3}, "Keep"},
		{"bad kind", Options{Window: testWindow, Kinds: []events.Kind{9}}, "unknown event kind"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(cat, tc.opts)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := New(nil, Options{Window: testWindow})
	require.Error(t, err)
}

// A user with 10,000 events contributes at most K items and moves any item
// count by at most 1; duplicate events change nothing.
func TestCollectorBoundsContributions(t *testing.T) {
	cat := testCatalog(t)
	const k = 4
	c := testCollector(t, cat, k)
	heavy := sid(42)
	for i := range 10000 {
		e := Event{Subject: heavy, Item: fmt.Sprintf("i%02d", i%20), Kind: events.KindView, Time: testStart.Add(time.Duration(i) * time.Second)}
		require.NoError(t, c.Add(e))
	}
	for u := range 10 {
		require.NoError(t, c.Add(Event{Subject: sid(u), Item: "i00", Kind: events.KindPurchase, Time: testStart}))
	}
	st := state(c)
	require.Len(t, st[heavy], k)

	counts := c.itemCounts()
	var total int64
	for i, n := range counts {
		total += n
		if i == 0 {
			assert.LessOrEqual(t, n, int64(11))
			assert.GreaterOrEqual(t, n, int64(10))
		} else {
			assert.LessOrEqual(t, n, int64(1), "item %d", i)
		}
	}
	assert.Equal(t, int64(10+k), total)
	stats := c.Stats()
	assert.Equal(t, int64(10010), stats.Accepted)
}

// A slot keeps inlineItems items in place and moves to a Keep-sized array
// when it needs more: for every Keep around that size and every basket
// size, in a random order with repeats, the collector keeps exactly
// Bound's items; merging, forgetting and taking see the moved slots; and
// a user with few items costs only the inline slots.
func TestCollectorKeepsBoundAcrossInlineAndOverflow(t *testing.T) {
	items := make([]recommend.Item, 120)
	for i := range items {
		items[i] = recommend.Item{ID: fmt.Sprintf("p%03d", i)}
	}
	cat, err := recommend.NewCatalog(items)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(4, 2))
	for _, keep := range []int{4, inlineItems, inlineItems + 1, 64} {
		t.Run(fmt.Sprint("Keep=", keep), func(t *testing.T) {
			whole, a, b := testCollector(t, cat, keep), testCollector(t, cat, keep), testCollector(t, cat, keep)
			want := map[pseudonym.ID][]string{}
			for u, n := range []int{1, 10, inlineItems, inlineItems + 1, 30, 100} {
				id := sid(u)
				var raw []uint32
				for _, p := range rng.Perm(120)[:n] {
					raw = append(raw, uint32(p))
				}
				var kept []string
				for _, it := range bottomk.New(whole.opts.SampleKey).Bound(keep, id, slices.Clone(raw)) {
					kept = append(kept, cat.Item(int(it)).ID)
				}
				sortStrings(kept)
				want[id] = kept
				for r := range 3 * n { // every item at least once, in a random order, with repeats
					it := raw[r%n]
					if r >= n {
						it = raw[rng.IntN(n)]
					}
					e := Event{Subject: id, Item: cat.Item(int(it)).ID, Kind: events.KindView, Time: testStart}
					require.NoError(t, whole.Add(e))
					half := a
					if r%2 == 1 {
						half = b
					}
					require.NoError(t, half.Add(e))
				}
			}
			assert.Equal(t, want, state(whole))
			require.NoError(t, a.Merge(b))
			assert.Equal(t, want, state(a))

			forgotten, err := a.Forget(sid(5)) // the 100-item user
			require.NoError(t, err)
			require.True(t, forgotten)
			delete(want, sid(5))
			assert.Equal(t, want, state(a))

			st, err := a.Take(nil)
			require.NoError(t, err)
			taken := 0
			st.ForEachUser(func(items []uint32) { taken += len(items) })
			total := 0
			for _, w := range want {
				total += len(w)
			}
			assert.Equal(t, total, taken)
			st.Wipe()
		})
	}
	c := testCollector(t, cat, 64)
	require.NoError(t, c.Add(Event{Subject: sid(1), Item: "p001", Kind: events.KindView, Time: testStart}))
	s := &c.shards[sid(1)[0]%numShards]
	assert.Len(t, s.items, inlineItems, "a new slot takes the inline items only")
	assert.Empty(t, s.over)
}

func TestCollectorIsIdempotentAndOrderFree(t *testing.T) {
	cat := testCatalog(t)
	evs := make([]Event, 0, 400)
	for u := range 20 {
		for i := range 20 {
			evs = append(evs, Event{Subject: sid(u), Item: fmt.Sprintf("i%02d", (i*7+u)%20), Kind: events.KindView, Time: testStart})
		}
	}
	a := testCollector(t, cat, 5)
	for _, e := range evs {
		require.NoError(t, a.Add(e))
	}
	b := testCollector(t, cat, 5)
	for i := len(evs) - 1; i >= 0; i-- { // reverse order, every event three times
		for range 3 {
			require.NoError(t, b.Add(evs[i]))
		}
	}
	assert.Equal(t, state(a), state(b))

	// Merging two halves equals seeing everything.
	h1, h2 := testCollector(t, cat, 5), testCollector(t, cat, 5)
	for i, e := range evs {
		if i%2 == 0 {
			require.NoError(t, h1.Add(e))
		} else {
			require.NoError(t, h2.Add(e))
		}
	}
	require.NoError(t, h1.Merge(h2))
	assert.Equal(t, state(a), state(h1))
}

func TestCollectorMergeRefusesMismatches(t *testing.T) {
	cat := testCatalog(t)
	a := testCollector(t, cat, 4)
	other, err := New(cat, Options{Window: testWindow, Keep: 4})
	require.NoError(t, err)
	require.ErrorContains(t, a.Merge(other), "sample keys")
	require.ErrorContains(t, a.Merge(testCollector(t, cat, 5)), "different Keep")
	require.ErrorContains(t, a.Merge(testCollector(t, testCatalog(t), 4)), "catalogs")
	require.ErrorContains(t, a.Merge(a), "itself")
}

func TestCollectorForget(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	for u := range 3 {
		require.NoError(t, c.Add(Event{Subject: sid(u), Item: "i01", Kind: events.KindView, Time: testStart}))
	}
	forgot, err := c.Forget(sid(1))
	require.NoError(t, err)
	assert.True(t, forgot)
	forgot, err = c.Forget(sid(1))
	require.NoError(t, err)
	assert.False(t, forgot)
	st := state(c)
	assert.Len(t, st, 2)
	assert.NotContains(t, st, sid(1))
	counts := c.itemCounts()
	assert.Equal(t, int64(2), counts[1])
}

func TestCollectorTakeLifecycle(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	e := Event{Subject: sid(1), Item: "i01", Kind: events.KindView, Time: testStart}
	require.NoError(t, c.Add(e))

	// A commit that fails keeps the window open and its state intact.
	refused := errors.New("ledger says no")
	before := state(c)
	_, err := c.Take(func() error { return refused })
	require.ErrorIs(t, err, refused)
	assert.Equal(t, before, state(c))
	require.NoError(t, c.Add(Event{Subject: sid(2), Item: "i02", Kind: events.KindView, Time: testStart}))

	committed := false
	st, err := c.Take(func() error { committed = true; return nil })
	require.NoError(t, err)
	assert.True(t, committed)
	var users [][]uint32
	st.ForEachUser(func(items []uint32) { users = append(users, slices.Clone(items)) })
	assert.ElementsMatch(t, [][]uint32{{1}, {2}}, users)
	assert.Empty(t, state(c), "the collector holds nothing after Take")
	require.ErrorIs(t, c.Add(e), ErrWindowReleased)
	_, err = c.Take(nil)
	require.ErrorIs(t, err, ErrWindowReleased)
	_, err = c.Forget(sid(1))
	require.NoError(t, err)
	require.ErrorIs(t, c.Merge(testCollector(t, cat, 4)), ErrWindowReleased)

	// Wipe zeroes the state's memory, not just the references to it.
	shards := slices.Clone(st.shards) // the slices, not the structs Wipe resets
	entries := 0
	for _, sh := range shards {
		entries += sh.users.n
	}
	require.Positive(t, entries)
	st.Wipe()
	for _, sh := range shards {
		for _, it := range sh.items {
			require.Zero(t, it)
		}
		for _, u := range sh.users.entries {
			require.Zero(t, u, "a user entry (pseudonym, count, rank) survived Wipe")
		}
	}
	n := 0
	st.ForEachUser(func([]uint32) { n++ })
	assert.Zero(t, n)
	st.Wipe()
}

// Users with more items than fit inline keep them in overflow lists; Wipe
// must zero those too.
func TestWipeZeroesOverflowLists(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 20)
	for u := range 3 {
		for i := range 20 {
			require.NoError(t, c.Add(Event{Subject: sid(u), Item: fmt.Sprintf("i%02d", i), Kind: events.KindView, Time: testStart}))
		}
	}
	st, err := c.Take(nil)
	require.NoError(t, err)
	var lists [][]uint32
	for _, sh := range st.shards {
		for _, o := range sh.over {
			lists = append(lists, o[:cap(o)])
		}
	}
	require.Len(t, lists, 3, "every user outgrew the inline items")
	st.Wipe()
	for _, o := range lists {
		for _, it := range o {
			require.Zero(t, it, "an overflow list survived Wipe")
		}
	}
}

func TestCollectorConcurrentAddsAreExact(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 3)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range 200 {
				for i := range 3 {
					e := Event{Subject: sid(u), Item: fmt.Sprintf("i%02d", (u+i)%20), Kind: events.KindView, Time: testStart}
					if err := c.Add(e); err != nil {
						t.Errorf("goroutine %d: %v", g, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	st := state(c)
	require.Len(t, st, 200)
	for _, items := range st {
		assert.Len(t, items, 3)
	}
	assert.Equal(t, int64(8*200*3), c.Stats().Accepted)
	assert.Equal(t, int64(7*200*3), c.Stats().DuplicateEvents)
}

func TestIngestorPseudonymizesAtTheDoor(t *testing.T) {
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	kr := testKeyring(t)
	in, err := NewIngestor(c, kr)
	require.NoError(t, err)
	require.NoError(t, in.Add(events.Event{UserID: "alice@example.com", Item: "i03", Kind: events.KindCart, Time: testStart}))
	require.NoError(t, in.Add(events.Event{UserID: "alice@example.com", Item: "i04", Kind: events.KindCart, Time: testStart}))
	want, err := kr.Pseudonymize(kr.Period(testStart), "alice@example.com")
	require.NoError(t, err)
	assert.Equal(t, map[pseudonym.ID][]string{want: {"i03", "i04"}}, state(c))

	err = in.Add(events.Event{UserID: "", Item: "i03", Kind: events.KindCart, Time: testStart})
	require.ErrorIs(t, err, pseudonym.ErrEmptyUserID)
	err = in.Add(events.Event{UserID: "bob", Item: "zz", Kind: events.KindCart, Time: testStart})
	require.ErrorIs(t, err, ErrUnknownItem)
	assert.NotContains(t, err.Error(), "bob")

	forgot, err := in.Forget("alice@example.com")
	require.NoError(t, err)
	assert.True(t, forgot)
	assert.Empty(t, state(c))
}

func TestIngestorRefusesWindowsSpanningKeyPeriods(t *testing.T) {
	cat := testCatalog(t)
	kr := testKeyring(t) // 7-day periods starting at testStart
	c, err := New(cat, Options{Window: recommend.Window{Start: testStart.Add(24 * time.Hour), End: testStart.Add(8 * 24 * time.Hour)}})
	require.NoError(t, err)
	_, err = NewIngestor(c, kr)
	require.ErrorContains(t, err, "spans two key periods")
}

func TestCollectorAddAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; .ci/run runs this test without -race")
	}
	cat := testCatalog(t)
	c := testCollector(t, cat, 4)
	e := Event{Subject: sid(1), Item: "i05", Kind: events.KindView, Time: testStart}
	require.NoError(t, c.Add(e))
	items := []string{"i05", "i06", "i07", "i08", "i09", "i10"} // more than K: exercises replacement
	k := 0
	allocs := testing.AllocsPerRun(1000, func() {
		e.Item = items[k%len(items)]
		k++
		_ = c.Add(e)
	})
	assert.Zero(t, allocs)

	in, err := NewIngestor(c, testKeyring(t))
	require.NoError(t, err)
	raw := events.Event{UserID: "customer-1", Item: "i07", Kind: events.KindView, Time: testStart}
	require.NoError(t, in.Add(raw))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = in.Add(raw) }))
}

func BenchmarkCollectorAdd(b *testing.B) {
	cat := testCatalog(b)
	c := testCollector(b, cat, 16)
	const users = 1 << 16
	ids := make([]pseudonym.ID, users)
	for i := range ids {
		ids[i] = sid(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = c.Add(Event{Subject: ids[i%users], Item: cat.Item((i * 7) % 20).ID, Kind: events.KindView, Time: testStart})
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchIngestor returns an ingestor on a fresh collector and the
// benchmarks' event stream over the given number of users: event i is
// user i mod users viewing one of the catalog's 20 items.
func benchIngestor(b *testing.B, users int) (*Ingestor, func(i int) events.Event) {
	cat := testCatalog(b)
	in, err := NewIngestor(testCollector(b, cat, 16), testKeyring(b))
	require.NoError(b, err)
	names := make([]string, users)
	for i := range names {
		names[i] = fmt.Sprintf("customer-%d", i)
	}
	return in, func(i int) events.Event {
		return events.Event{UserID: names[i%users], Item: cat.Item((i * 7) % 20).ID, Kind: events.KindView, Time: testStart}
	}
}

func BenchmarkIngestorAdd(b *testing.B) {
	in, event := benchIngestor(b, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = in.Add(event(i))
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIngestorAddBatch adds runs of 1,000 events (an HTTP request's
// worth) into a window that already holds 2^20 users, the size at which
// each event's user state misses the cache.
func BenchmarkIngestorAddBatch(b *testing.B) {
	const users = 1 << 20
	in, event := benchIngestor(b, users)
	evs := make([]events.Event, 1000)
	i := 0
	for ; i < users; i += len(evs) { // every user exists before the timing starts
		for j := range evs {
			evs[j] = event(i + j)
		}
		in.AddBatch(evs, nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += len(evs) {
		for j := range evs {
			evs[j] = event(i)
			i++
		}
		in.AddBatch(evs, nil)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
