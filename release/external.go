package release

import (
	"errors"
	"fmt"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/engine"
	"github.com/privrec/privrec/recommend"
)

func init() { engine.NewRelease = newEngineRelease }

// external is the release an engine computes itself (privrec/beam): see
// engine.Release, the interface it implements, and engine.NewRelease, its
// constructor.
type external struct {
	cat  *recommend.Catalog
	o    Options
	plan *dp.Plan // nil for an exact release
}

// newEngineRelease is engine.NewRelease: opts must be an Options.
func newEngineRelease(cat *recommend.Catalog, opts any, exact bool) (engine.Release, error) {
	o, ok := opts.(Options)
	if !ok {
		return nil, fmt.Errorf("release: engine release: options are a %T, not release.Options", opts)
	}
	o = o.WithDefaults().withKeep(o.K)
	if exact {
		if err := o.validateShape(); err != nil {
			return nil, err
		}
	} else if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := checkExternal(cat, o); err != nil {
		return nil, err
	}
	x := &external{cat: cat, o: o}
	if !exact {
		plan, err := o.Plan(cat)
		if err != nil {
			return nil, err
		}
		x.plan = plan
	}
	return x, nil
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
func (x *external) mechanisms() (popularity, *pairs) {
	ms := mechanisms(x.o, x.cat)
	pop := ms[0].(popularity)
	if len(ms) > 1 {
		p := ms[1].(pairs)
		return pop, &p
	}
	return pop, nil
}

func (x *external) Items() *dp.Counter { return x.counter(partItems) }

func (x *external) Pairs() *dp.Counter {
	if x.o.Mechanisms&Pairs == 0 {
		return nil
	}
	return x.counter(partPairs)
}

func (x *external) ReleasesPairs() bool { return x.o.Mechanisms&Pairs != 0 }

func (x *external) counter(part string) *dp.Counter {
	if x.plan == nil {
		return nil
	}
	return x.plan.Part(part).Counter
}

func (x *external) Charge(w recommend.Window) (dp.Charge, error) {
	if x.plan == nil {
		return dp.Charge{}, errors.New("release: an exact release is not charged")
	}
	return newCharge(x.plan, x.o, w)
}

func (x *external) Assemble(c engine.Counts, in engine.Info) (*recommend.Model, error) {
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
		head := headItems(c.Items, x.o.HeadSize)
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
