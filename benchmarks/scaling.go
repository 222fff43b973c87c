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
	Users                int
	Epsilon              float64
	NonPrivate           float64
	Private, PrivateStd  float64
	DPPopular, DPPopStd  float64
	EvaluatedUsers, Runs int
}

// ScalingCurve generates synthetic datasets of the given sizes from s,
// splits each randomly 75/25, and measures NDCG@10 of privrec at ε, of
// privrec without noise, and of DP popularity at ε. At most evalUsers test
// users are scored per model (metrics are averages, so a sample suffices).
func ScalingCurve(s *Synth, sizes []int, eps float64, params release.Options, repeats, evalUsers int, progress func(string)) ([]ScalingRow, error) {
	var rows []ScalingRow
	for _, n := range sizes {
		if progress != nil {
			progress(fmt.Sprintf("scaling: generating %d users", n))
		}
		d := s.Generate(n, uint64(n))
		split := RandomSplit(d, 1)
		eval := split
		eval.Test = limitTest(split.Test, evalUsers)
		row := ScalingRow{Users: n, Epsilon: eps, Runs: repeats}
		for _, t := range eval.Test {
			if len(t) > 0 {
				row.EvaluatedUsers++
			}
		}
		exact, err := Release(split, d.Items, params, false, 1)
		if err != nil {
			return nil, err
		}
		row.NonPrivate = Evaluate(eval, NewModelScorer("", exact, d.Items, false), 10).NDCG
		var priv, pop []Metrics
		for r := range repeats {
			if progress != nil {
				progress(fmt.Sprintf("scaling: %d users, release %d/%d", n, r+1, repeats))
			}
			p := params
			p.Epsilon = eps
			m, err := Release(split, d.Items, p, true, uint64(r+1))
			if err != nil {
				return nil, err
			}
			priv = append(priv, Evaluate(eval, NewModelScorer("", m, d.Items, false), 10))
			p.ItemShare = 0.999
			pm, err := Release(split, d.Items, p, true, uint64(r+1))
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
	p.Title.Text = fmt.Sprintf("NDCG@10 at ε = %g against the number of users (synthetic)", rows[0].Epsilon)
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
		{"DP popularity", func(r ScalingRow) float64 { return r.DPPopular }, palette[0]},
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
