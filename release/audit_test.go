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
// Two statistics are audited:
//   - the released noisy counts: the log-likelihood-ratio statistic of the
//     Gaussian mechanism, Σ x_i/σ_I² over the target's items plus Σ y_p/σ_P²
//     over the target's pairs, which is the most powerful test there is;
//   - the final model's neighbour lists: how many of the target's pairs
//     appear in them.
//
// With α = 1e-6, a correct mechanism fails the audit with probability below
// 4e-6 (two statistics, two bounds each). The same audit must flag a broken
// mechanism: with contribution bounding switched off, the target person's 12
// items and 66 pairs all count, and each three times (bought on three days,
// no deduplication), while the noise is calibrated for K = 4 and one count
// per item.
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
// can hide in the sum of the others), and the number of the target's pairs
// in the final neighbour lists.
func (a auditSetup) samples(t *testing.T, st *collect.State, n int) (counts []float64, perPart map[string][]float64, lists []float64) {
	t.Helper()
	isTarget := make([]bool, a.cat.Len())
	for _, it := range a.target {
		isTarget[it] = true
	}
	perPart = map[string][]float64{}
	var stat float64
	var res recommend.Result
	for range n {
		b := newBuilder(a.cat, a.o, a.plan)
		b.st = st
		stat = 0
		b.observe = func(o observation) {
			s := 0.0
			for i, dv := range a.delta(o) {
				s += dv * o.values[i] / (o.sigma * o.sigma)
			}
			stat += s
			perPart[o.part] = append(perPart[o.part], s)
		}
		m, err := b.run(info{releaseID: "audit", at: time.Unix(0, 0), window: testWindow})
		require.NoError(t, err)
		found := 0
		for _, i := range a.target {
			require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{a.cat.Item(int(i)).ID}, N: a.cat.Len()}))
			for _, r := range res.Items {
				if j, _ := a.cat.Index(r.Item); r.Reason == recommend.ReasonContext && isTarget[j] {
					found++
				}
			}
		}
		counts = append(counts, stat)
		lists = append(lists, float64(found))
	}
	return counts, perPart, lists
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
			cd, pd, ld := setup.samples(t, setup.d, n)
			cp, pp, lp := setup.samples(t, setup.dPrim, n)
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
			epsLists, evLists := epsilonLowerBound(ld, lp, delta, auditAlpha)
			t.Logf("configured ε = %.4g (δ = %g); %d releases per window", setup.plan.Epsilon, delta, n)
			t.Logf("audited lower bound from the noisy values:     ε ≥ %.3f  [%s]", epsCounts, evCounts)
			t.Logf("audited lower bound from the neighbour lists:  ε ≥ %.3f  [%s]", epsLists, evLists)
			assert.LessOrEqual(t, epsCounts, setup.plan.Epsilon, "the released values leak more than ε")
			assert.LessOrEqual(t, epsLists, setup.plan.Epsilon, "the neighbour lists leak more than ε")
		})
	}
}

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
