package dp

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v2/noise"
)

// Counter adds noise to int64 counts in which one user changes at most L0
// counts by at most LInf each. It is calibrated once, by NewPlan or
// NewGaussianCounter/NewLaplaceCounter, and is safe for concurrent use.
type Counter struct {
	mech       Mechanism
	nz         noise.Noise
	l0, lInf   int64
	eps, delta float64 // the parameters the DP library is called with
	sigma      float64 // standard deviation of the noise
	cost       Cost

	threshold     float64 // counts over a private domain are kept iff noisy >= threshold
	thresholdCost float64 // δ that thresholding spends; 0 if never configured
}

// NewGaussianCounter returns a counter whose Gaussian noise has the given μ:
// the L2 sensitivity sqrt(L0)·LInf divided by the noise's standard deviation.
// Its Cost.Rho is μ²/2, computed from the standard deviation that the DP
// library will actually use (never smaller than asked for).
func NewGaussianCounter(l0, lInf int64, mu float64) (*Counter, error) {
	if l0 < 1 || lInf < 1 {
		return nil, fmt.Errorf("dp: sensitivities must be >= 1 (L0 = %d, LInf = %d)", l0, lInf)
	}
	if !(mu > 0) || math.IsInf(mu, 0) {
		return nil, fmt.Errorf("dp: μ = %v must be a finite number > 0", mu)
	}
	// The library calibrates σ from (ε, δ); any point on the mechanism's
	// privacy curve names the same σ. Pick δ so that ε is well inside the
	// library's accepted range.
	delta := 1e-6
	if d0 := gaussianDelta(mu, 0); d0 <= delta {
		delta = d0 / 2
	}
	eps := epsilonFromGaussian(mu, delta)
	if eps < math.Exp2(-40) || eps > MaxEpsilon*5 || delta < 1e-300 {
		return nil, fmt.Errorf("dp: μ = %v is outside the range the Gaussian mechanism supports", mu)
	}
	l2 := math.Sqrt(float64(l0)) * float64(lInf)
	sigma := noise.SigmaForGaussian(l0, float64(lInf), eps, delta)
	return &Counter{
		mech: Gaussian, nz: noise.Gaussian(), l0: l0, lInf: lInf, eps: eps, delta: delta,
		sigma: sigma,
		cost:  Cost{Rho: l2 * l2 / (2 * sigma * sigma)},
	}, nil
}

// NewLaplaceCounter returns a counter with Laplace noise that is ε-DP for the
// given sensitivities: scale L0·LInf/ε.
func NewLaplaceCounter(l0, lInf int64, eps float64) (*Counter, error) {
	if l0 < 1 || lInf < 1 {
		return nil, fmt.Errorf("dp: sensitivities must be >= 1 (L0 = %d, LInf = %d)", l0, lInf)
	}
	if !(eps >= math.Exp2(-40)) || eps > MaxEpsilon {
		return nil, fmt.Errorf("dp: ε = %v must be in [2^-40, %d]", eps, MaxEpsilon)
	}
	scale := float64(l0*lInf) / eps
	return &Counter{
		mech: Laplace, nz: noise.Laplace(), l0: l0, lInf: lInf, eps: eps,
		sigma: math.Sqrt2 * scale,
		cost:  Cost{PureEpsilon: eps, PureRho: eps * eps / 2},
	}, nil
}

// WithThreshold returns a copy of c that also thresholds: a count over a
// private domain is released only if its noisy value is at least
// Threshold(), so that with probability at least 1 − delta no count that a
// single user created is released. The copy's Cost includes delta.
func (c *Counter) WithThreshold(delta float64) (*Counter, error) {
	if !(delta > 0) || delta >= 1 {
		return nil, fmt.Errorf("dp: threshold δ = %v must be in (0, 1)", delta)
	}
	t, err := c.nz.Threshold(c.l0, float64(c.lInf), c.eps, c.delta, delta)
	if err != nil {
		return nil, fmt.Errorf("dp: threshold: %w", err)
	}
	cc := *c
	cc.threshold = t
	cc.thresholdCost = delta
	cc.cost.Delta += delta
	return &cc, nil
}

// Noisy returns x plus fresh noise. The parameters were validated when c was
// built, so an error means the DP library changed its rules; the unnoised
// value is never returned.
func (c *Counter) Noisy(x int64) (int64, error) {
	y, err := c.nz.AddNoiseInt64(x, c.l0, c.lInf, c.eps, c.delta)
	if err != nil {
		return 0, fmt.Errorf("dp: add noise: %w", err)
	}
	return y, nil
}

// NoisyRounded returns a weighted count x plus fresh noise, rounded to an
// integer (post-processing). The noise is the counter's: x must be a sum in
// which one user's contributions have at most the L2 norm (Gaussian) or L1
// norm (Laplace) that L0 and LInf allow, as Params.Weights ensures.
func (c *Counter) NoisyRounded(x float64) (int64, error) {
	y, err := c.nz.AddNoiseFloat64(x, c.l0, float64(c.lInf), c.eps, c.delta)
	if err != nil {
		return 0, fmt.Errorf("dp: add noise: %w", err)
	}
	return int64(math.Round(y)), nil
}

