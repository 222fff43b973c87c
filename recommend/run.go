package recommend

// run is one query in progress: the context, the filters, and the
// candidates that evidence has touched so far.
type run struct {
	m          *Model
	sc         *scratch
	ctx        []uint32 // known context items, deduplicated
	minSupport float64
	available  func(item string) bool
}

// scratch is per-query working memory, pooled per model.
type scratch struct {
	slot []int32 // per item: index into touched, free or blocked
	// touched holds the candidates evidence has boosted, from index 1;
	// entry 0 is a sentinel that blocked items point at, whose boosts are
	// never read (see boost).
	touched []touched
	ctx     []uint32
	excl    []uint32
	allow   []int32
	deny    []int32
	heap    []cand
	tops    []top // the winners' explanations (touched.win)
	run     run   // the query in progress

	// prior is the context's weight on popularity, set by evidence that
	// has one (hasPrior); without, it is 1.
	prior    float64
	hasPrior bool
	// Category evidence: factors on the popularity of items by category.
	// Items in a category that the context counts catCount[d] > 0 times
	// (listed in catTouched) score with catFactor[d], items in other
	// categories with catBase, items without a category with 1.
	catCount   []int32
	catFactor  []float64
	catTouched []int32
	catBase    float64
}

// touched is a candidate that some evidence scored. It is kept small (16
// bytes): a long context touches thousands of candidates, and only the
// winners get an explanation, in tops[win-1].
type touched struct {
	item  uint32
	win   int32 // 1 + the index of the candidate's explanation in scratch.tops; 0 for none
	boost float64
}

// top holds a winner's strongest contributions, strongest first.
type top [MaxExplain]contrib

// contrib is one context item's contribution to a candidate, kept for the
// explanation.
type contrib struct {
	ctx    uint32 // catalog index of the context item
	weight float32
	supp   float32
}

type cand struct {
	item    uint32
	rank    uint32 // position in popularity order, to break ties
	score   float64
	touched int32 // index into touched, or -1
}

// Values of scratch.slot besides an index into touched.
const (
	free    int32 = -1
	blocked int32 = 0 // a context or excluded item: the sentinel entry
)

func (m *Model) getScratch() *scratch {
	select {
	case sc := <-m.scratch:
		return sc
	default:
		return newScratch(len(m.pop), len(m.cat.categories))
	}
}

func (m *Model) putScratch(sc *scratch) {
	select {
	case m.scratch <- sc:
	default: // more queries in flight than buffers kept: let this one go
	}
}

func newScratch(items, categories int) *scratch {
	s := &scratch{
		slot:      make([]int32, items),
		catCount:  make([]int32, categories),
		catFactor: make([]float64, categories),
	}
	for i := range s.slot {
		s.slot[i] = free
	}
	return s
}

// factor is the category evidence's factor on item j's popularity.
func (sc *scratch) factor(c int32) float64 {
	switch {
	case c < 0:
		return 1
	case sc.catCount[c] > 0:
		return sc.catFactor[c]
	}
	return sc.catBase
}

// boost adds weights[k] to the score of candidate items[k], for every k
// whose supports[k] reaches minSupport, making a candidate's entry on its
// first boost. It has no branch on whether an item is new: in a long
// context that is as likely as not, and the mispredicted branch cost more
// than the rest of the loop. A blocked item's slot points at the sentinel
// entry 0, so its boosts land there and are never read; a new entry is
// written one past the end on every boost (room is made first) and kept
// only when the item was free.
func (sc *scratch) boost(items []uint32, weights, supports []float32, minSupport float64) {
	n := int32(len(sc.touched))
	if need := int(n) + len(items) + 1; cap(sc.touched) < need {
		grown := make([]touched, n, 2*need)
		copy(grown, sc.touched)
		sc.touched = grown
	}
	tl, slot := sc.touched[:cap(sc.touched)], sc.slot
	weights, supports = weights[:len(items)], supports[:len(items)]
	for k, j := range items {
		if float64(supports[k]) < minSupport {
			continue
		}
		t := slot[j]
		isNew := t >> 31 // -1 when the item is free, else 0
		t = t&^isNew | n&isNew
		tl[n] = touched{item: j}
		n -= isNew
		slot[j] = t
		tl[t].boost += float64(weights[k])
	}
	sc.touched = tl[:n]
}

// candidates returns the touched candidates, without the sentinel.
func (sc *scratch) candidates() []touched { return sc.touched[1:] }

// add keeps contribution c if it is among the strongest; of equal weights,
// the first added. The insertion is unrolled for MaxExplain = 3 (a
// different MaxExplain does not compile), since a copy of a variable
// length calls memmove.
func (t *top) add(c contrib) {
	switch {
	case c.weight > t[0].weight:
		t[2], t[1], t[0] = t[1], t[0], c
	case c.weight > t[1].weight:
		t[2], t[1] = t[1], c
	case c.weight > t[2].weight:
		t[2] = c
	}
}

// add's unrolled insertion holds exactly three contributions.
var _ = [1]struct{}{}[MaxExplain-3]

