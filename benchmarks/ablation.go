package benchmarks

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/release"
)

// Lever is one variant of the release in an ablation: the baseline's
// parameters and scoring with one thing changed.
type Lever struct {
	Name    string
	Params  func(release.Options) release.Options // nil: the baseline's
	Scoring release.ScoringOptions
	// NoCategories runs on the catalog without its categories.
	NoCategories bool
	// Embeddings, when set, fits item embeddings (FitEmbeddings, with the
	// baseline's K and δ) instead of a release: a mechanism measured side
	// by side and not shipped.
	Embeddings *EmbeddingOptions
}

// AblationLevers are the accuracy levers of issue 13, each switched
// against the baseline (the first entry: the library's defaults).
var AblationLevers = []Lever{
	{Name: "baseline: the defaults (Auto: popularity, categories, pairs when predicted to carry signal; K = 16, 64 items kept and weighted)"},
	{Name: "popularity only", Params: func(p release.Options) release.Options {
		p.Mechanisms = release.Popularity
		return p
	}},
	{Name: "popularity + categories", Params: func(p release.Options) release.Options {
		p.Mechanisms = release.Popularity | release.Categories
		return p
	}},
	{Name: "popularity + pairs, half the budget each, K-bounded pairs of 500 head items (issue 3's default)", Params: func(p release.Options) release.Options {
		p.Mechanisms = release.Popularity | release.Pairs
		return p
	}},
	{Name: "the defaults on the catalog without its categories", NoCategories: true},
	{Name: "no weighting: keep K = 16 items per user", Params: func(p release.Options) release.Options {
		p.Keep = p.K
		return p
	}},
	{Name: "Laplace noise, pure ε-DP composition", Params: func(p release.Options) release.Options {
		p.Noise, p.Delta = dp.Laplace, 0
		return p
	}},
	{Name: "K = 4", Params: func(p release.Options) release.Options {
		p.K = 4
		return p
	}},
	{Name: "K = 32", Params: func(p release.Options) release.Options {
		p.K = 32
		return p
	}},
	{Name: "head of at most 100 items", Params: func(p release.Options) release.Options {
		p.HeadSize = 100
		return p
	}},
	{Name: "garrote at the universal threshold (issue 3's) instead of the false-discovery-rate one", Scoring: release.ScoringOptions{UniversalThreshold: true}},
	{Name: "low-rank part of the pair evidence added (broad patterns of co-purchase)", Scoring: release.ScoringOptions{LowRank: true}},
	{Name: "no shrinkage: every positive residual kept", Scoring: release.ScoringOptions{NoShrinkage: true}},
	{Name: "local false-discovery-rate weights instead of the garrote", Scoring: release.ScoringOptions{LocalFDR: true}},
	{Name: "instead of pairs: item embeddings by private ALS (not shipped), d = 32, 5 iterations, head 1000", Embeddings: &EmbeddingOptions{}},
	{Name: "item embeddings, d = 16, 8 iterations", Embeddings: &EmbeddingOptions{Dim: 16, Iterations: 8}},
	{Name: "item embeddings, d = 32, 2 iterations", Embeddings: &EmbeddingOptions{Iterations: 2}},
	{Name: "item embeddings, d = 32, 5 iterations, items weighted (n_min/n_i)^¼", Embeddings: &EmbeddingOptions{RareWeight: 0.25}},
}

// AblationRow is one lever's NDCG@cutoff at one ε over Runs releases.
type AblationRow struct {
	Lever      string
	Epsilon    float64
	Runs       int
	Mean, Std  float64
	Popularity bool // the DP popularity reference
}

// AblationOptions configure Ablation.
type AblationOptions struct {
	Epsilons []float64       // default 1, 2, 4, 8
	Repeats  int             // releases per lever and ε; default 3
	Params   release.Options // the baseline's; Epsilon is set per run
	Levers   []Lever         // default AblationLevers
	Cutoff   int             // default 10
	Progress func(string)
}

// Ablation measures each lever's NDCG against ε on one split, with DP
// popularity at the same ε as a reference row.
func Ablation(d *Dataset, s Split, o AblationOptions) ([]AblationRow, error) {
	if len(o.Epsilons) == 0 {
		o.Epsilons = []float64{1, 2, 4, 8}
	}
	if o.Repeats == 0 {
		o.Repeats = 3
	}
	if o.Levers == nil {
		o.Levers = AblationLevers
	}
	if o.Cutoff == 0 {
		o.Cutoff = 10
	}
	var rows []AblationRow
	run := func(name string, d *Dataset, p release.Options, emb *EmbeddingOptions, pop bool) error {
		for _, eps := range o.Epsilons {
			var ms []Metrics
			for r := range o.Repeats {
				if o.Progress != nil {
					o.Progress(fmt.Sprintf("ablation: %s, ε = %g, release %d/%d", name, eps, r+1, o.Repeats))
				}
				p.Epsilon = eps
				var sc Scorer
				if emb != nil {
					eo := *emb
					eo.K = p.WithDefaults().K
					e, err := FitEmbeddings(s, eps, p.WithDefaults().Delta, eo, uint64(r+1))
					if err != nil {
						return fmt.Errorf("%s at ε = %g: %w", name, eps, err)
					}
					sc = e
				} else {
					m, err := Release(s, d, p, true, uint64(r+1))
					if err != nil {
						return fmt.Errorf("%s at ε = %g: %w", name, eps, err)
					}
					sc = NewModelScorer(name, m, d.Items, pop)
				}
				ms = append(ms, Evaluate(s, sc, o.Cutoff))
			}
			mean, std := meanStd(ms)
			rows = append(rows, AblationRow{Lever: name, Epsilon: eps, Runs: o.Repeats, Mean: mean.NDCG, Std: std.NDCG, Popularity: pop})
		}
		return nil
	}
	for _, l := range o.Levers {
		p := o.Params
		if l.Params != nil {
			p = l.Params(p)
		}
		p.Scoring = l.Scoring
		ld := d
		if d.Categories == nil && (l.NoCategories || p.Mechanisms&release.Categories != 0) {
			continue // a lever about categories, on a catalog without any
		}
		if l.NoCategories {
			ld = withoutCategories(d)
		}
		if err := run(l.Name, ld, p, l.Embeddings, false); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// AblationTable writes rows as a Markdown table: one line per lever, one
// column per ε, the change against the baseline in brackets.
func AblationTable(w *bytes.Buffer, rows []AblationRow, cutoff int) {
	var levers []string
	var eps []float64
	cell := map[string]map[float64]AblationRow{}
	for _, r := range rows {
		if cell[r.Lever] == nil {
			cell[r.Lever] = map[float64]AblationRow{}
			levers = append(levers, r.Lever)
		}
		cell[r.Lever][r.Epsilon] = r
		if len(levers) == 1 {
			eps = append(eps, r.Epsilon)
		}
	}
	fmt.Fprintf(w, "| lever (NDCG@%d) |", cutoff)
	for _, e := range eps {
		fmt.Fprintf(w, " ε = %g |", e)
	}
	w.WriteString("\n|---|" + strings.Repeat("---|", len(eps)) + "\n")
	base := cell[levers[0]]
	for i, l := range levers {
		fmt.Fprintf(w, "| %s |", l)
		for _, e := range eps {
			r := cell[l][e]
			fmt.Fprintf(w, " %.4f ± %.4f", r.Mean, r.Std)
			if i > 0 && base[e].Mean > 0 {
				fmt.Fprintf(w, " (%+.0f%%)", 100*(r.Mean/base[e].Mean-1))
			}
			w.WriteString(" |")
		}
		w.WriteString("\n")
	}
}
