package collect

import (
	"encoding/binary"

	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/pseudonym"
)

// user is one pseudonym's entry in a shard: where its kept items are, how
// many, and, once it holds Keep, its largest rank. 32 bytes, so that a
// lookup that hits touches one cache line and the items another.
type user struct {
	id      pseudonym.ID
	at      uint32 // its inline region of userState.items, or its array in userState.over once n > inline
	n       uint16 // items kept
	worstAt uint8  // position of the largest rank, when n == Keep (Keep <= 256)
	used    bool   // the entry holds a user
	worst   uint64 // the largest rank kept, when n == Keep
}

// userTable maps pseudonyms to their entries by open addressing with
// linear probing, in one array: a lookup reads the entry it lands on
// instead of following a map's buckets to a value stored elsewhere.
// Pointers to entries are valid until the next insert or remove.
type userTable struct {
	entries []user // a power of two long, or nil
	n       int    // entries used
	seed    uint64
}

// maxLoad is the table's largest fill, in quarters: linear probing stays
// within a cache line or two per lookup below 3/4.
const maxLoad = 3

// home is the position where id's probe starts. Pseudonyms are keyed
// hashes already, but callers of Collector.Add may pass any ID, so the
// bits are mixed with the table's seed: runs of similar IDs do not cluster.
func (t *userTable) home(id pseudonym.ID) int {
	lo := binary.LittleEndian.Uint64(id[0:8])
	hi := binary.LittleEndian.Uint64(id[8:16])
	return int(bottomk.Mix64(lo ^ bottomk.Mix64(hi^t.seed)))
}

// find returns id's entry, or nil.
func (t *userTable) find(id pseudonym.ID) *user {
	if t.n == 0 {
		return nil
	}
	mask := len(t.entries) - 1
	for i := t.home(id) & mask; ; i = (i + 1) & mask {
		e := &t.entries[i]
		if !e.used {
			return nil
		}
		if e.id == id {
			return e
		}
	}
}

// insert adds an empty entry for id, which must not be in the table, and
// returns it.
func (t *userTable) insert(id pseudonym.ID) *user {
	if (t.n+1)*4 > len(t.entries)*maxLoad {
		t.grow()
	}
	e := t.place(id)
	*e = user{id: id, used: true}
	t.n++
	return e
}

// place returns the first free entry on id's probe.
func (t *userTable) place(id pseudonym.ID) *user {
	mask := len(t.entries) - 1
	i := t.home(id) & mask
	for t.entries[i].used {
		i = (i + 1) & mask
	}
	return &t.entries[i]
}

// grow doubles the table and zeroes the old array, which held pseudonyms.
func (t *userTable) grow() {
	old := t.entries
	t.entries = make([]user, max(16, 2*len(old)))
	for i := range old {
		if old[i].used {
			*t.place(old[i].id) = old[i]
		}
	}
	clear(old)
}

// remove deletes id's entry and reports whether there was one. The
// entries after it on its probe shift back, so no tombstone is left.
func (t *userTable) remove(id pseudonym.ID) bool {
	e := t.find(id)
	if e == nil {
		return false
	}
	mask := len(t.entries) - 1
	i := t.home(id) & mask
	for &t.entries[i] != e {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		if !t.entries[j].used {
			break
		}
		// Entry j moves into the hole at i unless its home lies
		// cyclically in (i, j], where it would no longer be found.
		h := t.home(t.entries[j].id) & mask
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.entries[i] = t.entries[j]
			i = j
		}
	}
	t.entries[i] = user{}
	t.n--
	return true
}

// each calls fn with every entry in use.
func (t *userTable) each(fn func(u *user)) {
	for i := range t.entries {
		if t.entries[i].used {
			fn(&t.entries[i])
		}
	}
}

// userState is a shard's users and their kept items.
type userState struct {
	users userTable
	// items holds an inline region of inlineItems items per user; a
	// user who outgrows it moves to a Keep-sized array in over. Most
	// users keep few items, so a large Keep costs memory only for those
	// who use it.
	items []uint32
	over  [][]uint32
}

// itemsOf returns the storage of u's items: its inline region, or its
// Keep-sized array once it outgrew the region. Its first u.n entries are
// the items kept.
func (st *userState) itemsOf(u *user, inline int) []uint32 {
	if int(u.n) > inline {
		return st.over[u.at]
	}
	base := int(u.at) * inline
	return st.items[base : base+inline : base+inline]
}

// wipe zeroes the pseudonyms and items and drops them.
func (st *userState) wipe() {
	clear(st.users.entries)
	clear(st.items)
	for _, o := range st.over {
		clear(o)
	}
	*st = userState{}
}
