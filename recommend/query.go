package recommend

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Query limits.
const (
	MaxResults      = 1000 // n
	MaxContextItems = 1000
	MaxExplain      = 3 // context items named in one explanation
)

// ErrBadQuery is wrapped by query errors about the arguments.
var ErrBadQuery = errors.New("recommend: bad query")

// QueryOptions filter and shape results. The zero value applies no filter.
type QueryOptions struct {
	// Exclude lists items never to return, e.g. those already bought.
	// Context items are always excluded. Unknown IDs are ignored.
	Exclude []string
	// Categories, when not empty, allows only items in these categories.
	Categories []string
	// ExcludeCategories drops items in these categories.
	ExcludeCategories []string
	// Available, when not nil, is called for candidate items; items for
	// which it returns false are skipped (e.g. out of stock).
	Available func(item string) bool
	// MinSupport drops items whose released popularity is below it, and
	// ignores pair evidence whose released count is below it.
	MinSupport float64
}

// Reason says where a recommendation comes from.
type Reason uint8

const (
	// ReasonContext: bought together with the context items in Because.
	ReasonContext Reason = iota + 1
	// ReasonPopular: popular in this window; the context gave no evidence.
	ReasonPopular
)

// String returns "context" or "popular".
func (r Reason) String() string {
	switch r {
	case ReasonContext:
		return "context"
	case ReasonPopular:
		return "popular"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Recommendation is one result with its explanation.
type Recommendation struct {
	// Item is the recommended item's ID.
	Item string
	// Score ranks results. For context queries it is the sum, over the
	// context items i, of the estimated chance that a user with i also has
	// Item (see Model); for Popular, Item's share of all released counts.
	Score float64
	// Reason says whether context evidence or popularity produced the item.
	Reason Reason
	// Because names up to MaxExplain context items that contributed,
	// strongest first; unused entries are empty. See BecauseItems.
	Because [MaxExplain]string
	// Support is the released number of users behind the strongest
	// evidence: the pair count for ReasonContext, the item count for
	// ReasonPopular.
	Support float64
}

// BecauseItems returns the non-empty entries of Because.
func (r *Recommendation) BecauseItems() []string {
	n := 0
	for n < MaxExplain && r.Because[n] != "" {
		n++
	}
	return r.Because[:n]
}

// Explain returns a short English explanation.
func (r *Recommendation) Explain() string {
	items := r.BecauseItems()
	if r.Reason != ReasonContext || len(items) == 0 {
		return "popular with other shoppers"
	}
	switch len(items) {
	case 1:
		return "bought together with " + items[0]
	case 2:
		return "bought together with " + items[0] + " and " + items[1]
	}
	return "bought together with " + strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// MarshalJSON renders the recommendation with its explanation.
func (r Recommendation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Item    string   `json:"item"`
		Score   float64  `json:"score"`
		Reason  Reason   `json:"reason"`
		Because []string `json:"because"`
		Support float64  `json:"support"`
		Explain string   `json:"explanation"`
	}{r.Item, r.Score, r.Reason, append([]string{}, r.BecauseItems()...), r.Support, r.Explain()})
}

// Result is the answer to a query. Reuse one Result across calls to the
// ...Into methods to query without allocating.
type Result struct {
	// Items are the recommendations, best first.
	Items []Recommendation `json:"items"`
	// Unknown lists context items that the model does not know; they were
	// ignored.
	Unknown []string `json:"unknown,omitempty"`
	// Fallback is true when a context query found no evidence (no known
	// context item, or none with released pairs) and returned the most
	// popular items instead. Always false for Popular.
	Fallback bool `json:"fallback"`
}

func (r *Result) reset() {
	clear(r.Items)
	r.Items = r.Items[:0]
	clear(r.Unknown)
	r.Unknown = r.Unknown[:0]
	r.Fallback = false
}

// scratch is per-query working memory, pooled per model.
type scratch struct {
	slot    []int32 // per item: index into touched, free or blocked
	touched []touched
	ctx     []uint32
	excl    []uint32
	allow   []int32
	deny    []int32
	heap    []cand
}

type touched struct {
	item  uint32
	boost float64
	top   [MaxExplain]contrib
}

type contrib struct {
	ctx    uint32 // catalog index of the context item
	weight float32
	supp   float32
}

type cand struct {
	item    uint32
	score   float64
	touched int32 // index into touched, or -1
}

func (m *Model) getScratch() *scratch {
	select {
	case sc := <-m.scratch:
		return sc
	default:
		return newScratch(len(m.items))
	}
}

func (m *Model) putScratch(sc *scratch) {
	select {
	case m.scratch <- sc:
	default: // more queries in flight than buffers kept: let this one go
	}
}

func newScratch(n int) *scratch {
	s := &scratch{slot: make([]int32, n)}
	for i := range s.slot {
		s.slot[i] = free
	}
	return s
}

// ForContext recommends n items for a context: the items in the current
// session or cart, supplied by the caller at query time. Nothing about the
// person is stored. Unknown context items are ignored and listed in
// Result.Unknown; with no known context item, the most popular items are
// returned (Result.Fallback).
func (m *Model) ForContext(context []string, n int, opts QueryOptions) (*Result, error) {
	res := &Result{}
	return res, m.ForContextInto(res, context, n, opts)
}

// ForContextInto is ForContext writing into res, which it resets first. It
// allocates nothing in steady state when res is reused.
func (m *Model) ForContextInto(res *Result, context []string, n int, opts QueryOptions) error {
	res.reset()
	if err := checkN(n); err != nil {
		return err
	}
	if len(context) > MaxContextItems {
		return fmt.Errorf("%w: %d context items, at most %d", ErrBadQuery, len(context), MaxContextItems)
	}
	sc := m.getScratch()
	defer m.putScratch(sc)
	sc.ctx = sc.ctx[:0]
	for _, id := range context {
		i, ok := m.index[id]
		if !ok {
			res.Unknown = append(res.Unknown, id)
			continue
		}
		if !containsU32(sc.ctx, i) {
			sc.ctx = append(sc.ctx, i)
		}
	}
	m.prepareFilters(sc, &opts)
	m.rank(sc, res, n, &opts)
	res.Fallback = res.Fallback && context != nil
	return nil
}

// Similar returns n items that users who had item also had ("customers who
// bought this also bought"). An unknown item is listed in Result.Unknown and
// popular items are returned.
func (m *Model) Similar(item string, n int, opts QueryOptions) (*Result, error) {
	res := &Result{}
	return res, m.SimilarInto(res, item, n, opts)
}

// SimilarInto is Similar writing into res; it allocates nothing in steady
// state when res is reused.
func (m *Model) SimilarInto(res *Result, item string, n int, opts QueryOptions) error {
	one := [1]string{item}
	return m.ForContextInto(res, one[:], n, opts)
}

// Popular returns the n most popular items that pass the filters; with
// QueryOptions.Categories, the most popular within those categories.
func (m *Model) Popular(n int, opts QueryOptions) (*Result, error) {
	res := &Result{}
	return res, m.PopularInto(res, n, opts)
}

// PopularInto is Popular writing into res; it allocates nothing in steady
// state when res is reused.
func (m *Model) PopularInto(res *Result, n int, opts QueryOptions) error {
	return m.ForContextInto(res, nil, n, opts)
}

func checkN(n int) error {
	if n < 1 || n > MaxResults {
		return fmt.Errorf("%w: n = %d must be in [1, %d]", ErrBadQuery, n, MaxResults)
	}
	return nil
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsI32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (m *Model) prepareFilters(sc *scratch, opts *QueryOptions) {
	sc.excl = sc.excl[:0]
	for _, id := range opts.Exclude {
		if i, ok := m.index[id]; ok {
			sc.excl = append(sc.excl, i)
		}
	}
	sc.allow = sc.allow[:0]
	for _, c := range opts.Categories {
		if ci, ok := m.catIndex[c]; ok {
			sc.allow = append(sc.allow, ci)
		} else {
			sc.allow = append(sc.allow, -2) // matches nothing, keeps the filter on
		}
	}
	sc.deny = sc.deny[:0]
	for _, c := range opts.ExcludeCategories {
		if ci, ok := m.catIndex[c]; ok {
			sc.deny = append(sc.deny, ci)
		}
	}
}

// eligible applies the item filters; context and excluded items are already
// blocked in sc.slot. Available (user code) is called last.
func (m *Model) eligible(sc *scratch, opts *QueryOptions, i uint32) bool {
	if m.pop[i] < opts.MinSupport {
		return false
	}
	c := m.itemCat[i]
	if len(sc.allow) > 0 && (c < 0 || !containsI32(sc.allow, c)) {
		return false
	}
	if len(sc.deny) > 0 && c >= 0 && containsI32(sc.deny, c) {
		return false
	}
	return opts.Available == nil || opts.Available(m.items[i])
}

// rank scores candidates: every item the context's neighbour lists reach,
// plus, because every other item scores in proportion to its popularity, the
// first n eligible items in popularity order.
func (m *Model) rank(sc *scratch, res *Result, n int, opts *QueryOptions) {
	sc.touched = sc.touched[:0]
	// Context and excluded items are never candidates: mark them, so that
	// skipping them costs one load instead of a scan of both lists.
	for _, i := range sc.ctx {
		sc.slot[i] = blocked
	}
	for _, i := range sc.excl {
		sc.slot[i] = blocked
	}
	base := 0.0
	for _, ci := range sc.ctx {
		base += float64(m.base[ci])
		for k := m.nbrOff[ci]; k < m.nbrOff[ci+1]; k++ {
			supp := m.nbrSupport[k]
			if float64(supp) < opts.MinSupport {
				continue
			}
			j := m.nbrItem[k]
			t := sc.slot[j]
			if t == blocked {
				continue
			}
			if t < 0 {
				t = int32(len(sc.touched))
				sc.slot[j] = t
				sc.touched = append(sc.touched, touched{item: j})
			}
			tt := &sc.touched[t]
			w := m.nbrWeight[k]
			tt.boost += float64(w)
			tt.addContrib(contrib{ctx: ci, weight: w, supp: supp})
		}
	}
	if len(sc.ctx) == 0 {
		base = 1
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
	for t := range sc.touched {
		tt := &sc.touched[t]
		if m.eligible(sc, opts, tt.item) {
			push(cand{tt.item, m.pop[tt.item]*prior + tt.boost, int32(t)})
		}
	}
	order := m.popOrder
	if len(sc.allow) == 1 && sc.allow[0] >= 0 {
		order = m.popByCat[sc.allow[0]]
	}
	found := 0
	for _, j := range order {
		if found >= n {
			break
		}
		if sc.slot[j] != free || !m.eligible(sc, opts, j) {
			continue
		}
		found++
		push(cand{j, m.pop[j] * prior, -1})
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
		r := &res.Items[k]
		*r = Recommendation{Item: m.items[c.item], Score: c.score, Reason: ReasonPopular, Support: m.pop[c.item]}
		if c.touched >= 0 {
			tt := &sc.touched[c.touched]
			r.Reason = ReasonContext
			r.Support = float64(tt.top[0].supp)
			for e := 0; e < MaxExplain && tt.top[e].weight > 0; e++ {
				r.Because[e] = m.items[tt.top[e].ctx]
			}
		}
	}
	res.Fallback = len(sc.touched) == 0
	for _, tt := range sc.touched {
		sc.slot[tt.item] = free
	}
	for _, i := range sc.ctx {
		sc.slot[i] = free
	}
	for _, i := range sc.excl {
		sc.slot[i] = free
	}
}

// Values of scratch.slot besides an index into touched.
const (
	free    int32 = -1
	blocked int32 = -2 // a context or excluded item
)

func (t *touched) addContrib(c contrib) {
	for e := range MaxExplain {
		if c.weight > t.top[e].weight {
			copy(t.top[e+1:], t.top[e:MaxExplain-1])
			t.top[e] = c
			return
		}
	}
}

// better orders candidates: higher score, then lower index (deterministic).
func better(a, b cand) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.item < b.item
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
