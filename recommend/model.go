package recommend

import (
	"cmp"
	"runtime"
	"slices"
)

// Model is a released recommendation model: noisy item popularity, per-item
// neighbour lists derived from noisy pair counts, the public catalog, and
// the privacy report. It holds no pseudonym, no user ID and no per-user
// data. It is immutable and safe for concurrent queries.
//
// # Scoring
//
// Released counts are n_i (users with item i) and ĉ_ij (users with i and
// j); p_j = n_j / Σn is j's popularity share and s = max(1, σ) the pair
// noise's standard deviation. The release fits λ so that λ·n_i·n_j is the
// co-count popularity alone predicts, and keeps e_ij ≥ 0, the clear excess
// of ĉ_ij over it (see the release code). A context's score for j is
//
//	Σ_i  base_i·p_j + e_ij / sqrt((n_i + s)(n_j + s))
//
// over the context items i: a popularity term, whose weight base_i grows
// with the noise, plus cosine-normalized evidence of buying together. Where
// pair counts are noise every e_ij is zero and the score is proportional to
// p_j: recommendations fall back to popularity smoothly, not below it.
type Model struct {
	items      []string
	names      []string
	itemCat    []int32
	categories []string
	index      map[string]uint32
	catIndex   map[string]int32

	pop      []float64 // released users per item, clamped at 0
	popTotal float64
	popOrder []uint32   // items by pop, descending
	popByCat [][]uint32 // per category, items by pop, descending

	smoothing  float64
	base       []float32 // per item i: base_i
	nbrOff     []uint32  // item i's neighbours are nbr*[nbrOff[i]:nbrOff[i+1]]
	nbrItem    []uint32
	nbrWeight  []float32 // e_ij / sqrt((n_i + s)(n_j + s))
	nbrSupport []float32 // estimated co-count λ·n_i·n_j + e_ij

	report Report

	// scratch is a free list of per-query working memory. A channel rather
	// than a sync.Pool: a pool is emptied at every garbage collection, and
	// refilling it would allocate a catalog-sized buffer per P each time.
	scratch chan *scratch
}

func newModel(cat *Catalog, pop []float64) *Model {
	m := &Model{
		items:      make([]string, cat.Len()),
		names:      make([]string, cat.Len()),
		itemCat:    slices.Clone(cat.itemCat),
		categories: slices.Clone(cat.categories),
		pop:        pop,
	}
	for i, it := range cat.items {
		m.items[i] = it.ID
		m.names[i] = it.Name
	}
	m.derive()
	return m
}

// derive computes the lookup maps and popularity orders from the stored fields.
func (m *Model) derive() {
	m.index = make(map[string]uint32, len(m.items))
	for i, id := range m.items {
		m.index[id] = uint32(i)
	}
	m.catIndex = make(map[string]int32, len(m.categories))
	for i, c := range m.categories {
		m.catIndex[c] = int32(i)
	}
	m.popTotal = 0
	for _, p := range m.pop {
		m.popTotal += p
	}
	m.popOrder = make([]uint32, len(m.items))
	for i := range m.popOrder {
		m.popOrder[i] = uint32(i)
	}
	slices.SortFunc(m.popOrder, func(a, b uint32) int {
		if c := cmp.Compare(m.pop[b], m.pop[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	m.popByCat = make([][]uint32, len(m.categories))
	for _, it := range m.popOrder {
		if c := m.itemCat[it]; c >= 0 {
			m.popByCat[c] = append(m.popByCat[c], it)
		}
	}
	m.scratch = make(chan *scratch, 2*runtime.GOMAXPROCS(0))
}

// Report returns the model's privacy report.
func (m *Model) Report() Report { return m.report.clone() }

// Len returns the number of items in the model.
func (m *Model) Len() int { return len(m.items) }

// Item returns the catalog entry of item i (0 <= i < Len()).
func (m *Model) Item(i int) Item {
	it := Item{ID: m.items[i], Name: m.names[i]}
	if c := m.itemCat[i]; c >= 0 {
		it.Category = m.categories[c]
	}
	return it
}

// Lookup returns the catalog entry of the item with the given ID.
func (m *Model) Lookup(id string) (Item, bool) {
	i, ok := m.index[id]
	if !ok {
		return Item{}, false
	}
	return m.Item(int(i)), true
}

// Popularity returns the released (noisy, clamped) number of users who had
// the item in the window, and whether the item is known.
func (m *Model) Popularity(id string) (float64, bool) {
	i, ok := m.index[id]
	if !ok {
		return 0, false
	}
	return m.pop[i], true
}

// NeighborCount returns the total number of neighbour entries.
func (m *Model) NeighborCount() int { return len(m.nbrItem) }
