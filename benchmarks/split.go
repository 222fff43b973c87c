package benchmarks

import (
	"math/rand/v2"
	"slices"
)

// Split holds, per user, the distinct items to learn from and the distinct
// items to predict. Users with nothing to predict have an empty Test.
type Split struct {
	Name  string
	Train [][]int32
	Test  [][]int32
	Items int // catalog size
}

// RandomSplit puts a random 75% (rounded down, at least one) of each user's
// distinct items in Train and the rest in Test; users with one item are
// train-only.
func RandomSplit(d *Dataset, seed uint64) Split {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := Split{Name: "random 75/25", Train: make([][]int32, len(d.Users)), Test: make([][]int32, len(d.Users)), Items: len(d.Items)}
	for u, evs := range d.Users {
		items := distinct(evs)
		rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		cut := max(1, len(items)*3/4)
		s.Train[u], s.Test[u] = items[:cut], items[cut:]
	}
	return s
}

// TemporalSplit holds out each user's last day: the items first seen that
// day are Test, everything before is Train. Users active on one day only
// are train-only.
func TemporalSplit(d *Dataset) Split {
	s := Split{Name: "temporal (last day held out)", Train: make([][]int32, len(d.Users)), Test: make([][]int32, len(d.Users)), Items: len(d.Items)}
	for u, evs := range d.Users {
		lastDay := evs[len(evs)-1].Time / 86400
		var before, last []Interaction
		for _, e := range evs {
			if e.Time/86400 < lastDay {
				before = append(before, e)
			} else {
				last = append(last, e)
			}
		}
		train := distinct(before)
		if len(train) == 0 {
			s.Train[u] = distinct(evs)
			continue
		}
		s.Train[u] = train
		for _, it := range distinct(last) {
			if !slices.Contains(train, it) {
				s.Test[u] = append(s.Test[u], it)
			}
		}
	}
	return s
}

func distinct(evs []Interaction) []int32 {
	var out []int32
	seen := map[int32]bool{}
	for _, e := range evs {
		if !seen[e.Item] {
			seen[e.Item] = true
			out = append(out, e.Item)
		}
	}
	return out
}

// TestUsers counts users with something to predict.
func (s Split) TestUsers() int {
	n := 0
	for _, t := range s.Test {
		if len(t) > 0 {
			n++
		}
	}
	return n
}
