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
// aggregation): it declares the noisy parts it releases, with their
// sensitivities and shares, for the plan and the report; and it releases
// them, drawing every part's noise from the counter the plan calibrated
// for it, then post-processes what was released.
type mechanism interface {
	// name is the mechanism's name in reports.
	name() string
	// parts are the statistics the mechanism releases under o.
	parts(o Options) []part
	// release computes the parts from b's state with b's counters and adds
	// the results to b.
	release(b *builder) error
}

// part is one noisy statistic a mechanism releases.
type part struct {
	spec   dp.PartSpec
	domain string // for the report: which values are released
}

// mechanisms returns the mechanisms a release under o runs, in order: each
// may use what the ones before it released.
func mechanisms(o Options) []mechanism {
	ms := []mechanism{popularity{}}
	if o.K > 1 {
		ms = append(ms, pairs{})
	}
	return ms
}

// Plan validates o and returns the calibration a release under o uses: one
// part per noisy statistic, each with its sensitivity, share of the budget,
// noise σ and cost, and what they spend together. Nothing is released.
func (o Options) Plan() (*dp.Plan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.WithDefaults()
	opts := dp.PlanOptions{Epsilon: o.Epsilon, Delta: o.Delta, Noise: o.Noise}
	for _, m := range mechanisms(o) {
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
		Note: fmt.Sprintf("window %s..%s, %v noise, %v pairs, K=%d%s",
			w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339),
			o.Noise, o.Pairs, o.K, keep),
	}, nil
}
