package benchmarks

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func epsText(e float64) string {
	if math.IsInf(e, 1) {
		return "∞"
	}
	return strconv.FormatFloat(e, 'g', -1, 64)
}

func pm(mean, std float64, runs int) string {
	if runs <= 1 {
		return fmt.Sprintf("%.4f", mean)
	}
	return fmt.Sprintf("%.4f ± %.4f", mean, std)
}

// MarkdownTable renders rows as a Markdown table (mean ± standard deviation
// over runs).
func MarkdownTable(w io.Writer, rows []Row, k int) {
	fmt.Fprintf(w, "| model | ε | runs | HR@%d | P@%d | R@%d | NDCG@%d | MAP@%d | coverage |\n|---|---|---|---|---|---|---|---|---|\n", k, k, k, k, k)
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", r.Model, epsText(r.Epsilon), r.Runs,
			pm(r.Mean.HR, r.Std.HR, r.Runs), pm(r.Mean.Precision, r.Std.Precision, r.Runs), pm(r.Mean.Recall, r.Std.Recall, r.Runs),
			pm(r.Mean.NDCG, r.Std.NDCG, r.Runs), pm(r.Mean.MAP, r.Std.MAP, r.Runs), pm(r.Mean.Coverage, r.Std.Coverage, r.Runs))
	}
}

// WriteCSV writes rows as CSV with a header.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"dataset", "split", "model", "epsilon", "runs", "hr", "hr_std", "precision", "precision_std", "recall", "recall_std",
		"ndcg", "ndcg_std", "map", "map_std", "coverage", "coverage_std"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, r := range rows {
		cw.Write([]string{r.Dataset, r.Split, r.Model, epsText(r.Epsilon), strconv.Itoa(r.Runs),
			f(r.Mean.HR), f(r.Std.HR), f(r.Mean.Precision), f(r.Std.Precision), f(r.Mean.Recall), f(r.Std.Recall),
			f(r.Mean.NDCG), f(r.Std.NDCG), f(r.Mean.MAP), f(r.Std.MAP), f(r.Mean.Coverage), f(r.Std.Coverage)})
	}
	cw.Flush()
	return cw.Error()
}

var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
}

// PlotNDCGByEpsilon draws NDCG@k against ε (log scale) with a line and a
// ±1 standard deviation band per swept model, and dashed lines for the
// non-private references. It writes a PNG.
func PlotNDCGByEpsilon(w io.Writer, title string, rows []Row, k int) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "ε (log scale)"
	p.Y.Label.Text = fmt.Sprintf("NDCG@%d", k)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Y.Min = 0

	series := map[string][]Row{}
	var refs []Row
	minE, maxE := math.Inf(1), 0.0
	for _, r := range rows {
		if math.IsInf(r.Epsilon, 1) {
			refs = append(refs, r)
			continue
		}
		series[r.Model] = append(series[r.Model], r)
		minE, maxE = math.Min(minE, r.Epsilon), math.Max(maxE, r.Epsilon)
	}
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	ci := 0
	for _, name := range names {
		rs := series[name]
		sort.Slice(rs, func(i, j int) bool { return rs[i].Epsilon < rs[j].Epsilon })
		line, band := make(plotter.XYs, len(rs)), make(plotter.XYs, 0, 2*len(rs))
		for i, r := range rs {
			line[i] = plotter.XY{X: r.Epsilon, Y: r.Mean.NDCG}
			band = append(band, plotter.XY{X: r.Epsilon, Y: r.Mean.NDCG + r.Std.NDCG})
		}
		for i := len(rs) - 1; i >= 0; i-- {
			band = append(band, plotter.XY{X: rs[i].Epsilon, Y: rs[i].Mean.NDCG - rs[i].Std.NDCG})
		}
		c := palette[ci%len(palette)]
		ci++
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return err
		}
		r, g, b, _ := c.RGBA()
		poly.Color = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 70}
		poly.LineStyle.Width = 0
		l, err := plotter.NewLine(line)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, vg.Points(2)
		pts, err := plotter.NewScatter(line)
		if err != nil {
			return err
		}
		pts.Color = c
		p.Add(poly, l, pts)
		p.Legend.Add(name+" (private)", l)
	}
	for _, r := range refs {
		if r.Model == "random" {
			continue
		}
		c := palette[ci%len(palette)]
		ci++
		l, err := plotter.NewLine(plotter.XYs{{X: minE, Y: r.Mean.NDCG}, {X: maxE, Y: r.Mean.NDCG}})
		if err != nil {
			return err
		}
		l.Color, l.Dashes, l.Width = c, []vg.Length{vg.Points(6), vg.Points(3)}, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(r.Model+" (non-private, ε = ∞)", l)
	}
	wt, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