// rank scores candidates: every item the context's evidence reaches, plus,
// because every other item scores in proportion to its popularity times
// its category's factor, the first n eligible items in popularity order of
// each group of items that share a factor. It writes the best n to res.
func (r *run) rank(res *Result, n int) {
	m, sc := r.m, r.sc
	sc.touched = append(sc.touched[:0], touched{}) // the sentinel
	sc.prior, sc.hasPrior, sc.catBase = 0, false, 1
	// Context and excluded items are never candidates: mark them, so that
	// skipping them costs one load instead of a scan of both lists.
	for _, i := range r.ctx {
		sc.slot[i] = blocked
	}
	for _, i := range sc.excl {
		sc.slot[i] = blocked
	}
	if len(r.ctx) > 0 {
		for _, e := range m.evidence {
			e.apply(r)
		}
	}
	base := 1.0
	if sc.hasPrior {
		base = sc.prior
	}
	prior := 0.0
	if m.popTotal > 0 {
		prior = base / m.popTotal
	}

	// Bounded min-heap of the n best candidates.
	sc.heap = sc.heap[:0]
	push := func(c cand) {
		if len(sc.heap) < n {
			sc.heap = append(sc.heap, c)
			siftUp(sc.heap, len(sc.heap)-1)
		} else if better(c, sc.heap[0]) {
			sc.heap[0] = c
			siftDown(sc.heap, 0)
		}
	}
	for t := 1; t < len(sc.touched); t++ {
		tt := &sc.touched[t]
		if r.eligible(tt.item) {
			push(cand{tt.item, m.popRank[tt.item], m.pop[tt.item]*prior*sc.factor(m.itemCat[tt.item]) + tt.boost, int32(t)})
		}
	}
	// Untouched items score p_j·prior·factor. Within a group of one factor
	// the order is popularity, so the first n eligible items of each group
	// hold the group's best: the popularity order skipping items whose
	// factor is not catBase, then the context's categories, then items
	// without a category if their factor (1) differs from catBase.
	scan := func(order []uint32, skipOthers bool) {
		found := 0
		for _, j := range order {
			if found >= n {
				break
			}
			if sc.slot[j] != free {
				continue
			}
			f := sc.factor(m.itemCat[j])
			if skipOthers && f != sc.catBase {
				continue
			}
			if !r.eligible(j) {
				continue
			}
			found++
			push(cand{j, m.popRank[j], m.pop[j] * prior * f, -1})
		}
	}
	order := m.popOrder
	if len(sc.allow) == 1 && sc.allow[0] >= 0 {
		order = m.popByCat[sc.allow[0]]
	}
	scan(order, true)
	for _, d := range sc.catTouched {
		if sc.catFactor[d] != sc.catBase {
			scan(m.popByCat[d], false)
		}
	}
	if sc.catBase != 1 {
		scan(m.uncategorized, false)
	}

	// Only the winners need an explanation: give each touched winner a
	// slot and let the evidence fill it.
	sc.tops = sc.tops[:0]
	for _, c := range sc.heap {
		if c.touched >= 0 {
			sc.tops = append(sc.tops, top{})
			sc.touched[c.touched].win = int32(len(sc.tops))
		}
	}
	if len(sc.tops) > 0 {
		for _, e := range m.evidence {
			e.explain(r)
		}
	}

	// Pop the heap into res.Items, best first.
	cnt := len(sc.heap)
	if cap(res.Items) < cnt {
		res.Items = make([]Recommendation, cnt)
	}
	res.Items = res.Items[:cnt]
	for k := cnt - 1; k >= 0; k-- {
		c := sc.heap[0]
		last := len(sc.heap) - 1
		sc.heap[0] = sc.heap[last]
		sc.heap = sc.heap[:last]
		if last > 0 {
			siftDown(sc.heap, 0)
		}
		rec := &res.Items[k]
		*rec = Recommendation{Item: m.ids[c.item], Score: c.score, Reason: ReasonPopular, Support: m.pop[c.item]}
		if c.touched >= 0 {
			tp := &sc.tops[sc.touched[c.touched].win-1]
			rec.Reason = ReasonContext
			rec.Support = float64(tp[0].supp)
			for e := 0; e < MaxExplain && tp[e].weight > 0; e++ {
				rec.Because[e] = m.ids[tp[e].ctx]
			}
		} else if d := m.itemCat[c.item]; d >= 0 && sc.catCount[d] > 0 && sc.catFactor[d] > sc.catBase {
			rec.Reason = ReasonCategory
			rec.Category = m.cat.categories[d]
			e := 0
			for _, i := range r.ctx {
				if e < MaxExplain && m.itemCat[i] == d {
					rec.Because[e] = m.ids[i]
					e++
				}
			}
		}
	}
	res.Fallback = len(sc.candidates()) == 0 && len(sc.catTouched) == 0
	for _, tt := range sc.candidates() {
		sc.slot[tt.item] = free
	}
	for _, d := range sc.catTouched {
		sc.catCount[d] = 0
	}
	sc.catTouched = sc.catTouched[:0]
	for _, i := range r.ctx {
		sc.slot[i] = free
	}
	for _, i := range sc.excl {
		sc.slot[i] = free
	}
}

// better orders candidates: higher score, then the more popular (the
// popularity order breaks its own ties by catalog index).
func better(a, b cand) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.rank < b.rank
}

func siftUp(h []cand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []cand, i int) {
	for {
		l, s := 2*i+1, i
		if l < len(h) && better(h[s], h[l]) {
			s = l
		}
		if r := l + 1; r < len(h) && better(h[s], h[r]) {
			s = r
		}
		if s == i {
			return
		}
		h[i], h[s] = h[s], h[i]
		i = s
	}
}
