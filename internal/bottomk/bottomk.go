package bottomk

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/privrec/privrec/pseudonym"
)

// Hash ranks a user's items. The zero Hash is usable (a key of zeros).
type Hash struct{ k0, k1 uint64 }

// New returns the hash under a 16-byte sample key.
func New(sampleKey [16]byte) Hash {
	return Hash{binary.LittleEndian.Uint64(sampleKey[:8]), binary.LittleEndian.Uint64(sampleKey[8:])}
}

// Rank is item's rank for user id: the user keeps the items of smallest
// rank.
func (h Hash) Rank(id pseudonym.ID, item uint32) uint64 {
	a := binary.LittleEndian.Uint64(id[0:8]) ^ h.k0
	b := binary.LittleEndian.Uint64(id[8:16]) ^ h.k1
	return Mix64(a ^ Mix64(b^(uint64(item)+1)*0x9E3779B97F4A7C15))
}

// Bound returns the items user id keeps when their events name the given
// catalog indexes: the k distinct ones with the smallest rank (none when
// k < 1). It reorders items in place and returns a prefix of it, in no
// particular order.
func (h Hash) Bound(k int, id pseudonym.ID, items []uint32) []uint32 {
	slices.Sort(items)
	items = slices.Compact(items)
	if k < 1 {
		return items[:0]
	}
	if len(items) <= k {
		return items
	}
	slices.SortFunc(items, func(a, b uint32) int {
		return cmp.Compare(h.Rank(id, a), h.Rank(id, b))
	})
	return items[:k]
}

// Mix64 is the splitmix64 finalizer, a cheap bijective mix of 64 bits
// (the collector's user table hashes pseudonyms with it too).
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ (x >> 31)
}
