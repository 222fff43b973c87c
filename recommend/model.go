package recommend

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
)

// Model is a released recommendation model: the public catalog, the noisy
// popularity of every item, the evidence beyond popularity that the release
// produced, and the privacy report. It holds no pseudonym, no user ID and
// no per-user data. It is immutable and safe for concurrent queries.
//
// A model is built by the release package from a window's bounded state,
// or read from a snapshot (ReadModel).
//
// # Scoring
//
// A query's context (the items in a session or cart) is scored against
// every item j as
//
//	prior(context)·p_j + Σ evidence(context, j)
//
// where p_j = n_j / Σn is j's share of the released popularity (ties go to
// the more popular item, then to the lower catalog index). Each kind
// of Evidence adds its own terms and its weight on popularity; without
// evidence for j, j ranks by popularity. With no evidence at all the
// ranking is exactly popularity: recommendations fall back to popularity
// smoothly, never below it.
type Model struct {
	cat           *Catalog
	ids           []string  // cat's item IDs (shared), for queries
	itemCat       []int32   // cat's item categories (shared), for queries
	pop           []float64 // released users per item, clamped at 0
	popTotal      float64
	popOrder      []uint32   // items by pop, descending, then by index
	popRank       []uint32   // per item, its position in popOrder
	popByCat      [][]uint32 // per category, items by pop, descending
	uncategorized []uint32   // items without a category, by pop, descending
	catShare      []float64  // per category, its share of the popularity of items with a category
	evidence      []evidence // in snapshot order
	report        Report

	// scratch is a free list of per-query working memory. A channel rather
	// than a sync.Pool: a pool is emptied at every garbage collection, and
	// refilling it would allocate a catalog-sized buffer per P each time.
	scratch chan *scratch
}

// Evidence is what a release learned beyond popularity, in a form a Model
// scores at query time. The release package makes it (see
// NewNeighborEvidence); the set of kinds is closed.
type Evidence interface {
	evidence() evidence
}

// evidence is one kind of evidence: how it scores a context, and how it is
// stored in a snapshot. Each kind lives in its own file with its section.
type evidence interface {
	Evidence
	// tag is the evidence's snapshot section.
	tag() sectionTag
	// check validates the evidence against the catalog.
	check(cat *Catalog) error
	// apply adds the evidence's terms for the query's context (r.ctx:
	// known, distinct catalog indexes, at least one) to its working memory
	// r.sc: a weight on popularity (prior, hasPrior), boosts of candidates
	// (scratch.boost, ignoring evidence whose support is below
	// r.minSupport), or factors on the popularity of
	// categories.
	apply(r *run)
	// explain records, for the candidates that won (touched entries with
	// a tops slot), the contributions that boosted them, in the order
	// apply added them (touched.explain); evidence that boosts no
	// candidate does nothing.
	explain(r *run)
	// count adds what the evidence holds to the report's contents.
	count(c *Contents)
	// encode writes the section's payload.
	encode(e *encoder)
}

// NewModel assembles a model from a release's outputs: the catalog, the
// released (noisy) number of users per catalog item, the evidence beyond
// popularity (at most one of each kind), and the report that describes the
// release. Popularity values must be finite and ≥ 0 (clamp noisy counts
// first). It is the release package's way of making models; NewModel
// itself adds no noise and checks no privacy claim: the report states what
// the release did. The report's Contents are filled in from what the model
// holds.
func NewModel(cat *Catalog, popularity []float64, report Report, ev ...Evidence) (*Model, error) {
	m, err := newModel(cat, popularity, report, ev)
	if err != nil {
		return nil, err
	}
	m.report.Contents.EvidenceShare = m.evidenceShare()
	return m, nil
}

