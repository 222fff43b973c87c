package collect

import (
	"unsafe"

	"github.com/privrec/privrec/internal/prefetch"
	"github.com/privrec/privrec/pseudonym"
)

// batchLen is how many events AddBatch pseudonymizes before it adds them:
// enough that each shard gets several, whose lookups then overlap.
const batchLen = 1024

// batch is AddBatch's working memory for one run of up to batchLen
// events, pooled per Ingestor.
type batch struct {
	ev      []batchEvent // the admitted events, in order
	byShard []batchEvent // the same, grouped by shard, in order within a shard
	count   [numShards]int32
	start   [numShards + 1]int32 // shard s's events are byShard[start[s]:start[s+1]]
	errs    [batchLen]error      // per event of the run: why it was refused, or nil
	recs    []byte               // a shard's state-file records, written at once
	changes []change             // the events those records are for
}

// change is an event that changes its user's state, where it goes.
type change struct {
	ev  *batchEvent
	pos int // as decided by place
}

// batchEvent is an admitted event of a batch.
type batchEvent struct {
	id  pseudonym.ID
	idx uint32 // catalog index of the item
	pos int32  // position in the run
}

func (b *batch) reset(n int) {
	b.ev = b.ev[:0]
	clear(b.count[:])
	clear(b.errs[:n])
}

func (b *batch) add(pos int, id pseudonym.ID, idx uint32) {
	b.ev = append(b.ev, batchEvent{id: id, idx: idx, pos: int32(pos)})
	b.count[id[0]%numShards]++
}

// group sorts the admitted events by shard (a counting sort), keeping
// their order within each shard.
func (b *batch) group() {
	for s := range numShards {
		b.start[s+1] = b.start[s] + b.count[s]
	}
	if cap(b.byShard) < len(b.ev) {
		b.byShard = make([]batchEvent, len(b.ev), batchLen)
	}
	b.byShard = b.byShard[:len(b.ev)]
	next := b.start
	for _, e := range b.ev {
		s := e.id[0] % numShards
		b.byShard[next[s]] = e
		next[s]++
	}
}

// addBatch adds b's admitted events shard by shard and records each
// refusal in b.errs. Every user's entry and items must be read before an
// event can be placed, and on a large window each read misses the cache;
// one at a time, each waits a full memory latency. So the shards' groups
// go through a pipeline of three steps, each under the shard's lock: ask
// for the entries the group's events land on; find them and ask for those
// users' items; add the events in order. While one group is added, the
// next one's items and the one after's entries arrive. A batch holds at
// most three shard locks, taken in increasing order like every other
// holder of several.
func (c *Collector) addBatch(b *batch) {
	b.group()
	var pipe [numShards]int
	n := 0
	for si := range numShards {
		if b.start[si+1] > b.start[si] {
			pipe[n] = si
			n++
		}
	}
	for t := range n + 2 {
		if t < n {
			s := &c.shards[pipe[t]]
			s.mu.Lock()
			warmEntries(s, b.groupOf(pipe[t]))
		}
		if k := t - 1; k >= 0 && k < n {
			warmItems(&c.shards[pipe[k]], b.groupOf(pipe[k]), c.inline)
		}
		if k := t - 2; k >= 0 {
			s := &c.shards[pipe[k]]
			c.addGroup(s, b.groupOf(pipe[k]), b)
			s.mu.Unlock()
		}
	}
}

// groupOf returns shard si's events.
func (b *batch) groupOf(si int) []batchEvent {
	return b.byShard[b.start[si]:b.start[si+1]]
}

// addGroup adds one shard's events. The caller holds s.mu.
func (c *Collector) addGroup(s *shard, evs []batchEvent, b *batch) {
	if c.store != nil && len(evs) <= maxPersistGroup && !repeats(evs) {
		c.addPersisted(s, evs, b)
		return
	}
	for i := range evs {
		b.errs[evs[i].pos] = c.addLocked(s, evs[i].id, evs[i].idx)
	}
}

// warmEntries and warmItems ask for the entries a shard's events land on
// and for their users' items, so that adding the events, two steps of the
// pipeline later, finds them in the cache. They prefetch rather than load:
// a load that misses holds up every instruction after it, so a loop of
// loads overlapped only the few misses it reached before the processor's
// window filled, while a prefetch retires at once and its line arrives
// while the pipeline's other steps run. The caller holds s.mu.
func warmEntries(s *shard, evs []batchEvent) {
	mask := len(s.users.entries) - 1
	if mask <= 0 {
		return
	}
	for i := range evs {
		prefetch.Line(uintptr(unsafe.Pointer(&s.users.entries[s.users.home(evs[i].id)&mask])))
	}
}

func warmItems(s *shard, evs []batchEvent, inline int) {
	for i := range evs {
		u := s.users.find(evs[i].id)
		if u == nil {
			continue
		}
		items := s.itemsOf(u, inline)
		for j := 0; j < int(u.n); j += cacheLine / 4 {
			prefetch.Line(uintptr(unsafe.Pointer(&items[j])))
		}
	}
}

// cacheLine is the size of a cache line in bytes on the processors privrec
// is tuned for (amd64, arm64).
const cacheLine = 64

// maxPersistGroup bounds the shard groups addPersisted takes: it compares
// every pair of their subjects. A run of pseudonyms spreads over the
// shards, about 16 per shard; larger groups are added one by one.
const maxPersistGroup = 64

// repeats reports whether two events of a shard's group have the same
// subject.
func repeats(evs []batchEvent) bool {
	for i := range evs {
		for j := i + 1; j < len(evs); j++ {
			if evs[i].id == evs[j].id {
				return true
			}
		}
	}
	return false
}

// addPersisted adds a shard's events, each of a different user, with one
// write to the state file instead of one per event. As in addLocked, the
// records are written before memory changes, so a failed write changes
// nothing: every event that would have changed its user's state is then
// refused with the error, and events that change nothing (a duplicate, an
// item ranked out) are accepted, as Add would. The users are distinct, so
// where each event goes does not depend on the others. The caller holds
// s.mu.
func (c *Collector) addPersisted(s *shard, evs []batchEvent, b *batch) {
	if s.released {
		for i := range evs {
			b.errs[evs[i].pos] = ErrWindowReleased
		}
		return
	}
	b.recs, b.changes = b.recs[:0], b.changes[:0]
	var rec [stateRecordLen]byte
	for i := range evs {
		e := &evs[i]
		pos := 0
		if u := s.users.find(e.id); u != nil {
			var dup bool
			if pos, dup = c.place(s, u, e.id, e.idx); dup || pos < 0 {
				s.stats.Accepted++
				if dup {
					s.stats.DuplicateEvents++
				} else {
					s.stats.DroppedByBound++
				}
				continue
			}
		}
		encodeRecord(&rec, e.id, e.idx)
		b.recs = append(b.recs, rec[:]...)
		b.changes = append(b.changes, change{e, pos})
	}
	if len(b.changes) == 0 {
		return
	}
	if err := c.store.appendRecords(b.recs); err != nil {
		for _, ch := range b.changes {
			b.errs[ch.ev.pos] = err
		}
		return
	}
	for _, ch := range b.changes {
		u := s.users.find(ch.ev.id) // found again: an insert may have moved it
		if u == nil {
			u = c.newUser(s, ch.ev.id)
		}
		s.stats.Accepted++
		c.put(s, u, ch.ev.id, ch.pos, ch.ev.idx)
	}
}
