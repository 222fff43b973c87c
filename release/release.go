package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/recommend"
)

// Private ends col's window and releases it as a differentially private
// model: it debits the ledger for the plan of o first, then folds the
// window's bounded state into aggregates, adds noise with the DP library,
// post-processes, and wipes the state.
//
// Invalid options and a collector whose Keep differs from o's are refused
// before anything is debited. If the ledger refuses the debit, nothing is
// released and the window stays open with its state. If anything fails
// after the debit, the budget stays spent: a failed release loses budget,
// it never overspends.
func Private(ctx context.Context, col *collect.Collector, ledger dp.Ledger, o Options) (*recommend.Model, error) {
	if ledger == nil {
		return nil, errors.New("release: Private needs a ledger")
	}
	plan, err := o.Plan()
	if err != nil {
		return nil, err
	}
	o = o.WithDefaults()
	if err := checkKeep(o, col); err != nil {
		return nil, err
	}
	co := col.Options()
	w := co.Window
	charge, err := newCharge(plan, o, w)
	if err != nil {
		return nil, err
	}
	var charged dp.Charge
	st, err := col.Take(func() error {
		c, err := ledger.Debit(ctx, charge)
		charged = c
		return err
	})
	if errors.Is(err, collect.ErrWindowReleased) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("release: refused: %w", err)
	}
	defer st.Wipe()
	o.Logger.Info("privrec release: budget debited", "release", charged.Release, "epsilon", charged.Epsilon, "delta", charged.Delta)

	in := info{
		releaseID: charged.Release,
		at:        charged.At,
		window:    w,
		keyPeriod: col.KeyPeriod(),
		kinds:     co.Kinds,
	}
	if sum, err := ledger.Summary(charged.At); err == nil {
		in.ledger = &sum
	} else {
		o.Logger.Warn("privrec release: could not read the ledger's summary for the report", "error", err.Error())
	}
	b := newBuilder(col.Catalog(), o, plan)
	b.st = st
	m, err := b.run(in)
	if err != nil {
		return nil, fmt.Errorf("release: %s (budget spent): %w", charged.Release, err)
	}
	o.Logger.Info("privrec release: model built", "release", charged.Release, "items", m.Catalog().Len(), "neighbors", m.Report().Contents.Neighbors)
	return m, nil
}

// Exact ends col's window and builds a model from its exact counts, with no
// noise and no ledger: the ε = ∞ reference for benchmarks and equivalence
// tests. The model is NOT differentially private, its report says so, and
// it must never serve real users. Only the shape of o is used (K, Keep,
// pairs, head size, neighbours, scoring); Epsilon, Delta and Noise are
// ignored. Like Private, it wipes the window's state.
func Exact(col *collect.Collector, o Options) (*recommend.Model, error) {
	o = o.WithDefaults()
	if err := o.validateShape(); err != nil {
		return nil, err
	}
	if err := checkKeep(o, col); err != nil {
		return nil, err
	}
	st, err := col.Take(nil)
	if err != nil {
		return nil, err
	}
	defer st.Wipe()
	b := newBuilder(col.Catalog(), o, nil)
	b.st = st
	co := col.Options()
	return b.run(info{
		releaseID: "non-private",
		at:        time.Now(),
		window:    co.Window,
		keyPeriod: col.KeyPeriod(),
		kinds:     co.Kinds,
	})
}

func checkKeep(o Options, col *collect.Collector) error {
	kept := col.Options().Keep
	if o.Keep == kept {
		return nil
	}
	if o.Keep == o.K {
		return fmt.Errorf("release: K = %d, but the collector kept %d items per user (give Keep = %d to weight them, or collect with Keep = %d)", o.K, kept, kept, o.K)
	}
	return fmt.Errorf("release: Keep = %d, but the collector kept %d items per user", o.Keep, kept)
}

// info describes a release for its report.
type info struct {
	releaseID string
	at        time.Time
	window    recommend.Window
	keyPeriod time.Duration
	kinds     []events.Kind
	builtWith string      // the embedded default when empty
	ledger    *dp.Summary // the ledger right after the debit, when known
}

// builder runs a release's mechanisms over one window's state and
// assembles the model.
type builder struct {
	cat  *recommend.Catalog
	o    Options
	plan *dp.Plan // nil for an exact release
	st   *collect.State

	// What the mechanisms released and derived, in order.
	itemCounts []int64   // released users per catalog item
	pop        []float64 // itemCounts clamped at 0
	evidence   []recommend.Evidence
	values     map[string]int // per part: how many values were released

	// Test hooks. counters, when set, replaces the plan's counters;
	// observeItems and observePairs see the noisy counts as released,
	// before post-processing: the privacy audit tests them.
	counters     map[string]counter
	observeItems func(noisy []int64)
	observePairs func(head []uint32, noisy []int64) // head: catalog index of each head position
}

func newBuilder(cat *recommend.Catalog, o Options, plan *dp.Plan) *builder {
	return &builder{cat: cat, o: o, plan: plan, values: map[string]int{}}
}

// counter returns the noise of the named part.
func (b *builder) counter(name string) counter {
	if c, ok := b.counters[name]; ok {
		return c
	}
	if b.plan == nil {
		return exact{}
	}
	return b.plan.Part(name).Counter
}

// sigma returns the noise σ of the named part (0 for an exact release).
func (b *builder) sigma(name string) float64 { return b.counter(name).Sigma() }

// run releases every mechanism and assembles the model. Everything after
// each mechanism's noise is post-processing of DP outputs.
func (b *builder) run(in info) (*recommend.Model, error) {
	for _, m := range mechanisms(b.o) {
		if err := m.release(b); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name(), err)
		}
	}
	return b.assemble(in)
}

// assemble makes the model from what the mechanisms produced.
func (b *builder) assemble(in info) (*recommend.Model, error) {
	rep := b.report(in)
	if in.ledger != nil {
		rep.Ledger = ledgerReport(*in.ledger)
	}
	return recommend.NewModel(b.cat, b.pop, rep, b.evidence...)
}
