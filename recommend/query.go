package recommend

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Query limits.
const (
	MaxResults      = 1000 // Query.N
	MaxContextItems = 1000
	MaxExplain      = 3 // context items named in one explanation

	defaultResults = 10 // Query.N when zero
)

// ErrBadQuery is wrapped by query errors about the arguments.
var ErrBadQuery = errors.New("recommend: bad query")

// Query asks for recommendations. Every field is optional.
type Query struct {
	// Context lists the items of the current session or cart, supplied by
	// the caller at query time: nothing about the person is stored. With an
	// empty Context the answer is the most popular items; a single item
	// asks "customers who had this also had". Unknown items are ignored
	// and listed in Result.Unknown. At most MaxContextItems.
	Context []string
	// N is how many items to return, in [1, MaxResults]; 10 when zero.
	N int
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
	// ignores evidence whose released support is below it.
	MinSupport float64
}

// Reason says where a recommendation comes from.
type Reason uint8

const (
	// ReasonContext: evidence that users with the context items in Because
	// also had this item.
	ReasonContext Reason = iota + 1
	// ReasonPopular: popular in this window; the context gave no evidence.
	ReasonPopular
	// ReasonCategory: popular in Category, which the context items in
	// Because belong to; shoppers tend to stay in their categories.
	ReasonCategory
)

