package release

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/race"
	"github.com/privrec/privrec/recommend"
)

// Empirical privacy audit.
//
// Two neighbouring windows differ by one user who contributes the maximum:
// K items, hence all K(K-1)/2 of their pairs. The release runs many times on
// each window, with fresh noise, and the audit looks for an event E whose
// probabilities under the two windows are as far apart as possible. For
// (ε, δ)-DP, P'(E) ≤ e^ε·P(E) + δ for every E, so
//
//	ε_lb = ln((p'_lo − δ) / p_hi)
//
// is a lower bound on the ε actually spent, where p'_lo and p_hi are
// Clopper-Pearson bounds at confidence 1 − α each. The audit fails when
// ε_lb exceeds the configured ε. As in DP-Sniper, half of the samples choose
// the event (a threshold on a test statistic, in either direction) and the
// other half estimate its probabilities, so choosing cannot bias the bound.
//
// The released noisy values are audited with the log-likelihood-ratio
// statistic of the Gaussian mechanism, Σ x_i/σ_I² over the target's items
// plus Σ y_p/σ_P² over the target's pairs (and likewise for every other
// part), which is the most powerful test there is; for each part alone too.
// (The neighbour lists are post-processing of these values; a statistic on
// them measured nothing and was dropped.)
//
// With α = 1e-6, a correct mechanism fails the audit with probability below
// 4e-6 per statistic. The same audit must flag a broken mechanism: with
// contribution bounding switched off, the target person's 12 items and 66
// pairs all count, and each three times (bought on three days, no
// deduplication), while the noise is calibrated for K = 4 and one count per
// item.
//
// This bound has little power against subtler bugs (σ halved gives a lower
// bound of about 0.7 for a true ε of about 2 at 10^4 releases), so a second
// audit checks the Gaussian mechanism's two parameters directly: the noise
// σ of every part, and how far the neighbour moves the released values in
// units of σ (gaussianAudit; TestPrivacyAuditCatchesRealisticBugs states
// its power).
//
// The quick version (10^4 releases per window) runs in .ci/run without
// -race; PRIVREC_AUDIT_RELEASES=1000000 runs the long version.

const auditAlpha = 1e-6

// cpLower and cpUpper are Clopper-Pearson bounds on a binomial proportion
// with k successes in n trials, each holding with probability ≥ 1 − alpha.
func cpLower(k, n int, alpha float64) float64 {
	if k == 0 {
		return 0
	}
	return distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha)
}

func cpUpper(k, n int, alpha float64) float64 {
	if k == n {
		return 1
	}
	return distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(1 - alpha)
}

func TestClopperPearson(t *testing.T) {
	// Known values: 5 of 100 at 95% two-sided (α = 0.025 each side).
	assert.InDelta(t, 0.01643, cpLower(5, 100, 0.025), 1e-4)
	assert.InDelta(t, 0.11283, cpUpper(5, 100, 0.025), 1e-4)
	assert.Zero(t, cpLower(0, 10, 0.05))
	assert.Equal(t, 1.0, cpUpper(10, 10, 0.05))
}