// newModel is NewModel without measuring the evidence share, which a
// snapshot carries as the release measured it.
func newModel(cat *Catalog, popularity []float64, report Report, ev []Evidence) (*Model, error) {
	if cat == nil {
		return nil, errors.New("recommend: model needs a catalog")
	}
	if len(popularity) != cat.Len() {
		return nil, fmt.Errorf("recommend: %d popularity values for a catalog of %d items", len(popularity), cat.Len())
	}
	for i, p := range popularity {
		if !finiteNonNeg(p) {
			return nil, fmt.Errorf("recommend: popularity of item %d is %v, want a finite number >= 0", i, p)
		}
	}
	if report.Format == "" {
		report.Format = ReportFormat
	}
	if report.Format != ReportFormat {
		return nil, fmt.Errorf("recommend: report format %q, want %q", report.Format, ReportFormat)
	}
	m := &Model{cat: cat, pop: slices.Clone(popularity), report: report.clone()}
	m.report.Contents = Contents{Items: cat.Len()}
	seen := map[sectionTag]bool{}
	for _, e := range ev {
		if e == nil {
			continue
		}
		x := e.evidence()
		if seen[x.tag()] {
			return nil, fmt.Errorf("recommend: two evidences of kind %s", x.tag())
		}
		seen[x.tag()] = true
		if err := x.check(cat); err != nil {
			return nil, fmt.Errorf("recommend: %s evidence: %w", x.tag(), err)
		}
		m.evidence = append(m.evidence, x)
		x.count(&m.report.Contents)
	}
	m.derive()
	return m, nil
}

// evidenceProbes is how many of the most popular items evidenceShare asks
// about.
const evidenceProbes = 2000

// evidenceShare asks the model, for each of its evidenceProbes most popular
// items, for the best item to go with it, and returns the share of the
// answers, weighted by popularity, that evidence beyond popularity ranked.
func (m *Model) evidenceShare() float64 {
	if len(m.evidence) == 0 {
		return 0
	}
	var res Result
	ctx := make([]string, 1)
	hit, total := 0.0, 0.0
	for _, i := range m.popOrder[:min(evidenceProbes, len(m.popOrder))] {
		ctx[0] = m.ids[i]
		if err := m.Recommend(&res, Query{Context: ctx, N: 1}); err != nil || len(res.Items) == 0 {
			continue
		}
		w := m.pop[i]
		total += w
		if res.Items[0].Reason != ReasonPopular {
			hit += w
		}
	}
	if total == 0 {
		return 0
	}
	return hit / total
}

// derive computes the popularity orders and query buffers.
func (m *Model) derive() {
	m.ids, m.itemCat = m.cat.ids, m.cat.itemCat
	m.popTotal = 0
	for _, p := range m.pop {
		m.popTotal += p
	}
	m.popOrder = make([]uint32, len(m.pop))
	for i := range m.popOrder {
		m.popOrder[i] = uint32(i)
	}
	slices.SortFunc(m.popOrder, func(a, b uint32) int {
		if c := cmp.Compare(m.pop[b], m.pop[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	m.popRank = make([]uint32, len(m.pop))
	for r, it := range m.popOrder {
		m.popRank[it] = uint32(r)
	}
	m.popByCat = make([][]uint32, len(m.cat.categories))
	m.catShare = make([]float64, len(m.cat.categories))
	m.uncategorized = nil
	catTotal := 0.0
	for _, it := range m.popOrder {
		if c := m.itemCat[it]; c >= 0 {
			m.popByCat[c] = append(m.popByCat[c], it)
			m.catShare[c] += m.pop[it]
			catTotal += m.pop[it]
		} else {
			m.uncategorized = append(m.uncategorized, it)
		}
	}
	if catTotal > 0 {
		for c := range m.catShare {
			m.catShare[c] /= catTotal
		}
	}
	m.scratch = make(chan *scratch, 2*runtime.GOMAXPROCS(0))
}

// Catalog returns the model's catalog.
func (m *Model) Catalog() *Catalog { return m.cat }

// Report returns the model's privacy report.
func (m *Model) Report() Report { return m.report.clone() }

// Popularity returns the released (noisy, clamped) number of users who had
// the item in the window, and whether the item is known.
func (m *Model) Popularity(id string) (float64, bool) {
	i, ok := m.cat.index[id]
	if !ok {
		return 0, false
	}
	return m.pop[i], true
}

func finiteNonNeg(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
