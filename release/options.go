package release

import (
	"fmt"
	"log/slog"
	"math"

	"github.com/privrec/privrec/dp"
)

// PairSelection says how the item pairs to release are chosen. The set of
// pairs that users bought together is not public, so it cannot be released
// as is.
type PairSelection int

const (
	// HeadPairs restricts pairs to the HeadSize most popular items according
	// to the already-released (noisy) item counts, and adds noise to every
	// pair among them, zeros included. Choosing the head is post-processing
	// of a DP release, so selection costs no δ. The default.
	HeadPairs PairSelection = iota
	// ThresholdPairs adds noise to every pair that some user contributed to
	// and releases those whose noisy count clears a threshold. Selection
	// costs δ (SelectionDeltaShare of Delta with Gaussian noise, all of it
	// with Laplace noise).
	ThresholdPairs
)

// String returns "head" or "threshold".
func (s PairSelection) String() string {
	switch s {
	case HeadPairs:
		return "head"
	case ThresholdPairs:
		return "threshold"
	}
	return fmt.Sprintf("PairSelection(%d)", int(s))
}

// ParsePairSelection parses the names String returns.
func ParsePairSelection(s string) (PairSelection, error) {
	switch s {
	case "head":
		return HeadPairs, nil
	case "threshold":
		return ThresholdPairs, nil
	}
	return 0, fmt.Errorf("release: unknown pair selection %q (want head or threshold)", s)
}

// maxK bounds K and Keep: pairs per user grow as K².
const maxK = 256

// Defaults applied by Options.WithDefaults to zero fields; the field
// documentation states each one.
const (
	defaultK                   = 16
	defaultKeep                = 64
	defaultItemShare           = 0.5
	defaultHeadSize            = 500
	defaultNeighbors           = 100
	defaultSelectionDeltaShare = 0.5
)

// Other limits of Options.
const (
	maxHeadSize  = 20000
	maxNeighbors = 10000
)

// Options configure one release. The privacy parameters (Epsilon, Delta,
// Noise) make the release as a whole user-level (Epsilon, Delta)-
// differentially private, where a user is one pseudonym in one window; the
// others choose what is released and how it is post-processed.
//
// Zero values of every field but Epsilon and Delta mean their defaults;
// Validate (which Private and Exact call) checks the result.
type Options struct {
	// Mechanisms chooses what the release computes; Auto (the zero value)
	// lets it choose from the data. See Mechanisms and Auto.
	Mechanisms Mechanisms
	// Epsilon is the total ε of the release, in (0, dp.MaxEpsilon].
	Epsilon float64
	// Delta is the total δ, in [0, 1). Gaussian noise needs Delta > 0;
	// Laplace noise with HeadPairs needs Delta == 0 (pure ε-DP); Laplace
	// noise with ThresholdPairs spends all of Delta on selection. A common
	// choice is below 1/(number of users).
	Delta float64
	// Noise is the noise distribution; Gaussian by default.
	Noise dp.Noise
	// K is the contribution bound: each user counts for at most K items
	// per window, so they change at most K item counts and K(K−1)/2 pair
	// counts. In [1, 256]; 16 when zero.
	K int
	// Keep is how many distinct items the collector kept per user, in
	// [K, 256]; when zero, the collector's (at least K), and K for an
	// External release. See CollectKeep for what to collect with. When
	// Keep > K the release weights them instead of
	// discarding the surplus (McSherry & Mironov 2009): a user with n > K
	// kept items adds sqrt(K/n) to each item count and
	// sqrt(K(K−1)/(n(n−1))) to each pair count with Gaussian noise (K/n
	// and K(K−1)/(n(n−1)) with Laplace), so their contribution has at most
	// the norm of K items and the noise is that of K items. It costs
	// window memory (4 bytes per kept item) and needs HeadPairs; it is
	// the default because it measured better at every ε (benchmarks/
	// RESULTS.md, ablation).
	Keep int
	// ItemShare is the share of the budget spent on item counts, in
	// (0, 1), when pair counts are released too (or may be, with Auto);
	// the rest goes to pair counts, or with Auto to whichever of pairs and
	// a second popularity release it chooses. The shares are of what the
	// active-user count (Auto) and the category statistic (Categories)
	// leave; for Gaussian noise they are of ρ, for Laplace of ε. Without
	// pairs, item counts get all that is left. 0.5 when zero.
	ItemShare float64
	// Pairs chooses how pairs are selected; HeadPairs by default.
	Pairs PairSelection
	// SelectionDeltaShare is the share of Delta spent on thresholding
	// pairs, in (0, 1), with Gaussian noise and ThresholdPairs only; 0.5
	// when zero.
	SelectionDeltaShare float64
	// HeadSize is the number of head items with HeadPairs, in
	// [2, 20000]; 500 when zero (Auto may choose fewer).
	HeadSize int
	// Neighbors is how many neighbours per item the model keeps, in
	// [1, 10000]; 100 when zero.
	Neighbors int
	// Scoring tunes the post-processing (never what is released or what
	// it costs); the zero value is the measured best.
	Scoring ScoringOptions
	// Logger receives one line when the budget is debited and one when the
	// model is built (amounts and release IDs only); slog.Default() when
	// nil.
	Logger *slog.Logger
}