// epsilonLowerBound audits samples of a statistic under window D (a) and its
// neighbour D' (b). It returns the bound and the event that gave it.
func epsilonLowerBound(a, b []float64, delta, alpha float64) (float64, string) {
	half := len(a) / 2
	selA, selB, estA, estB := a[:half], b[:half], a[half:], b[half:]
	count := func(xs []float64, tau float64, above bool) int {
		c := 0
		for _, x := range xs {
			if (above && x >= tau) || (!above && x <= tau) {
				c++
			}
		}
		return c
	}
	// Candidate thresholds: quantiles of the pooled selection samples.
	pool := slices.Concat(selA, selB)
	slices.Sort(pool)
	var cands []float64
	for q := 0.0005; q < 1; q *= 1.25 {
		cands = append(cands, pool[int(q*float64(len(pool)-1))], pool[int((1-q)*float64(len(pool)-1))])
	}
	type event struct {
		tau   float64
		above bool
		flip  bool // true: E is more likely under D than under D'
	}
	best, bestScore := event{}, math.Inf(-1)
	n := float64(half)
	for _, tau := range cands {
		for _, above := range []bool{true, false} {
			pa, pb := float64(count(selA, tau, above))/n, float64(count(selB, tau, above))/n
			for _, flip := range []bool{false, true} {
				hi, lo := pb, pa
				if flip {
					hi, lo = pa, pb
				}
				// Score events by the bound they would give, so that tails
				// too thin to bound anything are not chosen.
				score := math.Log((cpLower(int(hi*n), half, alpha)-delta)/cpUpper(int(lo*n), half, alpha)) + 1e-9*math.Log(hi+1e-12)
				if math.IsNaN(score) {
					continue
				}
				if score > bestScore {
					best, bestScore = event{tau, above, flip}, score
				}
			}
		}
	}
	m := len(estA)
	ka, kb := count(estA, best.tau, best.above), count(estB, best.tau, best.above)
	if best.flip {
		ka, kb = kb, ka
	}
	pLo, qHi := cpLower(kb, m, alpha), cpUpper(ka, m, alpha)
	dir := "≥"
	if !best.above {
		dir = "≤"
	}
	ev := fmt.Sprintf("S %s %.3g (%d vs %d of %d)", dir, best.tau, kb, ka, m)
	if pLo-delta <= 0 || qHi <= 0 {
		return 0, ev
	}
	return math.Max(0, math.Log((pLo-delta)/qHi)), ev
}

type auditSetup struct {
	cat      *recommend.Catalog
	o        Options
	plan     *dp.Plan
	d, dPrim *collect.State
	target   []uint32 // the extra user's items in D'
	copies   int      // how many times the extra user is in D'
	// wrap, when set, breaks the mechanism's counters (must-fail tests).
	wrap func(part string, c counter) counter
}

// newAuditSetup builds D (200 background users, 4 random items each, over 12
// items in two categories) and D' = D plus one person with the given items,
// counted copies times, through collectors that keep keep items per user (K
// for a correct release, more to switch bounding off), for a release of the
// given mechanisms.
func newAuditSetup(t *testing.T, targetItems []uint32, keep, copies int, mech Mechanisms) auditSetup {
	t.Helper()
	items := make([]recommend.Item, 12)
	for i := range items {
		items[i] = recommend.Item{ID: fmt.Sprintf("a%02d", i), Category: []string{"c0", "c1"}[i%2]}
	}
	cat, err := recommend.NewCatalog(items)
	require.NoError(t, err)
	o := Options{Epsilon: 1, Delta: 1e-5, K: 4, HeadSize: 12, Mechanisms: mech, Logger: quiet}.WithDefaults()
	plan, err := o.Plan(cat)
	require.NoError(t, err)
	mk := func(withTarget bool) *collect.State {
		c := testCollector(t, cat, keep)
		rng := rand.New(rand.NewPCG(7, 7))
		for u := range 200 {
			for _, p := range rng.Perm(12)[:4] {
				add(t, c, u, items[p].ID)
			}
		}
		for n := range copies {
			if withTarget {
				for _, it := range targetItems {
					add(t, c, 1_000_000+n, items[it].ID)
				}
			}
		}
		return take(t, c)
	}
	return auditSetup{cat: cat, o: o, plan: plan, d: mk(false), dPrim: mk(true), target: targetItems, copies: copies}
}

// delta is what the target adds to each of a part's values, as the
// mechanism that released them computes it: the direction of the most
// powerful test (Neyman–Pearson) between D and D' for Gaussian noise.
func (a auditSetup) delta(o observation) []float64 {
	nz, k, c := a.o.Noise, a.o.K, float64(a.copies)
	n := len(a.target)
	isTarget := make([]bool, a.cat.Len())
	for _, it := range a.target {
		isTarget[it] = true
	}
	d := make([]float64, len(o.values))
	switch o.part {
	case partItems, partItemsSecond:
		for i := range d {
			if isTarget[i] {
				d[i] = c * itemWeight(n, k, nz)
			}
		}
	case partPairs:
		kp := k
		if a.o.Mechanisms == Auto {
			kp = min(autoPairBound, k)
		}
		inHead := 0
		for _, it := range o.head {
			if isTarget[it] {
				inHead++
			}
		}
		h := len(o.head)
		for x := range h {
			for y := x + 1; y < h; y++ {
				if isTarget[o.head[x]] && isTarget[o.head[y]] {
					d[triIndex(x, y, h)] = c * pairWeight(inHead, kp, nz)
				}
			}
		}
	case partBaskets:
		d[0] = c // one more active user; every candidate head is the whole catalog
		for i := 1; i < len(d); i++ {
			d[i] = c * math.Sqrt(2*float64(n)/float64(n-1))
		}
	case partCategories:
		count := map[int]int{}
		for _, it := range a.target {
			count[a.cat.CategoryOf(int(it))]++
		}
		within := 0
		for _, m := range count {
			within += m * (m - 1)
		}
		d[0] = c * float64(within) / float64(n*(n-1))
		d[1] = c
	}
	return d
}

