package recommend

import (
	"errors"
	"fmt"
)

// Neighbor is one entry of an item's neighbour list: evidence that users who
// had the item also had Item.
type Neighbor struct {
	// Item is the neighbour's catalog index.
	Item int
	// Weight is what the neighbour's score gains when the list's item is in
	// the context.
	Weight float32
	// Support is the released (possibly weighted) count of users behind
	// the evidence, shown in explanations and compared with
	// Query.MinSupport.
	Support float32
}

// neighbors is evidence of buying together, as neighbour lists in CSR form:
// item i's neighbours are item[off[i]:off[i+1]]. A context of items i
// scores j with Σ_i base_i·p_j + Σ_i weight_ij.
type neighbors struct {
	base    []float32 // per item i: its weight on popularity
	off     []uint32
	item    []uint32
	weight  []float32
	support []float32
}

// NewNeighborEvidence returns evidence of buying together: lists[i] holds
// item i's neighbours, strongest first, and base[i] is the weight on
// popularity (the prior) that item i adds to a context it is in. Both have
// one entry per catalog item; weights and supports are finite and ≥ 0.
func NewNeighborEvidence(base []float32, lists [][]Neighbor) (Evidence, error) {
	if len(base) != len(lists) {
		return nil, fmt.Errorf("recommend: %d base weights for %d neighbour lists", len(base), len(lists))
	}
	nb := &neighbors{base: append([]float32(nil), base...), off: make([]uint32, len(lists)+1)}
	for i, l := range lists {
		for _, e := range l {
			if e.Item < 0 || e.Item >= len(lists) {
				return nil, fmt.Errorf("recommend: neighbour %d of item %d out of range", e.Item, i)
			}
			nb.item = append(nb.item, uint32(e.Item))
			nb.weight = append(nb.weight, e.Weight)
			nb.support = append(nb.support, e.Support)
		}
		nb.off[i+1] = uint32(len(nb.item))
	}
	return nb, nil
}

func (nb *neighbors) evidence() evidence { return nb }
func (nb *neighbors) tag() sectionTag    { return tagNeighbors }
func (nb *neighbors) count(c *Contents)  { c.Neighbors += len(nb.item) }

func (nb *neighbors) check(cat *Catalog) error {
	n := cat.Len()
	if len(nb.base) != n || len(nb.off) != n+1 {
		return fmt.Errorf("lists for %d items, catalog has %d", len(nb.base), n)
	}
	for i, b := range nb.base {
		if !finiteNonNeg(float64(b)) {
			return fmt.Errorf("base weight of item %d invalid", i)
		}
	}
	if nb.off[0] != 0 {
		return errors.New("neighbour offsets do not start at 0")
	}
	for i := 1; i <= n; i++ {
		if nb.off[i] < nb.off[i-1] {
			return fmt.Errorf("neighbour offsets not increasing at %d", i)
		}
	}
	nnz := int(nb.off[n])
	if len(nb.item) != nnz || len(nb.weight) != nnz || len(nb.support) != nnz {
		return errors.New("neighbour arrays do not match their offsets")
	}
	for k, j := range nb.item {
		switch {
		case int(j) >= n:
			return fmt.Errorf("neighbour %d: item out of range", k)
		case !finiteNonNeg(float64(nb.weight[k])):
			return fmt.Errorf("neighbour %d: weight invalid", k)
		case !finiteNonNeg(float64(nb.support[k])):
			return fmt.Errorf("neighbour %d: support invalid", k)
		}
	}
	return nil
}

func (nb *neighbors) apply(r *run) {
	sc, ctx, minSupport := r.sc, r.ctx, r.minSupport
	for _, i := range ctx {
		sc.prior += float64(nb.base[i])
	}
	sc.hasPrior = true
	for _, ci := range ctx {
		lo, hi := nb.off[ci], nb.off[ci+1]
		sc.boost(nb.item[lo:hi], nb.weight[lo:hi], nb.support[lo:hi], minSupport)
	}
}

// explain goes over the context's lists again, in apply's order, and
// keeps the strongest contributions to each winner: only the few
// candidates that are returned need them.
func (nb *neighbors) explain(r *run) {
	sc, minSupport := r.sc, r.minSupport
	for _, ci := range r.ctx {
		for k := nb.off[ci]; k < nb.off[ci+1]; k++ {
			t := sc.slot[nb.item[k]] // blocked items point at the sentinel, which never wins
			if t < 0 || sc.touched[t].win == 0 || float64(nb.support[k]) < minSupport {
				continue
			}
			sc.tops[sc.touched[t].win-1].add(contrib{ctx: ci, weight: nb.weight[k], supp: nb.support[k]})
		}
	}
}

func (nb *neighbors) encode(e *encoder) {
	for _, b := range nb.base {
		e.f32(b)
	}
	for _, o := range nb.off {
		e.u32(o)
	}
	for _, j := range nb.item {
		e.u32(j)
	}
	for _, w := range nb.weight {
		e.f32(w)
	}
	for _, s := range nb.support {
		e.f32(s)
	}
}

// decodeNeighbors reads a neighbours section for the catalog.
func decodeNeighbors(d *decoder, cat *Catalog) (*neighbors, error) {
	n := cat.Len()
	// base (4) and offset (4) per item, one more offset.
	if !d.need(uint64(n), 8) {
		return nil, d.err
	}
	nb := &neighbors{base: make([]float32, n), off: make([]uint32, n+1)}
	for i := range nb.base {
		nb.base[i] = d.f32()
	}
	for i := range nb.off {
		nb.off[i] = d.u32()
	}
	if d.err != nil {
		return nil, d.err
	}
	for i := 1; i <= n; i++ {
		if nb.off[i] < nb.off[i-1] {
			return nil, fmt.Errorf("neighbour offsets not increasing at %d", i)
		}
	}
	nnz := uint64(nb.off[n])
	if !d.need(nnz, 12) {
		return nil, d.err
	}
	nb.item = make([]uint32, nnz)
	nb.weight = make([]float32, nnz)
	nb.support = make([]float32, nnz)
	for k := range nb.item {
		nb.item[k] = d.u32()
	}
	for k := range nb.weight {
		nb.weight[k] = d.f32()
	}
	for k := range nb.support {
		nb.support[k] = d.f32()
	}
	if d.err != nil {
		return nil, d.err
	}
	return nb, nb.check(cat)
}
