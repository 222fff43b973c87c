package release

import (
	"errors"
	"fmt"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/recommend"
)

// External is the entry point for an engine that computes a release's
// noisy counts itself (privrec/beam, with Privacy on Beam) and wants the
// same model as Private: the same calibration, the same head of items, the
// same post-processing, report and ledger charge. With collect.Gate at the
// door, it is all such an engine shares with the core.
//
// The engine must bound contributions exactly as a Collector does (each
// user's K distinct items of smallest keyed rank; privrec/beam shares the
// rule, internal/bottomk), count users per catalog item and per pair of the
// head items (HeadItems of the released item counts), and noise each count
// with the counter Items or Pairs gives (its Noisy, or the DP library
// called with the counter's sensitivity and LibraryParams), after debiting
// Charge.
//
// Only the mechanisms Popularity and Pairs (Options.Mechanisms
// Popularity|Pairs, or Popularity alone), with head pairs and unweighted
// items, are supported; NewExternal refuses the rest, including Auto, which
// adapts to the data in the middle of a release.
type External struct {
	cat  *recommend.Catalog
	o    Options
	plan *dp.Plan // nil for an exact release
}

// Counts are the noisy aggregates an engine released.
type Counts struct {
	// Items holds, for every catalog item in catalog order, the noisy
	// number of users who kept it.
	Items []int64
	// Pairs holds, for every pair of HeadItems(Items, HeadSize), the noisy
	// number of users who kept both, keyed by the pair's catalog indexes,
	// smaller first. It must hold exactly those pairs, and is empty when K
	// releases no pairs.
	Pairs map[[2]uint32]int64
}

// ExternalInfo describes an external release for its report.
type ExternalInfo struct {
	// ReleaseID and CreatedAt identify the release, normally from the
	// ledger's charge.
	ReleaseID string
	CreatedAt time.Time
	// Window is the release window the events came from.
	Window recommend.Window
	// KeyPeriod is the keyring's period length.
	KeyPeriod time.Duration
	// Kinds are the event kinds that were counted; all when empty.
	Kinds []events.Kind
	// BuiltWith names the engine, e.g. "privrec/beam (prism runner)".
	BuiltWith string
	// Ledger, when set, is the ledger's state right after the debit.
	Ledger *dp.Summary
}

// NewExternal calibrates a private release under o for an external engine.
func NewExternal(cat *recommend.Catalog, o Options) (*External, error) {
	o = o.WithDefaults().withKeep(o.K)
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := checkExternal(cat, o); err != nil {
		return nil, err
	}
	plan, err := o.Plan(cat)
	if err != nil {
		return nil, err
	}
	return &External{cat: cat, o: o, plan: plan}, nil
}

// NewExactExternal is NewExternal for an exact (non-private) reference
// release: no noise and no ledger, and a report that says so. Only the
// shape of o is used, as with Exact.
func NewExactExternal(cat *recommend.Catalog, o Options) (*External, error) {
	o = o.WithDefaults().withKeep(o.K)
	if err := o.validateShape(); err != nil {
		return nil, err
	}
	if err := checkExternal(cat, o); err != nil {
		return nil, err
	}
	return &External{cat: cat, o: o}, nil
}

// checkExternal refuses what an external engine cannot release.
func checkExternal(cat *recommend.Catalog, o Options) error {
	if cat == nil {
		return errors.New("release: external release needs a catalog")
	}
	if o.Mechanisms != Popularity|Pairs && o.Mechanisms != Popularity {
		return fmt.Errorf("release: mechanisms %v are not supported on Beam or other external engines, which release item and pair counts only: choose popularity+pairs or popularity", o.Mechanisms)
	}
	if o.Keep != o.K {
		return fmt.Errorf("release: weighted contributions (Keep %d > K %d) are not supported on Beam or other external engines: they bound each user's partitions and per-partition values, not the norm of their contribution", o.Keep, o.K)
	}
	if o.Pairs != HeadPairs {
		return fmt.Errorf("release: %v pair selection is not supported on Beam or other external engines; use head pairs (the default)", o.Pairs)
	}
	return nil
}

// mechanisms returns the external release's mechanisms.
func (x *External) mechanisms() (popularity, *pairs) {
	ms := mechanisms(x.o, x.cat)
	pop := ms[0].(popularity)
	if len(ms) > 1 {
		p := ms[1].(pairs)
		return pop, &p
	}
	return pop, nil
}