// samples runs the release n times on st and returns, per run, the
// likelihood-ratio statistic of all noisy values released, Σ Δ·x/σ² over
// every part, the same statistic for each part alone (a part that leaks
// can hide in the sum of the others), and the moments of every released
// value over the runs, for the Gaussian audit.
func (a auditSetup) samples(t *testing.T, st *collect.State, n int) (counts []float64, perPart map[string][]float64, mom moments) {
	t.Helper()
	perPart = map[string][]float64{}
	mom = moments{}
	var stat float64
	for range n {
		b := newBuilder(a.cat, a.o, a.plan)
		b.st = st
		b.wrap = a.wrap
		stat = 0
		b.observe = func(o observation) {
			s := 0.0
			for i, dv := range a.delta(o) {
				s += dv * o.values[i] / (o.sigma * o.sigma)
			}
			stat += s
			perPart[o.part] = append(perPart[o.part], s)
			mom.add(o, a.cat.Len())
		}
		_, err := b.run(info{releaseID: "audit", at: time.Unix(0, 0), window: testWindow})
		require.NoError(t, err)
		counts = append(counts, stat)
	}
	return counts, perPart, mom
}

// moments accumulates, for every part and every released value, the sum
// and sum of squares over releases. Values are keyed by what they count
// (an item, a pair of items, or their position for the other parts), not
// by their position in one release: the head's order changes with the
// noise.
type moments map[string]*partMoments

type partMoments struct {
	sigma float64 // the σ the mechanism claims
	n     map[int]float64
	sum   map[int]float64
	sumSq map[int]float64
}

func (m moments) add(o observation, items int) {
	pm := m[o.part]
	if pm == nil {
		pm = &partMoments{sigma: o.sigma, n: map[int]float64{}, sum: map[int]float64{}, sumSq: map[int]float64{}}
		m[o.part] = pm
	}
	h := len(o.head)
	for i, v := range o.values {
		key := i
		if o.part == partPairs && h > 0 {
			x, y := triPosition(i, h)
			lo, hi := min(o.head[x], o.head[y]), max(o.head[x], o.head[y])
			key = int(lo)*items + int(hi)
		}
		pm.n[key]++
		pm.sum[key] += v
		pm.sumSq[key] += v * v
	}
}

// triPosition inverts triIndex: the head positions (x, y), x < y, of the
// i-th pair of a head of h items.
func triPosition(i, h int) (x, y int) {
	for x = 0; ; x++ {
		if row := h - x - 1; i < row {
			return x, x + 1 + i
		} else {
			i -= row
		}
	}
}

