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
	o = o.WithDefaults().withKeep(col.Options().Keep)
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := checkKeep(o, col); err != nil {
		return nil, err
	}
	if err := checkCatalog(o, col.Catalog()); err != nil {
		return nil, err
	}
	plan, err := plan(o, mechanisms(o, col.Catalog()))
	if err != nil {
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
	if tookState != nil {
		tookState(st)
	}
	o.Logger.Info("privrec release: budget debited", "release", charged.Release, "epsilon", charged.Epsilon, "delta", charged.Delta)

	in := info{
		releaseID: charged.Release,
		chargeSeq: charged.Seq,
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
	o = o.WithDefaults().withKeep(col.Options().Keep)
	if err := o.validateShape(); err != nil {
		return nil, err
	}
	if err := checkKeep(o, col); err != nil {
		return nil, err
	}
	if err := checkCatalog(o, col.Catalog()); err != nil {
		return nil, err
	}
	st, err := col.Take(nil)
	if err != nil {
		return nil, err
	}
	defer st.Wipe()
	if tookState != nil {
		tookState(st)
	}
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

// tookState, when set by a test, sees the window state a release took from
// its collector; the test checks that the release wiped it.
var tookState func(*collect.State)

// info describes a release for its report.
type info struct {
	releaseID string
	at        time.Time
	window    recommend.Window
	keyPeriod time.Duration
	kinds     []events.Kind
	builtWith string      // the embedded default when empty
	ledger    *dp.Summary // the ledger right after the debit, when known
	chargeSeq uint64      // the sequence number of the release's charge, when known
}

// builder runs a release's mechanisms over one window's state and
// assembles the model.
type builder struct {
	cat  *recommend.Catalog
	o    Options
	plan *dp.Plan // nil for an exact release
	st   *collect.State

	// What the mechanisms released and derived, in order.
	activeUsers float64   // released users with a kept item (Auto)
	heads       []int     // Auto's candidate head sizes
	pairMass    []float64 // per candidate head, the released pair weight its users bring
	itemCounts  []int64   // released users per catalog item
	pop         []float64 // itemCounts clamped at 0
	itemSigma   float64   // the noise σ of itemCounts
	evidence    []recommend.Evidence
	values      map[string]int // per part: how many values were released
	used        []usedPart     // the parts released, in order
	notes       []string       // what the release chose and why
	threshold   float64        // the pair garrote's threshold, when pairs ran

	// Test hooks. counters, when set, replaces the plan's counters;
	// observe sees every part's noisy values as released, before
	// post-processing: the privacy audit tests them.
	counters map[string]counter
	observe  func(observation)
	// wrap, when set, replaces each part's counter by wrap(part, counter):
	// the audit's must-fail tests break the noise with it.
	wrap func(part string, c counter) counter
}

// observation is one part's noisy values, for the test hook.
type observation struct {
	part   string
	sigma  float64
	head   []uint32 // pair counts: the catalog index of each head position
	values []float64
}

// observed passes a part's noisy values to the test hook, if any.
func (b *builder) observed(part string, c counter, head []uint32, values []float64) {
	if b.observe != nil {
		b.observe(observation{part, c.Sigma(), head, values})
	}
}

func floats(xs []int64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// usedPart is a part a mechanism released, with the counter whose noise it
// got (nil for exact releases and test counters).
type usedPart struct {
	mechanism string
	part
	counter *dp.Counter
}

func newBuilder(cat *recommend.Catalog, o Options, plan *dp.Plan) *builder {
	return &builder{cat: cat, o: o, plan: plan, values: map[string]int{}}
}

// use returns the counter for part p, which mechanism mech is about to
// release, and enters the part in the report.
func (b *builder) use(mech string, p part) (counter, error) {
	c, dc, err := b.counterFor(p)
	if err != nil {
		return nil, err
	}
	b.used = append(b.used, usedPart{mech, p, dc})
	if b.wrap != nil {
		c = b.wrap(p.spec.Name, c)
	}
	return c, nil
}

// useOnly is use for a mechanism with one part.
func (b *builder) useOnly(m mechanism) (counter, error) { return b.use(m.name(), m.parts(b.o)[0]) }

// counterFor returns part p's counter: the plan's for the part, rescaled
// to p's sensitivity when p spends another part's budget.
func (b *builder) counterFor(p part) (counter, *dp.Counter, error) {
	if c, ok := b.counters[p.spec.Name]; ok {
		return c, nil, nil
	}
	if b.plan == nil {
		return exact{}, nil, nil
	}
	name := p.budget
	if name == "" {
		name = p.spec.Name
	}
	pp := b.plan.Part(name)
	if pp == nil {
		return nil, nil, fmt.Errorf("no part %q in the plan", name)
	}
	if p.budget == "" {
		return pp.Counter, pp.Counter, nil
	}
	c, err := pp.Counter.WithSensitivity(p.spec.L0, p.spec.LInf)
	if err != nil {
		return nil, nil, err
	}
	return c, c, nil
}

// sigma returns the noise σ of part p (0 for an exact release).
func (b *builder) sigma(p part) (float64, error) {
	c, _, err := b.counterFor(p)
	if err != nil {
		return 0, err
	}
	return c.Sigma(), nil
}

// note records, for the report, something the release chose and why.
func (b *builder) note(s string) { b.notes = append(b.notes, s) }

// run releases every mechanism and assembles the model. Everything after
// each mechanism's noise is post-processing of DP outputs.
func (b *builder) run(in info) (*recommend.Model, error) {
	for _, m := range mechanisms(b.o, b.cat) {
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
		rep.Ledger = ledgerReport(*in.ledger, in.chargeSeq)
	}
	return recommend.NewModel(b.cat, b.pop, rep, b.evidence...)
}
