package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHeadItems(t *testing.T) {
	for _, tc := range []struct {
		counts []int64
		size   int
		want   []uint32
	}{
		{[]int64{3, 9, -4, 9, 0}, 3, []uint32{1, 3, 0}},
		{[]int64{-1, -5, 0}, 2, []uint32{0, 1}}, // negatives count as zero, ties by index
		{[]int64{1, 2}, 5, []uint32{1, 0}},
		{[]int64{1, 2}, 0, []uint32{}},
		{nil, 3, []uint32{}},
	} {
		assert.Equal(t, tc.want, HeadItems(tc.counts, tc.size), "%v", tc.counts)
	}
}

// Without collect and release linked, the entry points say so.
func TestEntryPointsNeedTheirPackages(t *testing.T) {
	_, err := NewGate(nil, nil, nil)
	assert.ErrorIs(t, err, ErrNotLinked)
	_, err = NewRelease(nil, nil, false)
	assert.ErrorIs(t, err, ErrNotLinked)
}