// gaussianAudit compares the releases of D and D' value by value. For the
// Gaussian mechanism the privacy loss is fixed by two numbers: the noise's
// standard deviation, and how far the neighbour moves the released values
// in units of it, μ = ‖E[X'] − E[X]‖₂ / σ (parts compose: μ² adds up). It
// returns, per part, the measured σ over the claimed one (pooled over the
// part's values), and the measured μ² over all parts: an unbiased
// estimate, Σ (d² − s²)/σ² with d the difference of the two means of a
// value and s² the variance of that difference. se(μ0²) is its standard
// error if the true μ² were μ0²: sqrt(Σ 2s⁴ + 4·μ0²·max s²).
func gaussianAudit(d, dPrim moments) (sigmaRatio map[string]float64, mu2 float64, se func(mu02 float64) float64) {
	sigmaRatio = map[string]float64{}
	var sumS4, maxS2 float64
	for part, a := range d {
		b := dPrim[part]
		if b == nil {
			continue
		}
		var pooled, dof float64
		for key, na := range a.n {
			nb := b.n[key]
			if na < 2 || nb < 2 {
				continue
			}
			ma, mb := a.sum[key]/na, b.sum[key]/nb
			va := (a.sumSq[key] - na*ma*ma) / (na - 1)
			vb := (b.sumSq[key] - nb*mb*mb) / (nb - 1)
			pooled += va*(na-1) + vb*(nb-1)
			dof += na + nb - 2
			s2 := (va/na + vb/nb) / (a.sigma * a.sigma)
			diff := (mb - ma) / a.sigma
			mu2 += diff*diff - s2
			sumS4 += 2 * s2 * s2
			maxS2 = max(maxS2, s2)
		}
		if dof > 0 {
			sigmaRatio[part] = math.Sqrt(pooled/dof) / a.sigma
		}
	}
	return sigmaRatio, mu2, func(mu02 float64) float64 { return math.Sqrt(sumS4 + 4*mu02*maxS2) }
}

// checkGaussian runs the Gaussian audit of D against D' and reports what
// it finds wrong: a part whose noise is off its claimed σ by more than
// 10%, or a neighbour that moves the values by more than the plan's μ
// allows, by more than 6 standard errors of a mechanism that moves them
// exactly that much (a false alarm has probability about 1e-9).
func (a auditSetup) checkGaussian(t *testing.T, d, dPrim moments) (problems []string) {
	t.Helper()
	ratios, mu2, seAt := gaussianAudit(d, dPrim)
	muPlan2 := 2 * a.plan.Cost.Rho
	se := seAt(muPlan2)
	for part, r := range ratios {
		t.Logf("measured σ / claimed σ for %-28s %.3f", part+":", r)
		if math.Abs(r-1) > 0.1 {
			problems = append(problems, fmt.Sprintf("%s: noise σ is %.2f of the claimed one", part, r))
		}
	}
	t.Logf("measured μ² = %.4f against the plan's μ² = %.4f (standard error %.4f)", mu2, muPlan2, se)
	if mu2 > muPlan2+6*se {
		problems = append(problems, fmt.Sprintf("the neighbour moves the released values by μ² = %.3f, the plan allows %.3f (standard error %.3f)", mu2, muPlan2, se))
	}
	return problems
}

func auditReleases(t *testing.T) int {
	if s := os.Getenv("PRIVREC_AUDIT_RELEASES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		return n
	}
	if testing.Short() {
		return 2000
	}
	return 10000
}

func TestPrivacyAudit(t *testing.T) {
	if race.Enabled {
		t.Skip("the audit runs 2·10^4 releases; too slow under -race. .ci/run runs it without -race")
	}
	n := auditReleases(t)
	for _, mech := range []Mechanisms{Popularity | Pairs, Auto} {
		t.Run(mech.String(), func(t *testing.T) {
			setup := newAuditSetup(t, []uint32{0, 1, 2, 3}, 4, 1, mech)
			cd, pd, md := setup.samples(t, setup.d, n)
			cp, pp, mp := setup.samples(t, setup.dPrim, n)
			delta := setup.o.Delta
			for part, xs := range pd {
				// Parts that Auto releases in some runs only: compare as
				// many runs as both windows have.
				ys := pp[part]
				m := min(len(xs), len(ys))
				if m < n/10 {
					continue
				}
				eps, ev := epsilonLowerBound(xs[:m], ys[:m], delta, auditAlpha)
				t.Logf("audited lower bound from %-28s ε ≥ %.3f  [%s]", part+":", eps, ev)
				assert.LessOrEqual(t, eps, setup.plan.Epsilon, "%s leak more than ε", part)
			}
			epsCounts, evCounts := epsilonLowerBound(cd, cp, delta, auditAlpha)
			t.Logf("configured ε = %.4g (δ = %g); %d releases per window", setup.plan.Epsilon, delta, n)
			t.Logf("audited lower bound from the noisy values:     ε ≥ %.3f  [%s]", epsCounts, evCounts)
			assert.LessOrEqual(t, epsCounts, setup.plan.Epsilon, "the released values leak more than ε")
			assert.Empty(t, setup.checkGaussian(t, md, mp), "the Gaussian audit")
		})
	}
}

