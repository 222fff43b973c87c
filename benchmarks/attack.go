package benchmarks

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// AttackOptions configure DifferencingAttack.
type AttackOptions struct {
	Trials   int             // attacks per setting
	Epsilons []float64       // private settings; the non-private model is always attacked too
	Params   release.Options // K, δ, ...; Epsilon is set per setting
	Items    int             // the attack runs on the this many most popular items (default 100)
	Known    int             // purchases of the target the attacker knows (default 4)
	Seed     uint64
	Progress func(string)
}

// AttackRow is the attacker's success at one ε.
type AttackRow struct {
	Epsilon         float64 // +Inf: non-private
	Trials, Success int
	Rate            float64
	Lo, Hi          float64 // 95% Clopper-Pearson interval of the rate
	Bound           float64 // the most any attacker can achieve at this ε: min(1, e^ε/m + δ)
	Chance          float64 // 1/m: guessing
}

// DifferencingAttack simulates the attack of Calandrino et al. (2011, "You
// Might Also Like"): an attacker knows some of a target's purchases (A) and
// watches the "customers who bought this also bought" lists of those items
// in two consecutive releases, one before and one after the target buys one
// more item x. It guesses x as the item whose scores in those lists rose the
// most. x is drawn uniformly from the m items outside A, so guessing
// succeeds with probability 1/m, and (ε, δ)-DP caps any attacker at
// e^ε/m + δ.
func DifferencingAttack(d *Dataset, s Split, o AttackOptions) ([]AttackRow, error) {
	if o.Items == 0 {
		o.Items = 100
	}
	if o.Known == 0 {
		o.Known = 4
	}
	if o.Trials == 0 {
		o.Trials = 200
	}
	// Background: the training data restricted to the most popular items.
	counts := itemCounts(s)
	order := make([]int32, s.Items)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(counts[b], counts[a]) })
	top := order[:min(o.Items, len(order))]
	local := make(map[int32]int32, len(top))
	items := make([]string, len(top))
	sub := &Dataset{Name: d.Name, Items: items}
	if d.Categories != nil {
		sub.Categories = make([]string, len(top))
	}
	for i, it := range top {
		local[it] = int32(i)
		items[i] = d.Items[it]
		if d.Categories != nil {
			sub.Categories[i] = d.Categories[it]
		}
	}
	bg := Split{Items: len(items)}
	for _, t := range s.Train {
		var u []int32
		for _, it := range t {
			if l, ok := local[it]; ok {
				u = append(u, l)
			}
		}
		if len(u) > 0 {
			bg.Train = append(bg.Train, u)
		}
	}
	m := len(items) - o.Known
	rng := rand.New(rand.NewPCG(o.Seed, 0xa77ac))

	settings := append([]float64{math.Inf(1)}, o.Epsilons...)
	var rows []AttackRow
	for _, eps := range settings {
		row := AttackRow{Epsilon: eps, Trials: o.Trials, Chance: 1 / float64(m), Bound: 1}
		p := o.Params
		p.Epsilon = eps
		p.HeadSize = len(items)
		if p.Mechanisms == release.Auto {
			// The attack reads "also bought" lists: release them whatever
			// Auto would choose, with the categories.
			p.Mechanisms = release.Popularity | release.Pairs
			if cat, err := catalogOf(sub); err == nil && len(cat.Categories()) >= 2 {
				p.Mechanisms |= release.Categories
			}
		}
		private := !math.IsInf(eps, 1)
		if private {
			row.Bound = math.Min(1, math.Exp(eps)/float64(m)+p.Delta)
		}
		for trial := range o.Trials {
			if o.Progress != nil && trial%50 == 0 {
				o.Progress(fmt.Sprintf("attack at ε = %s, trial %d/%d", epsText(eps), trial+1, o.Trials))
			}
			perm := rng.Perm(len(items))
			known := make([]int32, o.Known)
			for i := range known {
				known[i] = int32(perm[i])
			}
			x := int32(perm[o.Known+rng.IntN(m)])
			before := withTarget(bg, known)
			after := withTarget(bg, append(slices.Clone(known), x))
			r1, err := Release(before, sub, p, private, uint64(trial))
			if err != nil {
				return nil, err
			}
			r2, err := Release(after, sub, p, private, uint64(trial))
			if err != nil {
				return nil, err
			}
			if guess(r1, r2, items, known) == x {
				row.Success++
			}
		}
		row.Rate = float64(row.Success) / float64(row.Trials)
		row.Lo, row.Hi = clopperPearson(row.Success, row.Trials, 0.05)
		rows = append(rows, row)
	}
	return rows, nil
}

// clopperPearson is the two-sided 1 − alpha interval of a binomial rate.
func clopperPearson(k, n int, alpha float64) (lo, hi float64) {
	if k > 0 {
		lo = distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha / 2)
	}
	hi = 1
	if k < n {
		hi = distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(1 - alpha/2)
	}
	return lo, hi
}

func withTarget(bg Split, items []int32) Split {
	s := bg
	s.Train = append(slices.Clone(bg.Train), items)
	return s
}

// guess is the attacker: the candidate whose scores in the known items'
// "also bought" lists rose the most between the releases.
func guess(r1, r2 *recommend.Model, items []string, known []int32) int32 {
	delta := make([]float64, len(items))
	index := make(map[string]int, len(items))
	for i, id := range items {
		index[id] = i
	}
	var res recommend.Result
	for _, a := range known {
		for sign, m := range map[float64]*recommend.Model{-1: r1, 1: r2} {
			err := m.Recommend(&res, recommend.Query{Context: []string{items[a]}, N: len(items) - 1})
			if err != nil {
				continue
			}
			for _, r := range res.Items {
				delta[index[r.Item]] += sign * r.Score
			}
		}
	}
	best, bestD := int32(-1), math.Inf(-1)
	for i, dv := range delta {
		if slices.Contains(known, int32(i)) {
			continue
		}
		if dv > bestD {
			best, bestD = int32(i), dv
		}
	}
	return best
}
