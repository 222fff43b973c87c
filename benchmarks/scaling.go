package benchmarks

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/privrec/privrec/release"
)

// ScalingRow is NDCG@10 at one number of synthetic users.
type ScalingRow struct {
	Generator            string
	Users                int
	Epsilon              float64
	NonPrivate           float64
	Private, PrivateStd  float64
	DPPopular, DPPopStd  float64
	EvaluatedUsers, Runs int
}

// A Generator makes a data set of n users and its train/test split.
type Generator struct {
	Name string
	Make func(n int) (*Dataset, Split)
}

// SynthGenerator generates users from s's low-rank model and splits them
// randomly 75/25.
func SynthGenerator(s *Synth) Generator {
	return Generator{Name: "synthetic (rank-16 SVD)", Make: func(n int) (*Dataset, Split) {
		d := s.Generate(n, uint64(n))
		return d, RandomSplit(d, 1)
	}}
}

// BootstrapGenerator resamples d's customers' training items up to n users
// (BootstrapSplit of d's random 75/25 split): the real co-occurrence
// structure and catalog, at scale.
func BootstrapGenerator(d *Dataset) Generator {
	base := RandomSplit(d, 1)
	return Generator{Name: "bootstrap (" + d.Name + " customers resampled)", Make: func(n int) (*Dataset, Split) {
		return d, BootstrapSplit(base, n, uint64(n))
	}}
}

// ScalingCurve makes data sets of the given sizes with g and measures
// NDCG@10 of privrec at ε, of privrec without noise, and of its
// popularity-only release at ε. At most evalUsers test users are scored
// per model (metrics are averages, so a sample suffices).
func ScalingCurve(g Generator, sizes []int, eps float64, params release.Options, repeats, evalUsers int, progress func(string)) ([]ScalingRow, error) {
	var rows []ScalingRow
	for _, n := range sizes {
		if progress != nil {
			progress(fmt.Sprintf("scaling, %s: %d users", g.Name, n))
		}
		d, split := g.Make(n)
		eval := split
		eval.Test = limitTest(split.Test, evalUsers)
		row := ScalingRow{Generator: g.Name, Users: n, Epsilon: eps, Runs: repeats}
		for _, t := range eval.Test {
			if len(t) > 0 {
				row.EvaluatedUsers++
			}
		}
		exact, err := Release(split, d, params, false, 1)
		if err != nil {
			return nil, err
		}
		row.NonPrivate = Evaluate(eval, NewModelScorer("", exact, d.Items, false), 10).NDCG
		var priv, pop []Metrics
		for r := range repeats {
			if progress != nil {
				progress(fmt.Sprintf("scaling, %s: %d users, release %d/%d", g.Name, n, r+1, repeats))
			}
			p := params
			p.Epsilon = eps
			m, err := Release(split, d, p, true, uint64(r+1))
			if err != nil {
				return nil, err
			}
			priv = append(priv, Evaluate(eval, NewModelScorer("", m, d.Items, false), 10))
			p.Mechanisms = release.Popularity
			pm, err := Release(split, d, p, true, uint64(r+1))
			if err != nil {
				return nil, err
			}
			pop = append(pop, Evaluate(eval, NewModelScorer("", pm, d.Items, true), 10))
		}
		pm, ps := meanStd(priv)
		qm, qs := meanStd(pop)
		row.Private, row.PrivateStd, row.DPPopular, row.DPPopStd = pm.NDCG, ps.NDCG, qm.NDCG, qs.NDCG
		rows = append(rows, row)
	}
	return rows, nil
}

// limitTest keeps the test items of the first max users that have some.
func limitTest(test [][]int32, max int) [][]int32 {
	out := make([][]int32, len(test))
	kept := 0
	for u, t := range test {
		if len(t) > 0 && kept < max {
			out[u] = t
			kept++
		}
	}
	return out
}

// PlotScaling draws NDCG@10 against the number of users (log scale).
func PlotScaling(w io.Writer, rows []ScalingRow) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("NDCG@10 at ε = %g against the number of users, %s", rows[0].Epsilon, rows[0].Generator)
	p.X.Label.Text = "users (log scale)"
	p.Y.Label.Text = "NDCG@10"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	series := []struct {
		name string
		get  func(ScalingRow) float64
		c    color.Color
	}{
		{"privrec, non-private", func(r ScalingRow) float64 { return r.NonPrivate }, palette[2]},
		{"privrec (private)", func(r ScalingRow) float64 { return r.Private }, palette[1]},
		{"popularity only", func(r ScalingRow) float64 { return r.DPPopular }, palette[0]},
	}
	for _, s := range series {
		xy := make(plotter.XYs, len(rows))
		for i, r := range rows {
			xy[i] = plotter.XY{X: float64(r.Users), Y: s.get(r)}
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return err
		}
		l.Color, l.Width, pts.Color = s.c, vg.Points(2), s.c
		p.Add(l, pts)
		p.Legend.Add(s.name, l)
	}
	wt, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
