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
}

// AblationLevers are the accuracy levers of issue 3 and the K sweep, each
// switched against the baseline (the first entry).
var AblationLevers = []Lever{
	{Name: "baseline: Gaussian noise (zCDP), K = 16 sampled, head pairs, garrote shrinkage, item share 0.5"},
	{Name: "per-user L2 weighting: keep up to 64 items, weighted to the norm of K = 16", Params: func(p release.Options) release.Options {
		p.Keep = 64
		return p
	}},
	{Name: "Laplace noise, pure ε-DP composition", Params: func(p release.Options) release.Options {
		p.Noise, p.Delta = dp.Laplace, 0
		return p
	}},
	{Name: "threshold pairs instead of head pairs", Params: func(p release.Options) release.Options {
		p.Pairs = release.ThresholdPairs
		return p
	}},
	{Name: "low-rank denoising of the head pair matrix", Scoring: release.ScoringOptions{LowRank: true}},
	{Name: "no shrinkage: every positive residual kept", Scoring: release.ScoringOptions{NoShrinkage: true}},
	{Name: "K = 4 sampled (less noise, less of each user)", Params: func(p release.Options) release.Options {
		p.K, p.Keep = 4, 4
		return p
	}},
	{Name: "K = 32 sampled (more of each user, more noise)", Params: func(p release.Options) release.Options {
		p.K, p.Keep = 32, 32
		return p
	}},
	{Name: "item share 0.25 (more budget on pairs)", Params: func(p release.Options) release.Options {
		p.ItemShare = 0.25
		return p
	}},
	{Name: "item share 0.75 (more budget on items)", Params: func(p release.Options) release.Options {
		p.ItemShare = 0.75
		return p
	}},
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
	run := func(name string, p release.Options, pop bool) error {
		for _, eps := range o.Epsilons {
			var ms []Metrics
			for r := range o.Repeats {
				if o.Progress != nil {
					o.Progress(fmt.Sprintf("ablation: %s, ε = %g, release %d/%d", name, eps, r+1, o.Repeats))
				}
				p.Epsilon = eps
				m, err := Release(s, d.Items, p, true, uint64(r+1))
				if err != nil {
					return fmt.Errorf("%s at ε = %g: %w", name, eps, err)
				}
				ms = append(ms, Evaluate(s, NewModelScorer(name, m, d.Items, pop), o.Cutoff))
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
		if err := run(l.Name, p, false); err != nil {
			return nil, err
		}
	}
	pop := o.Params
	pop.ItemShare = 0.999
	if err := run(DPPopularityLabel+" (reference)", pop, true); err != nil {
		return nil, err
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
