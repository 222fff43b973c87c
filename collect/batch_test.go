package collect

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/race"
)

// rawStream is a deterministic stream of raw events over 2,000 users
// (every shard, several runs of batchLen), with about one in ten refused
// for each reason the door has: unknown item, unknown kind, outside the
// window, empty user ID.
func rawStream(n int) []events.Event { return rawStreamOf(n, 2000) }

// rawStreamOf is rawStream over the given number of users. With many, a
// shard's share of a run rarely holds one user twice.
func rawStreamOf(n, users int) []events.Event {
	rng := rand.New(rand.NewPCG(5, 6))
	evs := make([]events.Event, n)
	for i := range evs {
		u := rng.IntN(users)
		e := events.Event{UserID: fmt.Sprintf("customer-%d", u), Item: fmt.Sprintf("i%02d", (u+rng.IntN(9))%20), Kind: events.KindView, Time: testStart.Add(time.Hour)}
		switch rng.IntN(40) {
		case 0:
			e.Item = "no-such-item"
		case 1:
			e.Kind = events.Kind(99)
		case 2:
			e.Time = testStart.Add(-time.Hour)
		case 3:
			e.UserID = ""
		}
		evs[i] = e
	}
	return evs
}

// twins returns two collectors made by mk and an ingestor for each, under
// the same key: one to feed with Add, the other with AddBatch.
func twins(t *testing.T, mk func() *Collector) (one, many *Collector, inOne, inMany *Ingestor) {
	t.Helper()
	one, many = mk(), mk()
	var err error
	inOne, err = NewIngestor(one, testKeyring(t))
	require.NoError(t, err)
	inMany, err = NewIngestor(many, testKeyring(t))
	require.NoError(t, err)
	return one, many, inOne, inMany
}

// AddBatch is Add, event by event: the same kept items, the same counters,
// and the same refusals (same index, same error) as adding each event in
// turn, for batches shorter than, equal to and longer than one run.
func TestAddBatchEqualsAddInTurn(t *testing.T) {
	cat := testCatalog(t)
	evs := rawStream(5000)
	for _, size := range []int{1, 7, batchLen, batchLen + 1, len(evs)} {
		t.Run(fmt.Sprint("batch=", size), func(t *testing.T) {
			one, many, inOne, inMany := twins(t, func() *Collector { return testCollector(t, cat, 4) })

			want := map[int]error{}
			for i, e := range evs {
				if err := inOne.Add(e); err != nil {
					want[i] = err
				}
			}
			got := map[int]error{}
			accepted, last := 0, -1
			for base := 0; base < len(evs); base += size {
				chunk := evs[base:min(len(evs), base+size)]
				accepted += inMany.AddBatch(chunk, func(i int, err error) {
					require.Greater(t, base+i, last, "refusals come in order")
					last = base + i
					got[base+i] = err
				})
			}
			require.NotEmpty(t, want)
			require.Equal(t, len(want), len(got), "refused events")
			for i, err := range want {
				require.Contains(t, got, i)
				assert.Equal(t, err.Error(), got[i].Error(), "event %d", i)
			}
			assert.Equal(t, len(evs)-len(want), accepted)
			assert.Equal(t, state(one), state(many))
			assert.Equal(t, one.Stats(), many.Stats())
		})
	}
}

// After Take, AddBatch refuses every event with ErrWindowReleased, and a
// nil refused func is allowed.
func TestAddBatchAfterTake(t *testing.T) {
	c := testCollector(t, testCatalog(t), 4)
	in, err := NewIngestor(c, testKeyring(t))
	require.NoError(t, err)
	evs := rawStream(100)
	assert.Positive(t, in.AddBatch(evs, nil))
	st, err := c.Take(nil)
	require.NoError(t, err)
	st.Wipe()
	released := 0
	assert.Zero(t, in.AddBatch(evs, func(_ int, err error) {
		if errors.Is(err, ErrWindowReleased) {
			released++
		}
	}))
	assert.Positive(t, released)
}

// Concurrent AddBatch and Add calls lose nothing (run with -race).
func TestAddBatchConcurrentIsExact(t *testing.T) {
	cat := testCatalog(t)
	evs := rawStream(3000)
	ref := testCollector(t, cat, 4)
	inRef, err := NewIngestor(ref, testKeyring(t))
	require.NoError(t, err)
	inRef.AddBatch(evs, nil)

	c := testCollector(t, cat, 4)
	in, err := NewIngestor(c, testKeyring(t))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			if g%2 == 0 {
				in.AddBatch(evs, nil)
				return
			}
			for _, e := range evs {
				_ = in.Add(e)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, state(ref), state(c))
}

// Events added in batches are persisted like single ones: a restart
// replays them.
func TestAddBatchIsPersisted(t *testing.T) {
	cat := testCatalog(t)
	dir := t.TempDir()
	a := persistentCollector(t, cat, dir, 4)
	in, err := NewIngestor(a, testKeyring(t))
	require.NoError(t, err)
	in.AddBatch(rawStreamOf(3000, 100_000), nil) // mostly one event per user and shard: one write per shard
	in.AddBatch(rawStream(3000), nil)            // users repeat within a shard: one write per event
	require.NoError(t, in.Sync())
	require.NoError(t, a.Close())
	b := persistentCollector(t, cat, dir, 4)
	assert.Equal(t, state(a), state(b))
	assert.NotEmpty(t, state(b))
}

// AddBatch allocates nothing once its users exist (refusals allocate
// their errors, as Add's do).
func TestAddBatchAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("sync.Pool drops objects at random under -race; .ci/run runs this without it")
	}
	c := testCollector(t, testCatalog(t), 4)
	in, err := NewIngestor(c, testKeyring(t))
	require.NoError(t, err)
	var evs []events.Event
	for _, e := range rawStream(3 * batchLen) {
		if in.Add(e) == nil {
			evs = append(evs, e)
		}
	}
	require.Greater(t, len(evs), batchLen)
	refused := 0
	count := func(int, error) { refused++ }
	assert.Zero(t, testing.AllocsPerRun(20, func() { in.AddBatch(evs, count) }))
	assert.Zero(t, refused)
}

