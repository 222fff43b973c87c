package dp

import (
	"fmt"
	"math"
)

// Mechanism selects the noise distribution.
type Mechanism int

const (
	// Gaussian noise, calibrated to L2 sensitivity and accounted in zCDP.
	// Needs δ > 0. The default.
	Gaussian Mechanism = iota
	// Laplace noise, calibrated to L1 sensitivity: pure ε-DP when pairs are
	// released over public partitions (HeadPairs).
	Laplace
)

// String returns "gaussian" or "laplace".
func (m Mechanism) String() string {
	switch m {
	case Gaussian:
		return "gaussian"
	case Laplace:
		return "laplace"
	}
	return fmt.Sprintf("Mechanism(%d)", int(m))
}

// ParseMechanism parses the names String returns.
func ParseMechanism(s string) (Mechanism, error) {
	switch s {
	case "gaussian":
		return Gaussian, nil
	case "laplace":
		return Laplace, nil
	}
	return 0, fmt.Errorf("dp: unknown mechanism %q (want gaussian or laplace)", s)
}

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
	// costs δ (SelectionDeltaShare of Params.Delta).
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
	return 0, fmt.Errorf("dp: unknown pair selection %q (want head or threshold)", s)
}

// Limits on Params.
const (
	MaxEpsilon         = 100 // larger values give no meaningful protection and overflow e^ε
	MaxItemsPerUserCap = 256 // K; pairs per user grow as K², see PairsPerUser
	MaxHeadSize        = 20000
)

// Defaults applied by Params.WithDefaults to zero fields.
const (
	DefaultMaxItemsPerUser     = 16
	DefaultItemShare           = 0.5
	DefaultSelectionDeltaShare = 0.5
	DefaultHeadSize            = 500
)

// Params are the privacy parameters of one release: the release as a whole is
// user-level (Epsilon, Delta)-differentially private, where a user is one
// pseudonym in one release window.
//
// Zero values of MaxItemsPerUser, ItemShare, SelectionDeltaShare and HeadSize
// mean their defaults; call Validate (NewPlan does) before use.
type Params struct {
	// Epsilon is the total ε of the release, in (0, MaxEpsilon].
	Epsilon float64
	// Delta is the total δ, in [0, 1). Gaussian noise needs Delta > 0;
	// Laplace noise with HeadPairs needs Delta == 0 (pure ε-DP); Laplace noise
	// with ThresholdPairs spends all of Delta on selection. A common choice is
	// below 1/(number of users).
	Delta float64
	// Mechanism is the noise distribution; Gaussian by default.
	Mechanism Mechanism
	// MaxItemsPerUser (K) bounds how much one user contributes per window:
	// with KeepItems == K (the default) the collector keeps at most K
	// distinct items per user, and each user contributes to at most K item
	// counts and K(K-1)/2 pair counts, each by at most 1.
	MaxItemsPerUser int
	// KeepItems, when larger than MaxItemsPerUser, keeps up to KeepItems
	// items per user and weights them instead of discarding the surplus
	// (McSherry & Mironov 2009): a user with n kept items adds
	// min(1, sqrt(K/n)) to each item count and min(1, sqrt(K(K-1)/(n(n-1))))
	// to each pair count with Gaussian noise, so that their contribution has
	// at most the L2 norm of K items; with Laplace noise the weights are
	// min(1, K/n) and min(1, K(K-1)/(n(n-1))) (L1 norm). The noise is that
	// of K items; heavy users' signal is no longer sampled away. Zero means
	// MaxItemsPerUser. It costs window memory (KeepItems per user) and needs
	// HeadPairs.
	KeepItems int
	// ItemShare is the share of the budget spent on item counts, in (0, 1);
	// the rest goes to pair counts. For Gaussian noise the share is of ρ, for
	// Laplace of ε. With MaxItemsPerUser == 1 no pairs exist and item counts
	// get the whole budget.
	ItemShare float64
	// Pairs chooses how pairs are selected; HeadPairs by default.
	Pairs PairSelection
	// SelectionDeltaShare is the share of Delta spent on thresholding pairs,
	// in (0, 1), with Gaussian noise and ThresholdPairs only.
	SelectionDeltaShare float64
	// HeadSize is the number of head items with HeadPairs, in [2, MaxHeadSize].
	HeadSize int
}

// ParamError reports an invalid field of Params.
type ParamError struct {
	Field  string
	Value  any
	Reason string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("dp: invalid Params.%s = %v: %s", e.Field, e.Value, e.Reason)
}