// The audit must catch realistic bugs, not only a blow-up. Each case
// breaks the mechanism one way, through the collector (so bounding is
// inside the test), and the Gaussian audit must report it. Its power,
// with 10,000 releases per window: the measured σ of every part is within
// ±1% of the truth (the audit flags ±10%), and μ² has a standard error of
// about 0.008 against the plan's μ² = 0.072 (ε = 1, δ = 1e-5, K = 4), so
// the audit flags a neighbour that moves the values by more than 1.3 times
// the plan's μ (μ² beyond 0.12) and misses one at 1.45 times (μ² = 0.15)
// with probability below 1e-3. The bugs below move it by 1.7 (pairs
// doubled: μ² ≈ 0.21) and 2 times (a person counted twice: μ² ≈ 0.29), or
// halve σ.
func TestPrivacyAuditCatchesRealisticBugs(t *testing.T) {
	if race.Enabled {
		t.Skip("too slow under -race. .ci/run runs it without -race")
	}
	n := auditReleases(t)
	halve := func(c counter) counter { return scaledNoise{c, 0.5} }
	for _, tc := range []struct {
		name   string
		copies int
		wrap   func(part string, c counter) counter
		want   string
	}{
		{"noise σ halved", 1, func(_ string, c counter) counter { return halve(c) }, "noise σ is 0.5"},
		{"pair sensitivity understated 2×", 1, func(part string, c counter) counter {
			if part == partPairs {
				return doubled{c}
			}
			return c
		}, "the neighbour moves"},
		{"one person counted twice", 2, nil, "the neighbour moves"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setup := newAuditSetup(t, []uint32{0, 1, 2, 3}, 4, tc.copies, Popularity|Pairs)
			setup.wrap = tc.wrap
			_, _, md := setup.samples(t, setup.d, n)
			_, _, mp := setup.samples(t, setup.dPrim, n)
			problems := setup.checkGaussian(t, md, mp)
			require.NotEmpty(t, problems, "the audit missed: %s", tc.name)
			assert.Contains(t, fmt.Sprint(problems), tc.want)
		})
	}
}

// scaledNoise draws c's noise and scales it by f, while claiming c's σ.
type scaledNoise struct {
	counter
	f float64
}

func (s scaledNoise) Noisy(x int64) (int64, error) {
	y, err := s.counter.Noisy(x)
	return x + int64(math.Round(s.f*float64(y-x))), err
}

func (s scaledNoise) NoisyFloat(x float64) (float64, error) {
	y, err := s.counter.NoisyFloat(x)
	return x + s.f*(y-x), err
}

// doubled counts every value twice before the noise, as a mechanism that
// understates its sensitivity by 2 would.
type doubled struct{ counter }

func (d doubled) Noisy(x int64) (int64, error)          { return d.counter.Noisy(2 * x) }
func (d doubled) NoisyFloat(x float64) (float64, error) { return d.counter.NoisyFloat(2 * x) }

// The audit must catch a mechanism whose contribution bounding is off.
func TestPrivacyAuditFlagsUnboundedContributions(t *testing.T) {
	if race.Enabled {
		t.Skip("too slow under -race. .ci/run runs it without -race")
	}
	n := auditReleases(t)
	all := make([]uint32, 12)
	for i := range all {
		all[i] = uint32(i)
	}
	setup := newAuditSetup(t, all, 12, 3, Popularity|Pairs) // 12 items, each counted 3 times; the noise assumes K = 4 and once
	setup.o.K, setup.o.Keep = 12, 12                        // and nothing weights the 12 items down to the norm of 4
	cd, _, _ := setup.samples(t, setup.d, n)
	cp, _, _ := setup.samples(t, setup.dPrim, n)
	eps, ev := epsilonLowerBound(cd, cp, setup.o.Delta, auditAlpha)
	t.Logf("broken mechanism: audited ε ≥ %.3f against configured %.4g [%s]", eps, setup.plan.Epsilon, ev)
	assert.Greater(t, eps, setup.plan.Epsilon, "the audit failed to detect unbounded contributions")
}
