package benchmarks

import (
	"fmt"
	"math"
	"slices"

	"github.com/privrec/privrec/release"
)

// Row is one model's metrics at one ε, over Runs releases.
type Row struct {
	Dataset, Split, Model string
	Epsilon               float64 // +Inf for non-private models
	Runs                  int
	Mean, Std             Metrics
}

// SweepOptions configure AccuracySweep.
type SweepOptions struct {
	Epsilons []float64       // privacy budgets to sweep
	Repeats  int             // releases per ε (noise differs each time)
	Params   release.Options // K, δ, head size, item share...; Epsilon is set per run
	Cutoff   int             // k of the metrics
	Progress func(step string)
}

// DefaultEpsilons is the sweep of issues 3 and 13.
var DefaultEpsilons = []float64{0.1, 0.25, 0.5, 1, 2, 4, 8}

// Labels of the swept models.
const (
	// PrivrecLabel is privrec with the options given (by default, Auto).
	PrivrecLabel = "privrec"
	// DPPopularityLabel is privrec's popularity-only release
	// (release.Popularity) at the same ε: the bar every default must clear.
	DPPopularityLabel = "popularity only"
	// NoCategoriesLabel is privrec on the same catalog without its
	// categories, for data sets that have them.
	NoCategoriesLabel = "privrec, no categories"
)

// withoutCategories returns d with a catalog without categories.
func withoutCategories(d *Dataset) *Dataset {
	c := *d
	c.Items = slices.Clone(d.Items) // a new catalog cache key
	c.Categories = nil
	return &c
}

// AccuracySweep evaluates privrec and its popularity-only release at every
// ε (and privrec without the catalog's categories, when it has some), and
// the non-private references once: privrec without noise, exact
// popularity, a Jaccard item co-occurrence recommender, and random.
func AccuracySweep(d *Dataset, s Split, o SweepOptions) ([]Row, error) {
	if o.Cutoff == 0 {
		o.Cutoff = 10
	}
	if o.Repeats == 0 {
		o.Repeats = 5
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	inf := math.Inf(1)
	var rows []Row
	one := func(model string, eps float64, m Metrics) {
		rows = append(rows, Row{Dataset: d.Name, Split: s.Name, Model: model, Epsilon: eps, Runs: 1, Mean: m})
	}
	progress("non-private references")
	exact, err := Release(s, d, o.Params, false, 1)
	if err != nil {
		return nil, err
	}
	one(PrivrecLabel, inf, Evaluate(s, NewModelScorer(PrivrecLabel, exact, d.Items, false), o.Cutoff))
	one("popularity", inf, Evaluate(s, NewPopularity(s), o.Cutoff))
	one("Jaccard co-occurrence", inf, Evaluate(s, NewJaccard(s, 100), o.Cutoff))
	one("random", inf, Evaluate(s, NewRandom(s.Items, 7), o.Cutoff))

	popParams := o.Params
	popParams.Mechanisms = release.Popularity
	var noCats *Dataset
	if d.Categories != nil {
		noCats = withoutCategories(d)
	}
	for _, eps := range o.Epsilons {
		var priv, pop, plain []Metrics
		for r := range o.Repeats {
			progress("ε = %g, release %d/%d", eps, r+1, o.Repeats)
			p := o.Params
			p.Epsilon = eps
			m, err := Release(s, d, p, true, uint64(r+1))
			if err != nil {
				return nil, err
			}
			priv = append(priv, Evaluate(s, NewModelScorer(PrivrecLabel, m, d.Items, false), o.Cutoff))
			pp := popParams
			pp.Epsilon = eps
			pm, err := Release(s, d, pp, true, uint64(r+1))
			if err != nil {
				return nil, err
			}
			pop = append(pop, Evaluate(s, NewModelScorer(DPPopularityLabel, pm, d.Items, true), o.Cutoff))
			if noCats != nil {
				nm, err := Release(s, noCats, p, true, uint64(r+1))
				if err != nil {
					return nil, err
				}
				plain = append(plain, Evaluate(s, NewModelScorer(NoCategoriesLabel, nm, d.Items, false), o.Cutoff))
			}
		}
		for _, x := range []struct {
			name string
			ms   []Metrics
		}{{PrivrecLabel, priv}, {DPPopularityLabel, pop}, {NoCategoriesLabel, plain}} {
			if len(x.ms) == 0 {
				continue
			}
			mean, std := meanStd(x.ms)
			rows = append(rows, Row{Dataset: d.Name, Split: s.Name, Model: x.name, Epsilon: eps, Runs: len(x.ms), Mean: mean, Std: std})
		}
	}
	return rows, nil
}

func meanStd(ms []Metrics) (Metrics, Metrics) {
	get := func(m *Metrics) []*float64 {
		return []*float64{&m.HR, &m.Precision, &m.Recall, &m.NDCG, &m.MAP, &m.Coverage}
	}
	var mean, std Metrics
	n := float64(len(ms))
	for i := range ms {
		for j, p := range get(&ms[i]) {
			*get(&mean)[j] += *p / n
		}
	}
	if len(ms) > 1 {
		for i := range ms {
			for j, p := range get(&ms[i]) {
				d := *p - *get(&mean)[j]
				*get(&std)[j] += d * d / (n - 1)
			}
		}
		for _, p := range get(&std) {
			*p = math.Sqrt(*p)
		}
	}
	return mean, std
}
