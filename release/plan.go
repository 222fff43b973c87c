package release

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/recommend"
)

// A mechanism is one way of turning a window's bounded state into released
// statistics and evidence for the model. Every mechanism has the same
// shape, one file each (as the DP library's dpagg has one file per
// aggregation): it declares the noisy parts it may release, with their
// sensitivities and shares, for the plan; and it releases them, drawing
// every part's noise from the counter the plan calibrated for it
// (builder.use, which also enters the part in the report), then
// post-processes what was released.
type mechanism interface {
	// name is the mechanism's name in reports.
	name() string
	// parts are the statistics the mechanism's plan charges for under o.
	parts(o Options) []part
	// release computes the parts from b's state with b's counters and adds
	// the results to b.
	release(b *builder) error
}

// part is one noisy statistic a mechanism releases.
type part struct {
	spec   dp.PartSpec
	domain string // for the report: which values are released
	// budget, when set, is the plan part whose budget this part spends,
	// with its own sensitivity (spec.L0, spec.LInf; dp.Counter.
	// WithSensitivity): a choice made after the debit, from released
	// values. Empty means the plan part named spec.Name.
	budget string
}

// Shares of the budget (of ρ for Gaussian noise, of ε for Laplace) that
// the small statistics take before ItemShare splits the rest.
const (
	basketsShare    = 0.03 // the basket statistics, with Auto
	categoriesShare = 0.08 // the category statistic
)

// mechanisms returns the mechanisms a release under o (defaults applied)
// over cat runs, in order: each may use what the ones before it released.
func mechanisms(o Options, cat *recommend.Catalog) []mechanism {
	set := o.Mechanisms
	auto := set == Auto
	if auto {
		set = Popularity
		if o.K > 1 {
			set |= Pairs // as a choice, not a certainty: see autoFlex
		}
		if len(cat.Categories()) >= 2 {
			set |= Categories
		}
	}
	rest := 1.0
	var ms []mechanism
	var bs mechanism
	if auto && set&Pairs != 0 {
		bs = baskets{share: basketsShare, heads: candidateHeads(o.HeadSize, cat.Len())}
		rest -= basketsShare
	}
	var cats mechanism
	if set&Categories != 0 {
		cats = categories{share: categoriesShare}
		rest -= categoriesShare
	}
	items := rest
	if set&Pairs != 0 {
		items = rest * o.ItemShare
	}
	ms = append(ms, popularity{share: items})
	if bs != nil {
		ms = append(ms, bs)
	}
	if cats != nil {
		ms = append(ms, cats)
	}
	switch {
	case set&Pairs == 0:
	case auto:
		ms = append(ms, autoFlex{share: rest - items})
	default:
		ms = append(ms, pairs{share: rest - items})
	}
	return ms
}

// Plan validates o and returns the calibration a release under o over the
// catalog cat uses: one part per noisy statistic, each with its
// sensitivity, share of the budget, noise σ and cost, and what they spend
// together. Nothing is released. With Auto, the part that goes to pairs or
// to a second popularity release is shown as pair counts at the largest
// sensitivity; whatever Auto chooses spends that part's budget, no more.
func (o Options) Plan(cat *recommend.Catalog) (*dp.Plan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := checkCatalog(o, cat); err != nil {
		return nil, err
	}
	return plan(o.WithDefaults(), mechanisms(o.WithDefaults(), cat))
}

// checkCatalog refuses mechanisms the catalog cannot support.
func checkCatalog(o Options, cat *recommend.Catalog) error {
	if cat == nil {
		return fmt.Errorf("release: a plan needs the catalog")
	}
	if o.Mechanisms&Categories != 0 && len(cat.Categories()) < 2 {
		return &OptionError{"Mechanisms", o.Mechanisms, fmt.Sprintf("categories need a catalog with at least two categories (it has %d)", len(cat.Categories()))}
	}
	return nil
}

// plan calibrates the parts of ms.
func plan(o Options, ms []mechanism) (*dp.Plan, error) {
	opts := dp.PlanOptions{Epsilon: o.Epsilon, Delta: o.Delta, Noise: o.Noise}
	for _, m := range ms {
		for _, p := range m.parts(o) {
			opts.Parts = append(opts.Parts, p.spec)
		}
	}
	return dp.NewPlan(opts)
}

// newCharge returns the ledger charge for releasing window w under plan,
// with a fresh random release ID.
func newCharge(plan *dp.Plan, o Options, w recommend.Window) (dp.Charge, error) {
	var rid [8]byte
	if _, err := rand.Read(rid[:]); err != nil {
		return dp.Charge{}, fmt.Errorf("release: release ID: %w", err)
	}
	keep := ""
	if o.Keep != o.K {
		keep = fmt.Sprintf(" (%d kept, weighted)", o.Keep)
	}
	return dp.Charge{
		Release: fmt.Sprintf("%x", rid),
		Cost:    plan.Cost,
		Epsilon: plan.Epsilon,
		Delta:   o.Delta,
		Note: fmt.Sprintf("window %s..%s, %v noise, %v, %v pairs, K=%d%s",
			w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339),
			o.Noise, o.Mechanisms, o.Pairs, o.K, keep),
	}, nil
}
