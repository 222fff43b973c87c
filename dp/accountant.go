package dp

import (
	"errors"
	"fmt"
	"math"
)

// Cost is what one or more mechanisms spent, in units that compose by
// addition. The zero Cost spent nothing.
type Cost struct {
	// Rho is the zero-concentrated DP parameter ρ of the Gaussian mechanisms:
	// Δ₂²/(2σ²) each.
	Rho float64 `json:"rho"`
	// PureEpsilon is the sum of the ε of the pure-DP (Laplace) mechanisms.
	PureEpsilon float64 `json:"pure_epsilon"`
	// PureRho is the same mechanisms in zCDP terms (ε²/2 each), which
	// composes better than PureEpsilon over many releases.
	PureRho float64 `json:"pure_rho"`
	// Delta is the δ that adds up outside the noise, from thresholding.
	Delta float64 `json:"delta"`
}

// Add returns the composition of c and o.
func (c Cost) Add(o Cost) Cost {
	return Cost{
		Rho:         c.Rho + o.Rho,
		PureEpsilon: c.PureEpsilon + o.PureEpsilon,
		PureRho:     c.PureRho + o.PureRho,
		Delta:       c.Delta + o.Delta,
	}
}

// errDeltaTooSmall is returned by Cost.Epsilon when δ does not exceed the
// δ already spent by thresholding.
var errDeltaTooSmall = errors.New("dp: δ is not larger than the δ spent on thresholding")

// Epsilon returns the smallest ε for which c is (ε, delta)-DP, by the best of
// the conversions that are valid for c:
//
//   - all Gaussian: the exact privacy curve of a Gaussian mechanism with
//     μ = sqrt(2ρ) (Balle & Wang 2018; Dong, Roth & Su 2019), which is tight
//     because Gaussian mechanisms compose exactly;
//   - otherwise: basic composition of the pure part with the Gaussian curve,
//     and the zCDP conversion of Canonne, Kamath & Steinke (2020) applied to
//     Rho + PureRho; whichever is smaller.
//
// The δ spent by thresholding (c.Delta) is subtracted from delta first.
func (c Cost) Epsilon(delta float64) (float64, error) {
	if math.IsNaN(delta) || delta < 0 || delta >= 1 {
		return 0, fmt.Errorf("dp: δ = %v must be in [0, 1)", delta)
	}
	if delta < c.Delta {
		return 0, fmt.Errorf("%w (δ = %g, thresholding spent %g)", errDeltaTooSmall, delta, c.Delta)
	}
	d := delta - c.Delta
	switch {
	case c.Rho == 0:
		eps := c.PureEpsilon
		if d > 0 && c.PureRho > 0 {
			eps = math.Min(eps, epsilonFromZCDP(c.PureRho, d))
		}
		return eps, nil
	case d == 0:
		return math.Inf(1), nil // Gaussian noise is never pure ε-DP
	case c.PureEpsilon == 0:
		return epsilonFromGaussian(math.Sqrt(2*c.Rho), d), nil
	default:
		basic := c.PureEpsilon + epsilonFromGaussian(math.Sqrt(2*c.Rho), d)
		return math.Min(basic, epsilonFromZCDP(c.Rho+c.PureRho, d)), nil
	}
}

// phi is the standard normal CDF.
func phi(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// gaussianDelta is the tight δ(ε) of a Gaussian mechanism whose sensitivity is
// μ standard deviations: Φ(μ/2 − ε/μ) − e^ε·Φ(−μ/2 − ε/μ).
func gaussianDelta(mu, eps float64) float64 {
	a := mu/2 - eps/mu
	b := -mu/2 - eps/mu
	second := 0.0
	if pb := phi(b); pb > 0 {
		second = math.Exp(eps + math.Log(pb))
	}
	return math.Max(0, phi(a)-second)
}

// epsilonFromGaussian returns the smallest ε ≥ 0 with gaussianDelta(μ, ε) ≤ δ,
// rounded up (never below the true value by more than 1e-12 relative).
func epsilonFromGaussian(mu, delta float64) float64 {
	if mu <= 0 {
		return 0
	}
	if gaussianDelta(mu, 0) <= delta {
		return 0
	}
	lo, hi := 0.0, 1.0
	for gaussianDelta(mu, hi) > delta {
		lo, hi = hi, hi*2
		if hi > 1e6 {
			return math.Inf(1)
		}
	}
	_, hi = bisect(lo, hi, func(eps float64) bool { return gaussianDelta(mu, eps) > delta })
	return hi
}

// bisect narrows [lo, hi], where below(lo) holds and below(hi) does not, to a
// relative width of 1e-13 and returns the final bracket.
func bisect(lo, hi float64, below func(float64) bool) (float64, float64) {
	for range 200 {
		mid := (lo + hi) / 2
		if below(mid) {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-13*hi {
			break
		}
	}
	return lo, hi
}

// muForGaussian returns the largest μ with gaussianDelta(μ, ε) ≤ δ (rounded
// down): the most signal a Gaussian mechanism may have at (ε, δ).
func muForGaussian(eps, delta float64) float64 {
	lo, hi := 0.0, 1.0
	for gaussianDelta(hi, eps) <= delta {
		lo, hi = hi, hi*2
	}
	lo, _ = bisect(lo, hi, func(mu float64) bool { return gaussianDelta(mu, eps) <= delta })
	return lo
}

// epsilonFromZCDP converts ρ-zCDP to (ε, δ)-DP with the smaller of
// Bun & Steinke (2016), ε = ρ + 2·sqrt(ρ·ln(1/δ)), and Canonne, Kamath &
// Steinke (2020, Prop. 12), minimized over the Rényi order α > 1:
// ε = αρ + ln(α−1) − α·ln(α)/(α−1) + ln(1/δ)/(α−1).
func epsilonFromZCDP(rho, delta float64) float64 {
	if rho <= 0 {
		return 0
	}
	l := math.Log(1 / delta)
	best := rho + 2*math.Sqrt(rho*l)
	cks := func(a float64) float64 {
		return a*rho + math.Log(a-1) - a*math.Log(a)/(a-1) + l/(a-1)
	}
	// The CKS bound is unimodal in log(α-1); golden-section search on it.
	lo, hi := math.Log(1e-6), math.Log(1e7)
	const g = 0.6180339887498949
	x1, x2 := hi-g*(hi-lo), lo+g*(hi-lo)
	f1, f2 := cks(1+math.Exp(x1)), cks(1+math.Exp(x2))
	for range 200 {
		if f1 < f2 {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - g*(hi-lo)
			f1 = cks(1 + math.Exp(x1))
		} else {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + g*(hi-lo)
			f2 = cks(1 + math.Exp(x2))
		}
	}
	if f := math.Min(f1, f2); f < best {
		best = f
	}
	return best
}
