package benchmarks

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

var benchWindow = recommend.Window{Start: time.Unix(0, 0).UTC(), End: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}

// userID is a stand-in pseudonym for a dataset's user index: experiments
// run on already-anonymous indexes, so no keyring is needed.
func userID(u int) pseudonym.ID {
	var id pseudonym.ID
	binary.LittleEndian.PutUint64(id[:], uint64(u)+1)
	binary.LittleEndian.PutUint64(id[8:], 0x9e3779b97f4a7c15*(uint64(u)+1))
	return id
}

// benchBudget is the cap of the experiments' in-memory ledgers: large
// enough for any number of releases.
var benchBudget = dp.Budget{Epsilon: 1e9, Delta: 0.5}

// Release builds a privrec model from a split's training items over d's
// catalog (its items and categories). With private false it is the exact
// (ε = ∞) model.
func Release(s Split, d *Dataset, o release.Options, private bool, sampleSeed uint64) (*recommend.Model, error) {
	items := d.Items
	cat, err := catalogOf(d)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	binary.LittleEndian.PutUint64(key[:], sampleSeed+1)
	o.Logger = slog.New(slog.DiscardHandler)
	col, err := collect.New(cat, collect.Options{Window: benchWindow, Keep: o.CollectKeep(),
		SampleKey: key, MaxClockSkew: -1, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	at := benchWindow.Start.Add(time.Hour)
	for u, train := range s.Train {
		id := userID(u)
		for _, it := range train {
			if err := col.Add(collect.Event{Subject: id, Item: items[it], Kind: events.KindPurchase, Time: at}); err != nil {
				return nil, err
			}
		}
	}
	if !private {
		return release.Exact(col, o)
	}
	ledger, err := dp.NewMemLedger(benchBudget, nil)
	if err != nil {
		return nil, err
	}
	return release.Private(context.Background(), col, ledger, o)
}

// catalogCache maps the address of an item list's first element to its
// catalog. Each entry keeps its list alive, so an address is never reused
// by another list while cached.
var catalogCache sync.Map // *string -> cachedCatalog

type cachedCatalog struct {
	items []string
	cat   *recommend.Catalog
}

func catalogOf(d *Dataset) (*recommend.Catalog, error) {
	items := d.Items
	key := &items[0]
	if c, ok := catalogCache.Load(key); ok && len(c.(cachedCatalog).items) == len(items) {
		return c.(cachedCatalog).cat, nil
	}
	cat := make([]recommend.Item, len(items))
	for i, id := range items {
		cat[i] = recommend.Item{ID: id}
		if d.Categories != nil {
			cat[i].Category = d.Categories[i]
		}
	}
	c, err := recommend.NewCatalog(cat)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	catalogCache.Store(key, cachedCatalog{items, c})
	return c, nil
}

// ModelScorer ranks with a privrec model: ForContext over the user's
// training items, or Popular when PopularOnly is set.
type ModelScorer struct {
	Label       string
	Model       *recommend.Model
	PopularOnly bool
	items       []string
	index       map[string]int32
	res         recommend.Result
	ctx         []string
}

// NewModelScorer wraps m.
func NewModelScorer(label string, m *recommend.Model, items []string, popularOnly bool) *ModelScorer {
	idx := make(map[string]int32, len(items))
	for i, id := range items {
		idx[id] = int32(i)
	}
	return &ModelScorer{Label: label, Model: m, PopularOnly: popularOnly, items: items, index: idx}
}

// Name implements Scorer.
func (m *ModelScorer) Name() string { return m.Label }

// Recommend implements Scorer.
func (m *ModelScorer) Recommend(train []int32, n int, out []int32) []int32 {
	m.ctx = m.ctx[:0]
	for _, it := range train[:min(len(train), recommend.MaxContextItems)] {
		m.ctx = append(m.ctx, m.items[it])
	}
	q := recommend.Query{Context: m.ctx, N: n}
	if m.PopularOnly {
		q = recommend.Query{Exclude: m.ctx, N: n}
	}
	if err := m.Model.Recommend(&m.res, q); err != nil {
		return out
	}
	for _, r := range m.res.Items {
		out = append(out, m.index[r.Item])
	}
	return out
}

// PopularityScorer recommends the most popular unseen items (exact counts).
type PopularityScorer struct{ order []int32 }

// NewPopularity counts users per item in the training data.
func NewPopularity(s Split) *PopularityScorer {
	counts := itemCounts(s)
	order := make([]int32, s.Items)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(counts[b], counts[a]) })
	return &PopularityScorer{order: order}
}