// AddBatch's pooled working memory keeps no pseudonym once it returns.
func TestAddBatchLeavesNoPseudonymInItsPool(t *testing.T) {
	if race.Enabled {
		t.Skip("sync.Pool drops objects at random under -race; .ci/run runs this without it")
	}
	c := persistentCollector(t, testCatalog(t), t.TempDir(), 4)
	in, err := NewIngestor(c, testKeyring(t))
	require.NoError(t, err)
	in.AddBatch(rawStream(300), nil)
	b := in.batches.Get().(*batch)
	require.Positive(t, cap(b.ev), "the pool handed back the batch AddBatch used")
	require.Positive(t, cap(b.recs), "the batch wrote state-file records")
	for _, e := range b.ev[:cap(b.ev)] {
		require.Zero(t, e, "an admitted event (pseudonym, item) stayed in the pool")
	}
	for _, e := range b.byShard[:cap(b.byShard)] {
		require.Zero(t, e, "an admitted event (pseudonym, item) stayed in the pool")
	}
	for _, x := range b.recs[:cap(b.recs)] {
		require.Zero(t, x, "a state-file record (pseudonym, item) stayed in the pool")
	}
}

// With a state file, AddBatch writes a shard's records at once, before
// changing memory: when the write fails, every event that would have
// changed the state is refused with the error and nothing changes, and
// events that change nothing are accepted, exactly as Add does in turn.
func TestAddBatchPersistFailureChangesNothing(t *testing.T) {
	cat := testCatalog(t)
	evs := append(rawStreamOf(4000, 100_000), rawStream(4000)...)
	one, many, inOne, inMany := twins(t, func() *Collector { return persistentCollector(t, cat, t.TempDir(), 4) })
	half := len(evs) / 2
	for _, e := range evs[:half] {
		_ = inOne.Add(e)
	}
	inMany.AddBatch(evs[:half], nil)
	require.Equal(t, state(one), state(many))
	before := state(many)

	require.NoError(t, one.Close()) // every write fails from here
	require.NoError(t, many.Close())
	var want, got []string
	for i, e := range evs[half:] {
		if err := inOne.Add(e); err != nil {
			want = append(want, fmt.Sprint(i, ": ", err))
		}
	}
	accepted := inMany.AddBatch(evs[half:], func(i int, err error) { got = append(got, fmt.Sprint(i, ": ", err)) })
	assert.Equal(t, want, got)
	assert.Positive(t, accepted, "duplicates and ranked-out items need no write")
	assert.Equal(t, before, state(many), "a failed write changed memory")
	assert.Equal(t, one.Stats(), many.Stats())
}

// With a state file and one event per user in each shard's group (the
// path that writes a group's records at once), AddBatch still equals Add
// in turn when users are full: items ranked out, items displacing
// another, duplicates; and it refuses everything after Take.
func TestAddBatchPersistedGroupsEqualAdd(t *testing.T) {
	cat := testCatalog(t)
	one, many, inOne, inMany := twins(t, func() *Collector { return persistentCollector(t, cat, t.TempDir(), 4) })
	at := testStart.Add(time.Hour)
	for round := range 8 { // each round: one event per user; rounds 5-7 repeat 0-2
		evs := make([]events.Event, 500)
		for u := range evs {
			evs[u] = events.Event{UserID: fmt.Sprint("person-", u), Item: fmt.Sprintf("i%02d", (u+(round%5)*3)%20), Kind: events.KindView, Time: at}
		}
		for _, e := range evs {
			require.NoError(t, inOne.Add(e))
		}
		require.Equal(t, len(evs), inMany.AddBatch(evs, nil))
		require.Equal(t, state(one), state(many), "round %d", round)
		require.Equal(t, one.Stats(), many.Stats(), "round %d", round)
	}
	st := many.Stats()
	require.Positive(t, st.DroppedByBound)
	require.Positive(t, st.DuplicateEvents)

	_, err := many.Take(nil)
	require.NoError(t, err)
	released := 0
	assert.Zero(t, inMany.AddBatch(rawStreamOf(300, 100_000), func(_ int, err error) {
		if errors.Is(err, ErrWindowReleased) {
			released++
		}
	}))
	assert.Positive(t, released)
}

// A batch holds up to three shard locks at once. It takes them in
// increasing order, as Take and the state file's compaction (after Forget)
// take all of them, so that none of these can wait for another forever.
func TestAddBatchAndLockAllDoNotDeadlock(t *testing.T) {
	c := persistentCollector(t, testCatalog(t), t.TempDir(), 4)
	in, err := NewIngestor(c, testKeyring(t))
	require.NoError(t, err)
	evs := rawStream(3000)
	require.Positive(t, in.AddBatch(evs, nil))
	done, stop := make(chan struct{}), make(chan struct{})
	compactions := 0
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						in.AddBatch(evs, nil)
					}
				}
			})
		}
		wg.Go(func() {
			defer close(stop)
			for i := 0; compactions < 200; i = (i + 1) % 2000 {
				if ok, _ := in.Forget(fmt.Sprintf("customer-%d", i)); ok {
					compactions++
				}
			}
		})
		wg.Wait()
	}()
	select {
	case <-done:
		assert.Equal(t, 200, compactions)
	case <-time.After(time.Minute): // a deadlock, not a slow run: the test takes under 3 s even with -race
		t.Fatal("AddBatch and Forget's compaction deadlocked")
	}
}