// ScoringOptions tune the post-processing that turns released counts into
// a model. They never change what is released or what it costs; the zero
// value is the measured best (benchmarks/RESULTS.md, ablation).
type ScoringOptions struct {
	// NoShrinkage keeps every positive residual pair count as evidence,
	// instead of the non-negative garrote at the noise's universal
	// threshold. For ablation benchmarks: a noisy model then recommends
	// noise.
	NoShrinkage bool
	// LocalFDR weighs each positive pair residual by the estimated chance
	// that it is signal, 1 − lfdr(z), instead of the garrote: weak pairs
	// count a little rather than not at all. lfdr(z) is a target-decoy
	// estimate (the standardized residuals near −z over those near z),
	// made non-increasing in z. It applies where pairThreshold uses its
	// decoys (σ ≥ 1); elsewhere the garrote stays. For ablation benchmarks:
	// it ranks with evidence it would not claim as "bought together".
	LocalFDR bool
	// UniversalThreshold puts the garrote at the universal threshold
	// sqrt(2·ln(h−1)) spreads (Donoho & Johnstone; issue 3's rule) instead
	// of the data-driven one (pairThreshold). For ablation benchmarks.
	UniversalThreshold bool
	// LowRank adds to the head pair evidence its low-rank part: broad
	// patterns of co-purchase that stand out of the noise as positive
	// eigencomponents of the standardized residual matrix, pooling the
	// evidence of all pairs among their items (see docs/DESIGN.md). It
	// measured far better on the synthetic shops (+33% NDCG@10 at ε = 1
	// with 100k users, level with the non-private model) and +1–3% at
	// ε ≤ 1 on the bootstrap shop, but it is off by default: on Online
	// Retail it lost 3–5% at ε ≥ 4, and the patterns it finds there
	// include the pull of heavy buyers towards all popular items, which
	// would be explained as "bought together" with no more co-purchase
	// than any two popular items have.
	LowRank bool
}