func itemCounts(s Split) []int {
	counts := make([]int, s.Items)
	for _, t := range s.Train {
		for _, it := range t {
			counts[it]++
		}
	}
	return counts
}

// Name implements Scorer.
func (p *PopularityScorer) Name() string { return "popularity (non-private)" }

// Recommend implements Scorer.
func (p *PopularityScorer) Recommend(train []int32, n int, out []int32) []int32 {
	for _, it := range p.order {
		if len(out) == n {
			break
		}
		if !slices.Contains(train, it) {
			out = append(out, it)
		}
	}
	return out
}

// RandomScorer recommends random unseen items.
type RandomScorer struct {
	rng   *rand.Rand
	items int
}

// NewRandom returns a seeded random scorer.
func NewRandom(items int, seed uint64) *RandomScorer {
	return &RandomScorer{rand.New(rand.NewPCG(seed, 99)), items}
}

// Name implements Scorer.
func (r *RandomScorer) Name() string { return "random" }

// Recommend implements Scorer.
func (r *RandomScorer) Recommend(train []int32, n int, out []int32) []int32 {
	for len(out) < min(n, r.items-len(train)) {
		it := int32(r.rng.IntN(r.items))
		if !slices.Contains(train, it) && !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out
}

// JaccardScorer is a plain non-private item-item co-occurrence recommender:
// a candidate's score is the sum over the user's items of the Jaccard
// similarity |U_i ∩ U_j| / |U_i ∪ U_j|, ties broken by popularity.
type JaccardScorer struct {
	nbr    [][]scored
	pop    *PopularityScorer
	scores map[int32]float64
}

type scored struct {
	item  int32
	score float64
}

// NewJaccard computes the top neighbours (by Jaccard) of every item.
func NewJaccard(s Split, neighbors int) *JaccardScorer {
	counts := itemCounts(s)
	co := make([]map[int32]int, s.Items)
	for _, t := range s.Train {
		for x, a := range t {
			for _, b := range t[x+1:] {
				if co[a] == nil {
					co[a] = map[int32]int{}
				}
				if co[b] == nil {
					co[b] = map[int32]int{}
				}
				co[a][b]++
				co[b][a]++
			}
		}
	}
	j := &JaccardScorer{nbr: make([][]scored, s.Items), pop: NewPopularity(s), scores: map[int32]float64{}}
	for a, m := range co {
		list := make([]scored, 0, len(m))
		for b, c := range m {
			list = append(list, scored{b, float64(c) / float64(counts[a]+counts[b]-c)})
		}
		slices.SortFunc(list, func(x, y scored) int {
			if c := cmp.Compare(y.score, x.score); c != 0 {
				return c
			}
			return cmp.Compare(x.item, y.item)
		})
		j.nbr[a] = list[:min(len(list), neighbors)]
	}
	return j
}

// Name implements Scorer.
func (j *JaccardScorer) Name() string { return "item co-occurrence, Jaccard (non-private)" }

// Recommend implements Scorer.
func (j *JaccardScorer) Recommend(train []int32, n int, out []int32) []int32 {
	clear(j.scores)
	for _, a := range train {
		for _, e := range j.nbr[a] {
			j.scores[e.item] += e.score
		}
	}
	cands := make([]scored, 0, len(j.scores))
	for it, sc := range j.scores {
		if !slices.Contains(train, it) {
			cands = append(cands, scored{it, sc})
		}
	}
	slices.SortFunc(cands, func(x, y scored) int {
		if c := cmp.Compare(y.score, x.score); c != 0 {
			return c
		}
		return cmp.Compare(x.item, y.item)
	})
	for _, c := range cands[:min(len(cands), n)] {
		out = append(out, c.item)
	}
	if len(out) < n { // fill with popular items
		out = append(out, j.pop.Recommend(append(slices.Clone(train), out...), n-len(out), nil)...)
	}
	return out
}
