package engine

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// A Gate is the door of collection without the collector, for an engine
// that groups a window's events per pseudonym itself: Admit checks a raw
// event (item in the catalog, kind collected, time in the window) and
// returns its subject's pseudonym and the item's catalog index, with the
// same errors as collect.Collector.Add, which never contain the user ID or
// its pseudonym. A Gate collects nothing and is safe for concurrent use.
type Gate interface {
	Admit(e events.Event) (pseudonym.ID, uint32, error)
}

// A Release is a private (or exact) release whose noisy counts an engine
// computes itself, assembled into the same model as release.Private's:
// the same calibration, head of items, post-processing, report and ledger
// charge.
//
// The engine must bound contributions exactly as a collect.Collector does
// (each user's K distinct items of smallest keyed rank; the rule is
// internal/bottomk), count users per catalog item and per pair of the head
// items (HeadItems of the released item counts), and noise each count with
// the counter Items or Pairs gives (its Noisy, or the DP library called
// with the counter's Sensitivity and LibraryParams), after debiting Charge.
type Release interface {
	// Items returns the counter whose noise the users-per-item counts get
	// (one user changes K of them by at most 1), or nil for an exact
	// release.
	Items() *dp.Counter
	// Pairs returns the counter whose noise the users-per-head-pair counts
	// get (one user changes K(K−1)/2 of them by at most 1), or nil for an
	// exact release and for a release without pairs.
	Pairs() *dp.Counter
	// ReleasesPairs reports whether the engine must count and noise the
	// pairs of the head items.
	ReleasesPairs() bool
	// Charge returns the ledger charge of the release of window w, with a
	// fresh release ID. The engine debits it before it computes any noisy
	// count; an exact release has none.
	Charge(w recommend.Window) (dp.Charge, error)
	// Assemble builds the model from the counts the engine released, with
	// release.Private's post-processing. It checks that the counts fit the
	// catalog and the head's pairs; it never adds noise.
	Assemble(c Counts, in Info) (*recommend.Model, error)
}

// Counts are the noisy aggregates an engine released.
type Counts struct {
	// Items holds, for every catalog item in catalog order, the noisy
	// number of users who kept it.
	Items []int64
	// Pairs holds, for every pair of HeadItems(Items, HeadSize), the noisy
	// number of users who kept both, keyed by the pair's catalog indexes,
	// smaller first. It must hold exactly those pairs, and is empty when
	// the release has no pairs.
	Pairs map[[2]uint32]int64
}

// Info describes an engine's release for its report.
type Info struct {
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

// ErrNotLinked reports a call to an entry point whose implementing package
// (collect or release) is not linked into the program.
var ErrNotLinked = errors.New("engine: the core package that implements this entry point is not linked")

// The implementations, installed by the packages that own them.
var (
	// NewGate returns a gate for the window and event kinds of opts, a
	// collect.Options (its Keep, SampleKey and StateDir play no part), and
	// the keyring kr. Installed by collect.
	NewGate func(cat *recommend.Catalog, opts any, kr *pseudonym.Keyring) (Gate, error) = func(*recommend.Catalog, any, *pseudonym.Keyring) (Gate, error) {
		return nil, ErrNotLinked
	}
	// NewRelease calibrates a release under opts, a release.Options, for
	// an engine: private, or, when exact, an exact (non-private) reference
	// with no noise, no charge and a report that says so (only the shape of
	// opts is used, as with release.Exact). Only the mechanisms Popularity
	// and Pairs (or Popularity alone), with head pairs and unweighted
	// items, are supported; the rest, including Auto, is refused with an
	// error that names it. Installed by release.
	NewRelease func(cat *recommend.Catalog, opts any, exact bool) (Release, error) = func(*recommend.Catalog, any, bool) (Release, error) {
		return nil, ErrNotLinked
	}
)

// HeadItems returns the catalog indexes of the size items with the largest
// released counts (negative counts as zero; ties by catalog index), most
// popular first: the items whose pairs a head-pairs release counts, here
// so that release and every engine pick the same head. It is
// post-processing of DP output.
func HeadItems(itemCounts []int64, size int) []uint32 {
	h := max(0, min(size, len(itemCounts)))
	order := make([]uint32, len(itemCounts))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if c := cmp.Compare(max(itemCounts[b], 0), max(itemCounts[a], 0)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return order[:h:h]
}
