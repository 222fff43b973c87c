package release

import (
	"fmt"
	"math"
)

// autoFlex is Auto's flexible part: it goes to pair counts when the
// released statistics predict that pairs will carry signal, and to a
// second popularity release otherwise. The choice, and the pairs' head and
// per-user bound, are post-processing of released values (the item counts
// and the basket statistics), and every choice spends this part's budget
// and no more (dp.Counter.WithSensitivity).
//
// With noise, each user's head pairs are weighted to the norm of one pair
// (a pair bound of k = 2): of all bounds, that gives every pair count the
// most signal for its noise, since a user's weight min(1, sqrt(k(k−1)/
// (n(n−1)))) falls more slowly than the noise sqrt(k(k−1)/2) grows. Users
// with few items in the head then count fully, so the head's size
// matters: a small head holds few items but strong counts. For each
// candidate head, the basket statistics give the pair weight its users
// bring, shared among its items by their released popularity; an item's
// strongest pair is predicted to get autoPairFraction of its share, and
// can become evidence when that exceeds the garrote's threshold
// t = σ·sqrt(2·ln(h−1)) (see headEvidence). Auto takes the candidate head
// with the most such items; with fewer than autoMinHead, pairs would be
// noise and the budget goes to popularity instead.
//
// Without noise (Exact) every pair is signal: Auto releases pairs over
// HeadSize items with the bound K.
type autoFlex struct {
	share float64
}

// Constants of Auto's prediction, measured with the benchmark harness on
// Online Retail, its bootstrap resamples and the synthetic shops at ε from
// 0.25 to 8 (benchmarks/RESULTS.md, "Auto").
const (
	autoPairFraction = 0.2
	autoMinHead      = 20
	autoPairBound    = 2
)

func (autoFlex) name() string { return "auto" }

func (f autoFlex) parts(o Options) []part { return pairs{share: f.share}.parts(o) }

// alternative is the part the flexible share pays for when pairs are not
// predicted to carry signal.
func (f autoFlex) alternative(o Options) part {
	return part{
		spec:   itemSpec(o, partItemsSecond, f.share),
		domain: "every catalog item again, zeros included, combined with the first release by inverse variance",
		budget: partPairs,
	}
}

func (f autoFlex) release(b *builder) error {
	full := pairs{share: f.share}
	sigma, err := b.sigma(full.parts(b.o)[0])
	if err != nil {
		return err
	}
	if sigma == 0 {
		b.note(fmt.Sprintf("auto: no noise: pairs released among the %d most popular items", b.o.HeadSize))
		return full.release(b)
	}
	p := pairs{share: f.share, k: min(autoPairBound, b.o.K)}
	if sigma, err = b.sigma(p.parts(b.o)[0]); err != nil {
		return err
	}
	head, why := pairHead(b.itemCounts, b.pop, sigma, b.heads, b.pairMass, b.activeUsers)
	b.note(why)
	if head == 0 {
		return popularity{}.releaseAgain(b, f.alternative(b.o))
	}
	p.head = head
	return p.release(b)
}

// pairHead predicts, for each candidate head size, how many of its items
// can carry pair evidence at pair noise sigma, and returns the best head
// size, or 0 when none has autoMinHead such items, with a sentence for the
// report.
func pairHead(itemCounts []int64, pop []float64, sigma float64, heads []int, mass []float64, users float64) (int, string) {
	order := headItems(itemCounts, heads[len(heads)-1])
	best, bestN := 0, 0
	var seen []string
	for c, h := range heads {
		h = min(h, len(order))
		total := 0.0
		for _, it := range order[:h] {
			total += pop[it]
		}
		t := sigma * math.Sqrt(2*math.Log(float64(max(h-1, 2))))
		n := 0
		for _, it := range order[:h] {
			if total > 0 && autoPairFraction*mass[c]*pop[it]/total > t {
				n++
			}
		}
		seen = append(seen, fmt.Sprintf("%d of %d", n, h))
		if n > bestN {
			best, bestN = h, n
		}
	}
	who := fmt.Sprintf("about %.0f active users", users)
	if bestN < min(autoMinHead, (len(pop)+1)/2) {
		return 0, fmt.Sprintf("auto: with %s and pair noise σ = %.3g, too few items are popular enough for their pairs to stand out of the noise (%v; %d needed): the pairs' budget went to a second popularity release", who, sigma, seen, min(autoMinHead, (len(pop)+1)/2))
	}
	return best, fmt.Sprintf("auto: with %s and pair noise σ = %.3g, pairs of the %d most popular items are predicted to stand out of the noise for %d of them (%v): pairs released among them, each user's weighted to the norm of one pair", who, sigma, best, bestN, seen)
}
