package bottomk

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/privrec/privrec/pseudonym"
)

func TestBound(t *testing.T) {
	id := pseudonym.ID{1}
	h := New([16]byte{7})
	items := []uint32{9, 3, 7, 1, 5, 8, 2}
	ranked := slices.Clone(items)
	slices.SortFunc(ranked, func(a, b uint32) int { return cmp.Compare(h.Rank(id, a), h.Rank(id, b)) })
	tests := []struct {
		name  string
		k     int
		items []uint32
		want  []uint32
	}{
		{"k < 1 keeps nothing", 0, []uint32{1, 2}, nil},
		{"duplicates count once", 4, []uint32{5, 2, 5, 2}, []uint32{2, 5}},
		{"all when at most k", 7, items, []uint32{1, 2, 3, 5, 7, 8, 9}},
		{"the k of smallest rank", 3, items, ranked[:3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.Bound(tt.k, id, slices.Clone(tt.items))
			assert.ElementsMatch(t, tt.want, got)
		})
	}
	assert.NotEqual(t, New([16]byte{1}).Rank(id, 3), New([16]byte{2}).Rank(id, 3), "the key changes the rank")
	assert.NotEqual(t, h.Rank(pseudonym.ID{2}, 3), h.Rank(id, 3), "so does the user")
}
