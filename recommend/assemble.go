package recommend

import (
	"errors"
	"fmt"
	"time"

	"github.com/privrec/privrec/dp"
)

// ReleasedCounts are the noisy aggregates of one HeadPairs release that an
// engine other than Collector computed (privrec/beam computes them with
// Privacy on Beam). AssembleModel turns them into a Model with the same
// post-processing Collector.Release applies.
type ReleasedCounts struct {
	// Items holds, for every catalog item in catalog order, the noisy
	// number of users who kept it.
	Items []int64
	// Pairs holds, for every pair of HeadItems(Items, HeadSize), the noisy
	// number of users who kept both, keyed by PairKey. It must hold exactly
	// those pairs, and is empty when MaxItemsPerUser is 1.
	Pairs map[uint64]int64
}

// PairKey identifies the unordered pair of catalog indexes a and b.
func PairKey(a, b uint32) uint64 {
	if a > b {
		a, b = b, a
	}
	return uint64(a)<<32 | uint64(b)
}

// SplitPairKey returns the catalog indexes of a PairKey, smaller first.
func SplitPairKey(key uint64) (a, b uint32) { return uint32(key >> 32), uint32(key) }

// AssembleOptions describe a release whose counts were computed elsewhere.
type AssembleOptions struct {
	// Plan is the calibration the counts were noised with: the engine must
	// have drawn each item count's noise with Plan.Items and each pair
	// count's with Plan.Pairs (same mechanism, sensitivities and
	// Counter.LibraryParams), because the report states Plan's spend. Nil
	// means the counts are exact and the model is a non-private reference,
	// as from Collector.ReleaseNonPrivate.
	Plan *dp.Plan
	// Params gives K, HeadSize and Pairs when Plan is nil; ignored otherwise.
	Params dp.Params
	// ReleaseID and CreatedAt identify the release, normally from the
	// ledger's charge.
	ReleaseID string
	CreatedAt time.Time
	// Window is the release window the events came from.
	Window Window
	// KeyPeriod is the keyring's period length, for the report.
	KeyPeriod time.Duration
	// Kinds are the event kinds that were counted; all when empty.
	Kinds []Kind
	// Neighbors per item in the model; DefaultNeighbors when zero.
	Neighbors int
	// BuiltWith names the engine for the report, e.g. "privrec/beam
	// (prism runner)".
	BuiltWith string
	// Ledger, when set, is the ledger's state right after the debit, for
	// the report.
	Ledger *dp.Summary
	// Scoring tunes the post-processing, as CollectorOptions.Scoring.
	Scoring ScoringOptions
}

// AssembleModel builds a model from counts released by another engine. It
// checks that the counts fit the catalog and the plan's pair domain and
// returns an error otherwise; it never adds noise itself.
func AssembleModel(cat *Catalog, counts ReleasedCounts, opts AssembleOptions) (*Model, error) {
	if cat == nil {
		return nil, errors.New("recommend: assemble: nil catalog")
	}
	if err := opts.Window.Validate(); err != nil {
		return nil, fmt.Errorf("recommend: assemble: %w", err)
	}
	if opts.Neighbors == 0 {
		opts.Neighbors = DefaultNeighbors
	}
	if opts.Neighbors < 1 || opts.Neighbors > 10000 {
		return nil, fmt.Errorf("recommend: assemble: Neighbors = %d must be in [1, 10000]", opts.Neighbors)
	}
	var spec releaseSpec
	if opts.Plan != nil {
		spec = privateSpec(opts.Plan)
	} else {
		p := opts.Params.WithDefaults()
		check := p
		check.Epsilon, check.Delta, check.Mechanism = 1, 1e-6, dp.Gaussian
		if err := check.Validate(); err != nil {
			return nil, fmt.Errorf("recommend: assemble: %w", err)
		}
		spec = releaseSpec{params: p, items: exactCounter{}}
		if p.MaxItemsPerUser > 1 {
			spec.pairs = exactCounter{}
		}
	}
	if spec.params.KeepItems != spec.params.MaxItemsPerUser {
		return nil, fmt.Errorf("recommend: assemble: weighted contributions (KeepItems %d > MaxItemsPerUser %d) cannot be assembled", spec.params.KeepItems, spec.params.MaxItemsPerUser)
	}
	if spec.params.Pairs != dp.HeadPairs {
		return nil, fmt.Errorf("recommend: assemble: only head pairs can be assembled, not %v", spec.params.Pairs)
	}
	if len(counts.Items) != cat.Len() {
		return nil, fmt.Errorf("recommend: assemble: %d item counts for a catalog of %d items", len(counts.Items), cat.Len())
	}
	info := buildInfo{
		releaseID: opts.ReleaseID,
		at:        opts.CreatedAt,
		window:    opts.Window,
		neighbors: opts.Neighbors,
		keyPeriod: opts.KeyPeriod,
		builtWith: opts.BuiltWith,
		scoring:   opts.Scoring,
	}
	var err error
	if info.kinds, err = kindMask(opts.Kinds); err != nil {
		return nil, fmt.Errorf("recommend: assemble: %w", err)
	}

	pop := popularity(counts.Items)
	var ev evidence
	if spec.pairs == nil {
		if len(counts.Pairs) != 0 {
			return nil, fmt.Errorf("recommend: assemble: %d pair counts, but K = 1 releases none", len(counts.Pairs))
		}
	} else {
		head := HeadItems(counts.Items, spec.params.HeadSize)
		h := len(head)
		if want := h * (h - 1) / 2; len(counts.Pairs) != want {
			return nil, fmt.Errorf("recommend: assemble: %d pair counts, want the %d pairs of the %d head items", len(counts.Pairs), want, h)
		}
		tri := make([]int64, h*(h-1)/2)
		for x := 0; x < h; x++ {
			for y := x + 1; y < h; y++ {
				c, ok := counts.Pairs[PairKey(head[x], head[y])]
				if !ok {
					return nil, fmt.Errorf("recommend: assemble: no count for head pair (%s, %s)", cat.Item(int(head[x])).ID, cat.Item(int(head[y])).ID)
				}
				tri[triIndex(x, y, h)] = c
			}
		}
		ev = headEvidenceFrom(pop, head, tri, spec.pairs.Sigma(), opts.Scoring)
	}
	m := assemble(cat, pop, ev, spec, info)
	if opts.Ledger != nil {
		m.report.Ledger = ledgerReport(*opts.Ledger)
	}
	return m, nil
}