// WithDefaults returns p with zero fields set to their defaults.
func (p Params) WithDefaults() Params {
	if p.MaxItemsPerUser == 0 {
		p.MaxItemsPerUser = DefaultMaxItemsPerUser
	}
	if p.KeepItems == 0 {
		p.KeepItems = p.MaxItemsPerUser
	}
	if p.ItemShare == 0 {
		p.ItemShare = DefaultItemShare
	}
	if p.SelectionDeltaShare == 0 {
		p.SelectionDeltaShare = DefaultSelectionDeltaShare
	}
	if p.HeadSize == 0 {
		p.HeadSize = DefaultHeadSize
	}
	return p
}

// Validate reports the first invalid field of p (after defaults) as a
// *ParamError.
func (p Params) Validate() error {
	p = p.WithDefaults()
	bad := func(field string, v any, why string) error { return &ParamError{field, v, why} }
	switch {
	case math.IsNaN(p.Epsilon) || math.IsInf(p.Epsilon, 0):
		return bad("Epsilon", p.Epsilon, "must be a finite number")
	case p.Epsilon <= 0:
		return bad("Epsilon", p.Epsilon, "must be > 0")
	case p.Epsilon > MaxEpsilon:
		return bad("Epsilon", p.Epsilon, fmt.Sprintf("must be at most %d", MaxEpsilon))
	case math.IsNaN(p.Delta) || math.IsInf(p.Delta, 0):
		return bad("Delta", p.Delta, "must be a finite number")
	case p.Delta < 0:
		return bad("Delta", p.Delta, "must be >= 0")
	case p.Delta >= 1:
		return bad("Delta", p.Delta, "must be < 1")
	}
	switch p.Mechanism {
	case Gaussian:
		if p.Delta == 0 {
			return bad("Delta", p.Delta, "Gaussian noise needs Delta > 0 (use Laplace for pure ε-DP)")
		}
	case Laplace:
		if p.Pairs == HeadPairs && p.Delta != 0 {
			return bad("Delta", p.Delta, "Laplace noise with head pairs is pure ε-DP; set Delta to 0")
		}
		if p.Pairs == ThresholdPairs && p.Delta == 0 {
			return bad("Delta", p.Delta, "thresholding pairs needs Delta > 0")
		}
	default:
		return bad("Mechanism", p.Mechanism, "unknown mechanism")
	}
	if p.MaxItemsPerUser < 1 || p.MaxItemsPerUser > MaxItemsPerUserCap {
		return bad("MaxItemsPerUser", p.MaxItemsPerUser, fmt.Sprintf("must be in [1, %d]", MaxItemsPerUserCap))
	}
	if p.KeepItems < p.MaxItemsPerUser || p.KeepItems > MaxItemsPerUserCap {
		return bad("KeepItems", p.KeepItems, fmt.Sprintf("must be in [MaxItemsPerUser, %d]", MaxItemsPerUserCap))
	}
	if p.KeepItems > p.MaxItemsPerUser && p.Pairs == ThresholdPairs {
		return bad("KeepItems", p.KeepItems, "weighting (KeepItems > MaxItemsPerUser) needs head pairs: a threshold is calibrated to the pairs one user can create")
	}
	if math.IsNaN(p.ItemShare) || p.ItemShare <= 0 || p.ItemShare >= 1 {
		return bad("ItemShare", p.ItemShare, "must be in (0, 1)")
	}
	switch p.Pairs {
	case HeadPairs:
		if p.HeadSize < 2 || p.HeadSize > MaxHeadSize {
			return bad("HeadSize", p.HeadSize, fmt.Sprintf("must be in [2, %d]", MaxHeadSize))
		}
	case ThresholdPairs:
		if math.IsNaN(p.SelectionDeltaShare) || p.SelectionDeltaShare <= 0 || p.SelectionDeltaShare >= 1 {
			return bad("SelectionDeltaShare", p.SelectionDeltaShare, "must be in (0, 1)")
		}
	default:
		return bad("Pairs", p.Pairs, "unknown pair selection")
	}
	return nil
}

// PairsPerUser returns K(K-1)/2, the most pair counts one user can change.
func PairsPerUser(k int) int64 { return int64(k) * int64(k-1) / 2 }

// Weights returns what a user with n kept items adds to each of their item
// counts and pair counts under p (defaults applied): 1 and 1 while n ≤ K or
// KeepItems == K, and otherwise the weights that bound the user's
// contribution to the norm of K items (see Params.KeepItems).
func (p Params) Weights(n int) (item, pair float64) {
	p = p.WithDefaults()
	k, fn := float64(p.MaxItemsPerUser), float64(n)
	if p.KeepItems == p.MaxItemsPerUser || n <= p.MaxItemsPerUser {
		return 1, 1
	}
	item = k / fn
	pair = k * (k - 1) / (fn * (fn - 1))
	if p.Mechanism == Gaussian {
		item, pair = math.Sqrt(item), math.Sqrt(pair)
	}
	return item, pair
}