// NoisyAll replaces every count in xs with a noisy count, zeros included:
// the release over a public domain. On error xs is zeroed.
func (c *Counter) NoisyAll(xs []int64) error {
	for i, x := range xs {
		y, err := c.Noisy(x)
		if err != nil {
			clear(xs)
			return err
		}
		xs[i] = y
	}
	return nil
}

// Keep reports whether a noisy count over a private domain may be released.
// It is always true for a counter without threshold.
func (c *Counter) Keep(noisy int64) bool {
	return c.thresholdCost == 0 || float64(noisy) >= c.threshold
}

// Threshold returns the release threshold, or 0 for a counter without one.
func (c *Counter) Threshold() float64 { return c.threshold }

// Sigma returns the standard deviation of the noise.
func (c *Counter) Sigma() float64 { return c.sigma }

// Cost returns what each full use of the counter spends (one noisy value per
// count, each user touching at most L0 counts).
func (c *Counter) Cost() Cost { return c.cost }

// Mechanism returns the noise distribution.
func (c *Counter) Mechanism() Mechanism { return c.mech }

// LibraryParams returns the ε and δ with which the counter calls the DP
// library's noise functions (δ is 0 for Laplace). An engine that draws the
// noise through the DP library itself (privrec/beam, through Privacy on
// Beam) passes these and Sensitivity to get noise of exactly Sigma; they
// are calibration inputs, not what the release spends (see Cost).
func (c *Counter) LibraryParams() (epsilon, delta float64) { return c.eps, c.delta }

// Sensitivity returns L0 and LInf.
func (c *Counter) Sensitivity() (l0, lInf int64) { return c.l0, c.lInf }

// Plan is the calibration of one release: a counter for item counts and one
// for pair counts, and what they spend together.
type Plan struct {
	// Params are the validated parameters, defaults filled in.
	Params Params
	// Items noises the count of users per catalog item (L0 = K, LInf = 1).
	Items *Counter
	// Pairs noises the count of users per item pair (L0 = K(K-1)/2,
	// LInf = 1), with a threshold under ThresholdPairs. Nil when K == 1.
	Pairs *Counter
	// Cost is what the release spends: Items.Cost() + Pairs.Cost().
	Cost Cost
	// Epsilon is the ε that Cost is worth at Params.Delta: at most
	// Params.Epsilon, and equal to it up to the calibration's rounding.
	Epsilon float64
}

// NewPlan validates p and calibrates its mechanisms.
func NewPlan(p Params) (*Plan, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.WithDefaults()
	k := int64(p.MaxItemsPerUser)
	pairL0 := PairsPerUser(p.MaxItemsPerUser)
	itemShare := p.ItemShare
	if pairL0 == 0 {
		itemShare = 1
	}
	plan := &Plan{Params: p}
	var err error
	switch p.Mechanism {
	case Gaussian:
		noiseDelta, selDelta := p.Delta, 0.0
		if p.Pairs == ThresholdPairs && pairL0 > 0 {
			selDelta = p.Delta * p.SelectionDeltaShare
			noiseDelta = p.Delta - selDelta
		}
		rho := muForGaussian(p.Epsilon, noiseDelta)
		rho = rho * rho / 2
		if plan.Items, err = NewGaussianCounter(k, 1, math.Sqrt(2*rho*itemShare)); err != nil {
			return nil, fmt.Errorf("dp: item counter: %w", err)
		}
		if pairL0 > 0 {
			if plan.Pairs, err = NewGaussianCounter(pairL0, 1, math.Sqrt(2*rho*(1-itemShare))); err != nil {
				return nil, fmt.Errorf("dp: pair counter: %w", err)
			}
			if selDelta > 0 {
				if plan.Pairs, err = plan.Pairs.WithThreshold(selDelta); err != nil {
					return nil, err
				}
			}
		}
	case Laplace:
		if plan.Items, err = NewLaplaceCounter(k, 1, p.Epsilon*itemShare); err != nil {
			return nil, fmt.Errorf("dp: item counter: %w", err)
		}
		if pairL0 > 0 {
			if plan.Pairs, err = NewLaplaceCounter(pairL0, 1, p.Epsilon*(1-itemShare)); err != nil {
				return nil, fmt.Errorf("dp: pair counter: %w", err)
			}
			if p.Pairs == ThresholdPairs {
				if plan.Pairs, err = plan.Pairs.WithThreshold(p.Delta); err != nil {
					return nil, err
				}
			}
		}
	}
	plan.Cost = plan.Items.Cost()
	if plan.Pairs != nil {
		plan.Cost = plan.Cost.Add(plan.Pairs.Cost())
	}
	if plan.Epsilon, err = plan.Cost.Epsilon(p.Delta); err != nil {
		return nil, err
	}
	if plan.Epsilon > p.Epsilon*(1+1e-9) {
		return nil, fmt.Errorf("dp: calibration spends ε = %v, more than the %v asked for", plan.Epsilon, p.Epsilon)
	}
	return plan, nil
}
