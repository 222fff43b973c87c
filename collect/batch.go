package collect

import "github.com/privrec/privrec/pseudonym"

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
	warm    uint32               // the lookups' values, so that the compiler keeps them
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
// one at a time, each waits a full memory latency. So under a shard's lock
// it first reads the entries the shard's events land on, then their items
// (lookups independent of each other, whose latencies overlap), and only
// then adds the events in order, on warm lines.
func (c *Collector) addBatch(b *batch) {
	b.group()
	for si := range numShards {
		evs := b.byShard[b.start[si]:b.start[si+1]]
		if len(evs) == 0 {
			continue
		}
		s := &c.shards[si]
		s.mu.Lock()
		if mask := len(s.users.entries) - 1; mask > 0 {
			for i := range evs {
				b.warm += s.users.entries[s.users.home(evs[i].id)&mask].at
			}
			for i := range evs {
				if u := s.users.find(evs[i].id); u != nil {
					b.warm += s.itemsOf(u, c.inline)[0]
				}
			}
		}
		if c.store != nil && len(evs) <= maxPersistGroup && !repeats(evs) {
			c.addPersisted(s, evs, b)
		} else {
			for i := range evs {
				b.errs[evs[i].pos] = c.addLocked(s, evs[i].id, evs[i].idx)
			}
		}
		s.mu.Unlock()
	}
}

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