// OptionError reports an invalid field of Options.
type OptionError struct {
	Field  string
	Value  any
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("release: invalid %s = %v: %s", e.Field, e.Value, e.Reason)
}

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.K == 0 {
		o.K = defaultK
	}
	// A zero Keep stays zero: Private and Exact take the collector's.
	if o.ItemShare == 0 {
		o.ItemShare = defaultItemShare
	}
	if o.SelectionDeltaShare == 0 {
		o.SelectionDeltaShare = defaultSelectionDeltaShare
	}
	if o.HeadSize == 0 {
		o.HeadSize = defaultHeadSize
	}
	if o.Neighbors == 0 {
		o.Neighbors = defaultNeighbors
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports the first invalid field of o (after defaults) as an
// *OptionError.
func (o Options) Validate() error {
	o = o.WithDefaults()
	bad := func(field string, v any, why string) error { return &OptionError{field, v, why} }
	switch {
	case math.IsNaN(o.Epsilon) || math.IsInf(o.Epsilon, 0):
		return bad("Epsilon", o.Epsilon, "must be a finite number")
	case o.Epsilon <= 0:
		return bad("Epsilon", o.Epsilon, "must be > 0")
	case o.Epsilon > dp.MaxEpsilon:
		return bad("Epsilon", o.Epsilon, fmt.Sprintf("must be at most %d", dp.MaxEpsilon))
	case math.IsNaN(o.Delta) || math.IsInf(o.Delta, 0):
		return bad("Delta", o.Delta, "must be a finite number")
	case o.Delta < 0:
		return bad("Delta", o.Delta, "must be >= 0")
	case o.Delta >= 1:
		return bad("Delta", o.Delta, "must be < 1")
	}
	switch o.Noise {
	case dp.Gaussian:
		if o.Delta == 0 {
			return bad("Delta", o.Delta, "Gaussian noise needs Delta > 0 (use Laplace for pure ε-DP)")
		}
	case dp.Laplace:
		if o.Pairs == HeadPairs && o.Delta != 0 {
			return bad("Delta", o.Delta, "Laplace noise with head pairs is pure ε-DP; set Delta to 0")
		}
		if o.Pairs == ThresholdPairs && o.Delta == 0 {
			return bad("Delta", o.Delta, "thresholding pairs needs Delta > 0")
		}
	default:
		return bad("Noise", o.Noise, "unknown noise")
	}
	return o.validateShape()
}

// validateShape checks everything but the privacy parameters: what an exact
// (non-private) release uses too.
func (o Options) validateShape() error {
	bad := func(field string, v any, why string) error { return &OptionError{field, v, why} }
	if o.K < 1 || o.K > maxK {
		return bad("K", o.K, fmt.Sprintf("must be in [1, %d]", maxK))
	}
	if o.Keep != 0 && (o.Keep < o.K || o.Keep > maxK) {
		return bad("Keep", o.Keep, fmt.Sprintf("must be in [K, %d]", maxK))
	}
	if o.Keep > o.K && o.Pairs == ThresholdPairs {
		return bad("Keep", o.Keep, "weighting (Keep > K) needs head pairs: a threshold is calibrated to the pairs one user can create")
	}
	if math.IsNaN(o.ItemShare) || o.ItemShare <= 0 || o.ItemShare >= 1 {
		return bad("ItemShare", o.ItemShare, "must be in (0, 1)")
	}
	if o.Mechanisms&^allMechanisms != 0 {
		return bad("Mechanisms", o.Mechanisms, "unknown mechanism")
	}
	if o.Mechanisms != Auto && o.Mechanisms&Popularity == 0 {
		return bad("Mechanisms", o.Mechanisms, "every release includes Popularity")
	}
	if o.Mechanisms&Pairs != 0 && o.K == 1 {
		return bad("Mechanisms", o.Mechanisms, "pairs need K >= 2")
	}
	if o.Mechanisms == Auto && o.Pairs == ThresholdPairs {
		return bad("Pairs", o.Pairs, "Auto chooses between head pairs and popularity; ask for Popularity|Pairs to threshold pairs")
	}
	switch o.Pairs {
	case HeadPairs:
		if o.HeadSize < 2 || o.HeadSize > maxHeadSize {
			return bad("HeadSize", o.HeadSize, fmt.Sprintf("must be in [2, %d]", maxHeadSize))
		}
	case ThresholdPairs:
		if math.IsNaN(o.SelectionDeltaShare) || o.SelectionDeltaShare <= 0 || o.SelectionDeltaShare >= 1 {
			return bad("SelectionDeltaShare", o.SelectionDeltaShare, "must be in (0, 1)")
		}
	default:
		return bad("Pairs", o.Pairs, "unknown pair selection")
	}
	if o.Neighbors < 1 || o.Neighbors > maxNeighbors {
		return bad("Neighbors", o.Neighbors, fmt.Sprintf("must be in [1, %d]", maxNeighbors))
	}
	return nil
}

// pairsPerUser returns K(K−1)/2, the most pair counts one user can change.
func pairsPerUser(k int) int64 { return int64(k) * int64(k-1) / 2 }

// CollectKeep returns the Keep a collector for a release under o should
// use: Keep when set; otherwise K with ThresholdPairs (a threshold is
// calibrated to the pairs of K items), and defaultKeep (or K if larger)
// for everything else.
func (o Options) CollectKeep() int {
	o = o.WithDefaults()
	switch {
	case o.Keep != 0:
		return o.Keep
	case o.Pairs == ThresholdPairs:
		return o.K
	}
	return max(o.K, defaultKeep)
}

// withKeep resolves a zero Keep to what a collector kept (at least K).
func (o Options) withKeep(kept int) Options {
	if o.Keep == 0 {
		o.Keep = max(o.K, kept)
	}
	return o
}

// itemWeight returns what a user with n kept items adds to each of their
// item counts when contributions are bounded to the norm of k items: 1
// while n ≤ k, and otherwise sqrt(k/n) with Gaussian noise (L2 norm) or k/n
// with Laplace noise (L1 norm). A collector keeps at most Keep items per
// user, so with Keep == K nobody is weighted.
func itemWeight(n, k int, nz dp.Noise) float64 {
	if n <= k {
		return 1
	}
	w := float64(k) / float64(n)
	if nz == dp.Gaussian {
		w = math.Sqrt(w)
	}
	return w
}

// pairWeight is itemWeight for pair counts: a user with n items in the
// pair domain has n(n−1)/2 pairs, bounded to the norm of k items' pairs.
func pairWeight(n, k int, nz dp.Noise) float64 {
	if n <= k {
		return 1
	}
	w := float64(k) * float64(k-1) / (float64(n) * float64(n-1))
	if nz == dp.Gaussian {
		w = math.Sqrt(w)
	}
	return w
}