// String returns "context", "popular" or "category".
func (r Reason) String() string {
	switch r {
	case ReasonContext:
		return "context"
	case ReasonPopular:
		return "popular"
	case ReasonCategory:
		return "category"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Recommendation is one result with its explanation.
type Recommendation struct {
	// Item is the recommended item's ID.
	Item string
	// Score ranks results: the item's popularity share weighted by the
	// context's prior, plus the evidence the context gives for it (see
	// Model).
	Score float64
	// Reason says whether context evidence, the context's categories or
	// popularity produced the item.
	Reason Reason
	// Category is, for ReasonCategory, the category the context raised
	// (the item's own); empty otherwise.
	Category string
	// Because names up to MaxExplain context items that contributed,
	// strongest first; unused entries are empty. See BecauseItems.
	Because [MaxExplain]string
	// Support is the released count behind the strongest evidence: the
	// pair's count for ReasonContext, the item's count for ReasonPopular
	// and ReasonCategory. Counts are of users, weighted when the release
	// bounds each user's contribution by weighting (release.Options.Keep;
	// Auto weights each user's pairs to the norm of one pair).
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
	switch {
	case len(items) == 0:
	case r.Reason == ReasonContext:
		return "bought together with " + list(items)
	case r.Reason == ReasonCategory && r.Category != "":
		return "popular in " + r.Category + ", the category of " + list(items)
	}
	return "popular with other shoppers"
}

// list joins items as English: "a", "a and b", "a, b and c".
func list(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// MarshalJSON renders the recommendation with its explanation.
func (r Recommendation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Item     string   `json:"item"`
		Score    float64  `json:"score"`
		Reason   Reason   `json:"reason"`
		Category string   `json:"category,omitempty"`
		Because  []string `json:"because"`
		Support  float64  `json:"support"`
		Explain  string   `json:"explanation"`
	}{r.Item, r.Score, r.Reason, r.Category, append([]string{}, r.BecauseItems()...), r.Support, r.Explain()})
}

// Result is the answer to a query. Reuse one Result across calls to
// Model.Recommend to query without allocating.
type Result struct {
	// Items are the recommendations, best first.
	Items []Recommendation `json:"items"`
	// Unknown lists context items that the model does not know; they were
	// ignored.
	Unknown []string `json:"unknown,omitempty"`
	// UnknownCategories lists the query's categories (Categories and
	// ExcludeCategories) that the model's catalog does not have: an
	// allowed one matches no item, an excluded one excludes none.
	UnknownCategories []string `json:"unknown_categories,omitempty"`
	// Fallback is true when a query with a context found no evidence for
	// it (no known context item, or none with released evidence or a
	// category the model has evidence for) and returned the most popular
	// items instead. It is false for a query
	// without context, which asks for popular items.
	Fallback bool `json:"fallback"`
}

// reset empties r for a new answer. Items are not cleared here: rank
// overwrites each one it returns and clears what is left of the last answer
// (see clearTail).
func (r *Result) reset() {
	r.Items = r.Items[:0]
	clear(r.Unknown)
	r.Unknown = r.Unknown[:0]
	clear(r.UnknownCategories)
	r.UnknownCategories = r.UnknownCategories[:0]
	r.Fallback = false
}

// clearTail drops what the previous answer, of before items, left beyond
// the current one, so that a reused Result holds no stale references.
func (r *Result) clearTail(before int) {
	if before > len(r.Items) {
		clear(r.Items[len(r.Items):before])
	}
}

// Recommend answers q into dst, which it resets first. It allocates
// nothing in steady state when dst is reused. Errors wrap ErrBadQuery.
func (m *Model) Recommend(dst *Result, q Query) error {
	before := len(dst.Items)
	defer dst.clearTail(before)
	dst.reset()
	n := q.N
	if n == 0 {
		n = defaultResults
	}
	if n < 1 || n > MaxResults {
		return fmt.Errorf("%w: n = %d must be in [1, %d]", ErrBadQuery, q.N, MaxResults)
	}
	if len(q.Context) > MaxContextItems {
		return fmt.Errorf("%w: %d context items, at most %d", ErrBadQuery, len(q.Context), MaxContextItems)
	}
	sc := m.getScratch()
	defer m.putScratch(sc)
	// The run lives in the pooled scratch: evidence gets it through an
	// interface call, which would move a local one to the heap.
	r := &sc.run
	*r = run{m: m, sc: sc, ctx: sc.ctx[:0], minSupport: q.MinSupport, available: q.Available}
	defer func() { r.available = nil }()
	for _, id := range q.Context {
		i, ok := m.cat.index[id]
		if !ok {
			dst.Unknown = append(dst.Unknown, id)
			continue
		}
		if !containsU32(r.ctx, i) {
			r.ctx = append(r.ctx, i)
		}
	}
	sc.ctx = r.ctx
	m.prepareFilters(sc, &q, dst)
	r.rank(dst, n)
	dst.Fallback = dst.Fallback && len(q.Context) > 0
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

func (m *Model) prepareFilters(sc *scratch, q *Query, dst *Result) {
	sc.excl = sc.excl[:0]
	for _, id := range q.Exclude {
		if i, ok := m.cat.index[id]; ok {
			sc.excl = append(sc.excl, i)
		}
	}
	sc.allow = sc.allow[:0]
	for _, c := range q.Categories {
		if ci, ok := m.cat.catIndex[c]; ok {
			sc.allow = append(sc.allow, ci)
		} else {
			sc.allow = append(sc.allow, -2) // matches nothing, keeps the filter on
			dst.UnknownCategories = append(dst.UnknownCategories, c)
		}
	}
	sc.deny = sc.deny[:0]
	for _, c := range q.ExcludeCategories {
		if ci, ok := m.cat.catIndex[c]; ok {
			sc.deny = append(sc.deny, ci)
		} else {
			dst.UnknownCategories = append(dst.UnknownCategories, c)
		}
	}
}

// eligible applies the item filters; context and excluded items are already
// blocked in sc.slot. Available (user code) is called last.
func (r *run) eligible(i uint32) bool {
	m, sc := r.m, r.sc
	if m.pop[i] < r.minSupport {
		return false
	}
	c := m.itemCat[i]
	if len(sc.allow) > 0 && (c < 0 || !containsI32(sc.allow, c)) {
		return false
	}
	if len(sc.deny) > 0 && c >= 0 && containsI32(sc.deny, c) {
		return false
	}
	return r.available == nil || r.available(m.ids[i])
}
