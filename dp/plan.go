package dp

import (
	"errors"
	"fmt"
	"math"
)

// MaxEpsilon is the largest ε a plan accepts: larger values give no
// meaningful protection and overflow e^ε.
const MaxEpsilon = 100

// ErrInvalidPlan is wrapped by every error of NewPlan about its options.
var ErrInvalidPlan = errors.New("dp: invalid plan")

// PartSpec describes one noisy statistic of a release: a set of values (for
// example "users per item", one value per catalog item) in which one user
// changes at most L0 values by at most LInf each.
type PartSpec struct {
	// Name identifies the part in the plan and in reports, e.g. "item
	// counts". It must be unique within a plan.
	Name string
	// L0 is how many of the part's values one user can change, >= 1.
	L0 int64
	// LInf is how much one user can change each value, finite and > 0. A
	// part released with integer noise (Counter.Noisy) needs an integral
	// LInf.
	LInf float64
	// Share is the part's share of the plan's budget, in (0, 1]: of ρ for
	// Gaussian noise, of ε for Laplace noise. The shares of a plan's parts
	// add up to 1.
	Share float64
	// ThresholdDelta, when > 0, makes the part a release over a private
	// domain (values exist only where some user contributed): only values
	// whose noisy value clears a threshold are released, and the threshold
	// spends this δ. It is taken out of the plan's Delta before the noise
	// is calibrated.
	ThresholdDelta float64
}

// PlanOptions are a release's total privacy parameters and its parts.
type PlanOptions struct {
	// Epsilon is the total ε of the release, in (0, MaxEpsilon].
	Epsilon float64
	// Delta is the total δ, in [0, 1). Gaussian noise needs more δ than the
	// parts' ThresholdDelta take.
	Delta float64
	// Noise is the noise distribution of every part; Gaussian by default.
	Noise Noise
	// Parts are the release's noisy statistics, at least one.
	Parts []PartSpec
}

// Part is one calibrated statistic of a Plan.
type Part struct {
	PartSpec
	// Counter draws the part's noise.
	*Counter
}

// Plan is the calibration of one release: a counter per part, and what they
// spend together.
type Plan struct {
	// Options are the validated options the plan was made from.
	Options PlanOptions
	// Parts are the calibrated parts, in the order of Options.Parts.
	Parts []Part
	// Cost is what the release spends: the sum of the parts' costs.
	Cost Cost
	// Epsilon is the ε that Cost is worth at Options.Delta: at most
	// Options.Epsilon, and equal to it up to the calibration's rounding.
	Epsilon float64
}

// Part returns the part with the given name, or nil.
func (p *Plan) Part(name string) *Part {
	for i := range p.Parts {
		if p.Parts[i].Name == name {
			return &p.Parts[i]
		}
	}
	return nil
}

func (o PlanOptions) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPlan, fmt.Sprintf(format, args...))
	}
	switch {
	case math.IsNaN(o.Epsilon) || o.Epsilon <= 0 || o.Epsilon > MaxEpsilon:
		return bad("ε = %v must be in (0, %d]", o.Epsilon, MaxEpsilon)
	case math.IsNaN(o.Delta) || o.Delta < 0 || o.Delta >= 1:
		return bad("δ = %v must be in [0, 1)", o.Delta)
	case o.Noise != Gaussian && o.Noise != Laplace:
		return bad("unknown noise %v", o.Noise)
	case len(o.Parts) == 0:
		return bad("no parts")
	}
	shares, thresholds := 0.0, 0.0
	seen := map[string]bool{}
	for _, s := range o.Parts {
		switch {
		case s.Name == "" || seen[s.Name]:
			return bad("part names must be non-empty and unique (%q)", s.Name)
		case checkSensitivity(s.L0, s.LInf) != nil:
			return bad("part %q: %v", s.Name, checkSensitivity(s.L0, s.LInf))
		case math.IsNaN(s.Share) || s.Share <= 0 || s.Share > 1:
			return bad("part %q: share %v must be in (0, 1]", s.Name, s.Share)
		case math.IsNaN(s.ThresholdDelta) || s.ThresholdDelta < 0 || s.ThresholdDelta >= 1:
			return bad("part %q: threshold δ %v must be in [0, 1)", s.Name, s.ThresholdDelta)
		}
		seen[s.Name] = true
		shares += s.Share
		thresholds += s.ThresholdDelta
	}
	if math.Abs(shares-1) > 1e-9 {
		return bad("the parts' shares add up to %v, not 1", shares)
	}
	if thresholds > o.Delta {
		return bad("thresholds spend δ = %g, more than the plan's δ = %g", thresholds, o.Delta)
	}
	if o.Noise == Gaussian && o.Delta-thresholds <= 0 {
		return bad("Gaussian noise needs δ > 0 beyond what thresholds spend (δ = %g, thresholds %g)", o.Delta, thresholds)
	}
	return nil
}

// NewPlan validates opts and calibrates a counter for every part, so that
// the parts together are (Epsilon, Delta)-differentially private.
//
// With Gaussian noise, the largest μ whose exact privacy curve meets
// (Epsilon, Delta − Σ ThresholdDelta) gives ρ = μ²/2, and each part gets
// μ_i = sqrt(2·Share·ρ): Gaussian mechanisms compose exactly, so the parts
// together are one Gaussian mechanism of μ. With Laplace noise each part
// gets Share·Epsilon. Each part's cost is computed from the standard
// deviation the DP library will use, and the plan refuses a calibration
// whose composed ε exceeds Epsilon.
func NewPlan(opts PlanOptions) (*Plan, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.Parts = append([]PartSpec(nil), opts.Parts...)
	plan := &Plan{Options: opts, Parts: make([]Part, len(opts.Parts))}
	var rho float64
	if opts.Noise == Gaussian {
		noiseDelta := opts.Delta
		for _, s := range opts.Parts {
			noiseDelta -= s.ThresholdDelta
		}
		mu := muForGaussian(opts.Epsilon, noiseDelta)
		rho = mu * mu / 2
	}
	for i, s := range opts.Parts {
		var c *Counter
		var err error
		switch opts.Noise {
		case Gaussian:
			c, err = newGaussianCounter(s.L0, s.LInf, math.Sqrt(2*rho*s.Share))
		case Laplace:
			c, err = newLaplaceCounter(s.L0, s.LInf, opts.Epsilon*s.Share)
		}
		if err == nil && s.ThresholdDelta > 0 {
			c, err = c.withThreshold(s.ThresholdDelta)
		}
		if err != nil {
			return nil, fmt.Errorf("dp: part %q: %w", s.Name, err)
		}
		plan.Parts[i] = Part{PartSpec: s, Counter: c}
		plan.Cost = plan.Cost.Add(c.Cost())
	}
	var err error
	if plan.Epsilon, err = plan.Cost.Epsilon(opts.Delta); err != nil {
		return nil, err
	}
	if plan.Epsilon > opts.Epsilon*(1+1e-9) {
		return nil, fmt.Errorf("dp: calibration spends ε = %v, more than the %v asked for", plan.Epsilon, opts.Epsilon)
	}
	return plan, nil
}