// Items returns the counter whose noise the users-per-item counts get (one
// user changes K of them by at most 1), or nil for an exact release.
func (x *External) Items() *dp.Counter { return x.counter(partItems) }

// Pairs returns the counter whose noise the users-per-head-pair counts get
// (one user changes K(K−1)/2 of them by at most 1), or nil for an exact
// release and for a release without Pairs.
func (x *External) Pairs() *dp.Counter {
	if x.o.Mechanisms&Pairs == 0 {
		return nil
	}
	return x.counter(partPairs)
}

// ReleasesPairs reports whether the release has pair counts: whether the
// engine must count and noise the pairs of the head items.
func (x *External) ReleasesPairs() bool { return x.o.Mechanisms&Pairs != 0 }

func (x *External) counter(part string) *dp.Counter {
	if x.plan == nil {
		return nil
	}
	return x.plan.Part(part).Counter
}

// Charge returns the ledger charge of the release of window w, with a fresh
// release ID. The engine debits it before it computes any noisy count.
func (x *External) Charge(w recommend.Window) (dp.Charge, error) {
	if x.plan == nil {
		return dp.Charge{}, errors.New("release: an exact release is not charged")
	}
	return newCharge(x.plan, x.o, w)
}

// Assemble builds the model from the counts the engine released, with the
// post-processing of Private. It checks that the counts fit the catalog and
// the head's pairs and returns an error otherwise; it never adds noise.
func (x *External) Assemble(c Counts, in ExternalInfo) (*recommend.Model, error) {
	if err := in.Window.Validate(); err != nil {
		return nil, fmt.Errorf("release: assemble: %w", err)
	}
	b := newBuilder(x.cat, x.o, x.plan)
	pop, pr := x.mechanisms()
	if _, err := b.useOnly(pop); err != nil {
		return nil, fmt.Errorf("release: assemble: %w", err)
	}
	if err := pop.use(b, c.Items); err != nil {
		return nil, fmt.Errorf("release: assemble: %w", err)
	}
	if pr == nil {
		if len(c.Pairs) != 0 {
			return nil, fmt.Errorf("release: assemble: %d pair counts, but the release has no pairs", len(c.Pairs))
		}
	} else {
		pc, err := b.useOnly(*pr)
		if err != nil {
			return nil, fmt.Errorf("release: assemble: %w", err)
		}
		head := HeadItems(c.Items, x.o.HeadSize)
		h := len(head)
		if want := h * (h - 1) / 2; len(c.Pairs) != want {
			return nil, fmt.Errorf("release: assemble: %d pair counts, want the %d pairs of the %d head items", len(c.Pairs), want, h)
		}
		tri := make([]int64, h*(h-1)/2)
		for i := 0; i < h; i++ {
			for j := i + 1; j < h; j++ {
				a, b := min(head[i], head[j]), max(head[i], head[j])
				n, ok := c.Pairs[[2]uint32{a, b}]
				if !ok {
					return nil, fmt.Errorf("release: assemble: no count for head pair (%s, %s)", x.cat.Item(int(head[i])).ID, x.cat.Item(int(head[j])).ID)
				}
				tri[triIndex(i, j, h)] = n
			}
		}
		if err := pr.useHead(b, head, tri, pc.Sigma()); err != nil {
			return nil, fmt.Errorf("release: assemble: %w", err)
		}
	}
	kinds := in.Kinds
	if len(kinds) == 0 {
		kinds = []events.Kind{events.KindView, events.KindCart, events.KindPurchase}
	}
	m, err := b.assemble(info{
		releaseID: in.ReleaseID, at: in.CreatedAt, window: in.Window,
		keyPeriod: in.KeyPeriod, kinds: kinds, builtWith: in.BuiltWith, ledger: in.Ledger,
	})
	if err != nil {
		return nil, fmt.Errorf("release: assemble: %w", err)
	}
	return m, nil
}

// HeadItems returns the catalog indexes of the size items with the largest
// released counts (negative counts as zero; ties by catalog index), most
// popular first: the items whose pairs a HeadPairs release counts. It is
// post-processing of DP output; an engine calls it to pick exactly the
// head Private would.
func HeadItems(itemCounts []int64, size int) []uint32 { return headItems(itemCounts, size) }
