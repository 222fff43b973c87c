package release

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
)

// TestEveryReleasedValueCarriesNoise pins that a count of zero is released
// with the same noise as any other. A release that skipped zeros (or noised
// only the counts someone contributed to) is not differentially private: a
// count that is 0 in one window and 1 in its neighbour would be exact in one
// and noisy in the other. No other test notices, because zeros are what a
// recommender looks at least.
//
// Every user's items are among the first 5 of the 20-item test catalog
// (kept weighted, Keep = 16 for K = 4, and unweighted, Keep = K), so
// the other 15 item counts, and every head pair with one of them, are 0.
// Over 400 releases that is 6,000 zero item counts and 72,000 zero pair
// counts per configuration (fewer pairs when Auto chooses a smaller head or
// no pairs). Their sample variance over the part's σ² is χ²_n/n, with
// standard deviation sqrt(2/n) ≤ 0.019. The statistics that are never zero
// (the category statistic's two values, the basket statistics' count of
// active users) are checked the same way around their mean over the 400
// releases: χ²_399/399 per value, standard deviation 0.071. The test
// accepts 0.65–1.35, more than 4.9 standard deviations, so a false failure
// has probability below 1e-6 per part. A release that skips zeros has
// ratio 0, one with σ halved 0.25.
func TestEveryReleasedValueCarriesNoise(t *testing.T) {
	const releases, used = 400, 5
	cat := testCatalog(t)
	window := func(keep int) *collect.State {
		c := testCollector(t, cat, keep)
		for u := range 300 {
			for j := range 1 + u%used {
				add(t, c, u, fmt.Sprintf("i%02d", (u+j)%used))
			}
		}
		st := take(t, c)
		t.Cleanup(st.Wipe)
		return st
	}
	st := window(16)
	// The same window kept unweighted (Keep = K = 4): integer counts, the
	// DP library's integer noise.
	st4 := window(4)

	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"auto", Options{Epsilon: 1, Delta: 1e-6, K: 4, HeadSize: 20}},
		{"popularity+pairs", Options{Epsilon: 1, Delta: 1e-6, K: 4, HeadSize: 20, Mechanisms: Popularity | Pairs}},
		{"popularity+categories", Options{Epsilon: 1, Delta: 1e-6, K: 4, Mechanisms: Popularity | Categories}},
		{"laplace", Options{Epsilon: 1, K: 4, HeadSize: 20, Noise: dp.Laplace, Mechanisms: Popularity | Pairs}},
		{"unweighted", Options{Epsilon: 1, Delta: 1e-6, K: 4, Keep: 4, HeadSize: 20, Mechanisms: Popularity | Pairs}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Logger = quiet
			window := st4
			if o.Keep == 0 {
				o.Keep, window = 16, st
			}
			o = o.WithDefaults()
			plan, err := o.Plan(cat)
			require.NoError(t, err)
			type moments struct{ n, sum, sumSq, sigma float64 }
			zeros := map[string]*moments{}
			addZero := func(part string, sigma, v float64) {
				m := zeros[part]
				if m == nil {
					m = &moments{sigma: sigma}
					zeros[part] = m
				}
				require.Equal(t, m.sigma, sigma, "%s: σ changed between releases", part)
				m.n++
				m.sum += v
				m.sumSq += v * v
			}
			fixed := map[string][][]float64{} // part → value index → released values
			for range releases {
				b := newBuilder(cat, o, plan)
				b.st = window
				b.observe = func(ob observation) {
					switch ob.part {
					case partCategories, partBaskets:
						// The basket statistics' first value counts active
						// users; the others depend on the released head.
						n := len(ob.values)
						if ob.part == partBaskets {
							n = 1
						}
						if fixed[ob.part] == nil {
							fixed[ob.part] = make([][]float64, n)
							zeros[ob.part] = &moments{sigma: ob.sigma}
						}
						for i := range n {
							fixed[ob.part][i] = append(fixed[ob.part][i], ob.values[i])
						}
					case partItems, partItemsSecond:
						require.Len(t, ob.values, cat.Len())
						for i := used; i < cat.Len(); i++ {
							addZero(ob.part, ob.sigma, ob.values[i])
						}
					case partPairs:
						h := len(ob.head)
						require.Len(t, ob.values, h*(h-1)/2)
						for x := range h {
							for y := x + 1; y < h; y++ {
								if ob.head[x] >= used || ob.head[y] >= used {
									addZero(ob.part, ob.sigma, ob.values[triIndex(x, y, h)])
								}
							}
						}
					}
				}
				_, err := b.run(info{window: testWindow})
				require.NoError(t, err)
			}
			require.Contains(t, zeros, partItems, "no item counts were observed")
			for part, perValue := range fixed {
				m := zeros[part]
				for _, vs := range perValue {
					var mean float64
					for _, v := range vs {
						mean += v / float64(len(vs))
					}
					for _, v := range vs {
						m.sumSq += (v - mean) * (v - mean)
					}
					m.n += float64(len(vs) - 1) // degrees of freedom
				}
			}
			for part, m := range zeros {
				if m.n < 100 {
					continue // Auto chose a head with few zero pairs
				}
				mean := m.sum / m.n
				ratio := (m.sumSq / m.n) / (m.sigma * m.sigma)
				t.Logf("%s: %g values released, mean of the zero counts %.3f, variance / σ² = %.3f (σ = %.3g)", part, m.n, mean, ratio, m.sigma)
				assert.InDelta(t, 1, ratio, 0.35, "%s: every value must carry noise of the promised σ", part)
				assert.InDelta(t, 0, mean, 6*m.sigma/math.Sqrt(m.n), "%s: the noise on zero counts must be centred", part)
			}
		})
	}
}

// BenchmarkNoise draws noise for the pair counts of a 500-item head
// (124,750 values), the bulk of an explicit popularity+pairs release's
// noise: 5.6 µs per value on 2 cores (7.6 with GOMAXPROCS=1: the
// garbage collector gets the other core). Drawing in parallel made it
// slower (7.7 µs per value with the values split over two goroutines):
// every draw reads the DP library's random bytes dozens of times through
// one global mutex, which took 47% of the profile at two goroutines.
func BenchmarkNoise(b *testing.B) {
	plan, err := dp.NewPlan(dp.PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []dp.PartSpec{{Name: "pairs", L0: 120, LInf: 1, Share: 1}}})
	require.NoError(b, err)
	c := plan.Part("pairs").Counter
	sums := make([]float64, 500*499/2)
	for i := range sums {
		sums[i] = float64(i % 50)
	}
	for _, weighted := range []bool{false, true} {
		b.Run(map[bool]string{false: "integer", true: "float"}[weighted], func(b *testing.B) {
			for b.Loop() {
				if _, err := noisy(sums, c, weighted); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(sums)), "ns/value")
		})
	}
}
