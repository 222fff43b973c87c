package dp

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v2/noise"
)

// Counter adds noise to values in which one user changes at most L0 values
// by at most LInf each. NewPlan calibrates one per part; it is safe for
// concurrent use.
type Counter struct {
	noise      Noise
	nz         noise.Noise
	l0         int64
	lInf       float64
	eps, delta float64 // the parameters the DP library is called with
	sigma      float64 // standard deviation of the noise
	cost       Cost

	threshold     float64 // values over a private domain are kept iff noisy >= threshold
	thresholdCost float64 // δ that thresholding spends; 0 if never configured
}

func checkSensitivity(l0 int64, lInf float64) error {
	if l0 < 1 || !(lInf > 0) || math.IsInf(lInf, 0) {
		return fmt.Errorf("dp: sensitivities must be L0 >= 1 and finite LInf > 0 (L0 = %d, LInf = %v)", l0, lInf)
	}
	return nil
}

// newGaussianCounter returns a counter whose Gaussian noise has the given μ:
// the L2 sensitivity sqrt(L0)·LInf divided by the noise's standard deviation.
// Its Cost.Rho is μ²/2, computed from the standard deviation that the DP
// library will actually use (never smaller than asked for).
func newGaussianCounter(l0 int64, lInf float64, mu float64) (*Counter, error) {
	if err := checkSensitivity(l0, lInf); err != nil {
		return nil, err
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
	l2 := math.Sqrt(float64(l0)) * lInf
	sigma := noise.SigmaForGaussian(l0, lInf, eps, delta)
	return &Counter{
		noise: Gaussian, nz: noise.Gaussian(), l0: l0, lInf: lInf, eps: eps, delta: delta,
		sigma: sigma,
		cost:  Cost{Rho: l2 * l2 / (2 * sigma * sigma)},
	}, nil
}

// newLaplaceCounter returns a counter with Laplace noise that is ε-DP for the
// given sensitivities: scale L0·LInf/ε.
func newLaplaceCounter(l0 int64, lInf float64, eps float64) (*Counter, error) {
	if err := checkSensitivity(l0, lInf); err != nil {
		return nil, err
	}
	if !(eps >= math.Exp2(-40)) || eps > MaxEpsilon {
		return nil, fmt.Errorf("dp: ε = %v must be in [2^-40, %d]", eps, MaxEpsilon)
	}
	scale := float64(l0) * lInf / eps
	return &Counter{
		noise: Laplace, nz: noise.Laplace(), l0: l0, lInf: lInf, eps: eps,
		sigma: math.Sqrt2 * scale,
		cost:  Cost{PureEpsilon: eps, PureRho: eps * eps / 2},
	}, nil
}

// withThreshold returns a copy of c that also thresholds: a value over a
// private domain is released only if its noisy value is at least
// Threshold(), so that with probability at least 1 − delta no value that a
// single user created is released. The copy's Cost includes delta.
func (c *Counter) withThreshold(delta float64) (*Counter, error) {
	if !(delta > 0) || delta >= 1 {
		return nil, fmt.Errorf("dp: threshold δ = %v must be in (0, 1)", delta)
	}
	t, err := c.nz.Threshold(c.l0, c.lInf, c.eps, c.delta, delta)
	if err != nil {
		return nil, fmt.Errorf("dp: threshold: %w", err)
	}
	cc := *c
	cc.threshold = t
	cc.thresholdCost = delta
	cc.cost.Delta += delta
	return &cc, nil
}

// WithSensitivity returns a counter with the same privacy loss as c (the
// same μ for Gaussian noise, the same ε for Laplace) for values in which
// one user changes at most l0 values by at most lInf each: the noise
// scales with the new sensitivity, and the cost stays c's (never more).
// It lets a release choose a part's sensitivity from already-released
// values after the budget was debited. Counters that threshold cannot be
// rescaled.
func (c *Counter) WithSensitivity(l0 int64, lInf float64) (*Counter, error) {
	if c.thresholdCost != 0 {
		return nil, fmt.Errorf("dp: a thresholding counter cannot be rescaled")
	}
	var r *Counter
	var err error
	switch c.noise {
	case Gaussian:
		// The library rounds σ up by a hair; ask for a hair less μ so
		// that the rescaled cost stays within c's.
		r, err = newGaussianCounter(l0, lInf, math.Sqrt(2*c.cost.Rho)*(1-1e-9))
	case Laplace:
		r, err = newLaplaceCounter(l0, lInf, c.eps)
	default:
		err = fmt.Errorf("dp: unknown noise %v", c.noise)
	}
	if err != nil {
		return nil, err
	}
	if r.cost.Rho > c.cost.Rho || r.cost.PureEpsilon > c.cost.PureEpsilon {
		return nil, fmt.Errorf("dp: rescaling to L0 = %d, LInf = %v would cost %+v, more than %+v", l0, lInf, r.cost, c.cost)
	}
	return r, nil
}

// Noisy returns the count x plus fresh integer noise, drawn by the DP
// library in a way that is robust against floating-point attacks. It needs
// an integral LInf. The parameters were validated when c was built, so an
// error means a misuse or that the DP library changed its rules; the
// unnoised value is never returned.
func (c *Counter) Noisy(x int64) (int64, error) {
	if c.lInf != math.Trunc(c.lInf) || c.lInf > math.MaxInt32 {
		return 0, fmt.Errorf("dp: integer noise needs an integral LInf, not %v", c.lInf)
	}
	y, err := c.nz.AddNoiseInt64(x, c.l0, int64(c.lInf), c.eps, c.delta)
	if err != nil {
		return 0, fmt.Errorf("dp: add noise: %w", err)
	}
	return y, nil
}

// NoisyFloat returns x plus fresh noise. x must be a sum in which one
// user's contributions have at most the L2 norm (Gaussian) or L1 norm
// (Laplace) that L0 and LInf allow: weighted counts, or coordinates of
// vectors whose norm the caller bounds.
func (c *Counter) NoisyFloat(x float64) (float64, error) {
	y, err := c.nz.AddNoiseFloat64(x, c.l0, c.lInf, c.eps, c.delta)
	if err != nil {
		return 0, fmt.Errorf("dp: add noise: %w", err)
	}
	return y, nil
}

// Keep reports whether a noisy value over a private domain may be released.
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

// LibraryParams returns the ε and δ with which the counter calls the DP
// library's noise functions (δ is 0 for Laplace). An engine that draws the
// noise through the DP library itself (privrec/beam, through Privacy on
// Beam) passes these and Sensitivity to get noise of exactly Sigma; they
// are calibration inputs, not what the release spends (see Cost).
func (c *Counter) LibraryParams() (epsilon, delta float64) { return c.eps, c.delta }

// Sensitivity returns L0 and LInf.
func (c *Counter) Sensitivity() (l0 int64, lInf float64) { return c.l0, c.lInf }
