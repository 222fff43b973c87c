package benchmarks

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Synth generates users like those of a real dataset: it fits a low-rank
// model to the real user-item matrix (truncated SVD with gonum) and samples
// new users from it, with the real users' basket sizes.
type Synth struct {
	items   []string
	factors *mat.Dense // items × rank: item factors V·Σ^½
	users   [][]float64
	spread  []float64 // per dimension: standard deviation of the users' factors
	sizes   []int     // real basket sizes (distinct items), sampled with replacement
	rank    int
}

// FitSynth fits a rank-r model to the users' interactions with the d's
// nItems most popular items.
func FitSynth(d *Dataset, nItems, rank int) (*Synth, error) {
	counts := make([]int, len(d.Items))
	for _, u := range d.Users {
		for _, it := range distinct(u) {
			counts[it]++
		}
	}
	order := make([]int32, len(d.Items))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(counts[b], counts[a]) })
	nItems = min(nItems, len(order))
	local := make(map[int32]int, nItems)
	s := &Synth{items: make([]string, nItems), rank: rank}
	for i, it := range order[:nItems] {
		local[it] = i
		s.items[i] = d.Items[it]
	}
	var rows [][]int
	for _, u := range d.Users {
		var r []int
		for _, it := range distinct(u) {
			if l, ok := local[it]; ok {
				r = append(r, l)
			}
		}
		if len(r) > 0 {
			rows = append(rows, r)
			s.sizes = append(s.sizes, len(r))
		}
	}
	if len(rows) < rank || nItems < rank {
		return nil, fmt.Errorf("synth: too little data for rank %d", rank)
	}
	x := mat.NewDense(len(rows), nItems, nil)
	for u, r := range rows {
		for _, i := range r {
			x.Set(u, i, 1)
		}
	}
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDThin) {
		return nil, fmt.Errorf("synth: SVD did not converge")
	}
	var uMat, vMat mat.Dense
	svd.UTo(&uMat)
	svd.VTo(&vMat)
	sv := svd.Values(nil)
	s.factors = mat.NewDense(nItems, rank, nil)
	for i := range nItems {
		for k := range rank {
			s.factors.Set(i, k, vMat.At(i, k)*math.Sqrt(sv[k]))
		}
	}
	s.spread = make([]float64, rank)
	for u := range rows {
		f := make([]float64, rank)
		for k := range rank {
			f[k] = uMat.At(u, k) * math.Sqrt(sv[k])
			s.spread[k] += f[k] * f[k]
		}
		s.users = append(s.users, f)
	}
	for k := range s.spread {
		s.spread[k] = math.Sqrt(s.spread[k] / float64(len(rows)))
	}
	return s, nil
}

// Generate samples n users: each takes the factors of a random real user
// plus Gaussian noise (a fifth of each dimension's spread), and a basket of
// a real user's size, drawn without replacement with probabilities
// proportional to the positive part of its low-rank scores. Seeded and
// reproducible.
func (s *Synth) Generate(n int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 0x5717))
	d := &Dataset{Name: fmt.Sprintf("synthetic (%d users, calibrated on %d real users)", n, len(s.users)), Items: s.items, Users: make([][]Interaction, n)}
	nItems := len(s.items)
	f := make([]float64, s.rank)
	w := make([]float64, nItems)
	cum := make([]float64, nItems)
	for u := range n {
		base := s.users[rng.IntN(len(s.users))]
		for k := range f {
			f[k] = base[k] + 0.2*s.spread[k]*rng.NormFloat64()
		}
		total := 0.0
		for i := range nItems {
			v := 0.0
			row := s.factors.RawRowView(i)
			for k, x := range row {
				v += x * f[k]
			}
			w[i] = math.Max(v, 1e-3)
			total += w[i]
			cum[i] = total
		}
		size := min(s.sizes[rng.IntN(len(s.sizes))], nItems/2)
		basket := make([]Interaction, 0, size)
		for tries := 0; len(basket) < size && tries < 20*size; tries++ {
			i, _ := slices.BinarySearch(cum, rng.Float64()*total)
			i = min(i, nItems-1)
			if !slices.ContainsFunc(basket, func(e Interaction) bool { return e.Item == int32(i) }) {
				basket = append(basket, Interaction{Item: int32(i)})
			}
		}
		d.Users[u] = basket
	}
	return d
}
