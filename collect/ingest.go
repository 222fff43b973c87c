package collect

import (
	"fmt"
	"sync"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
)

// Ingestor pseudonymizes raw events at the door and feeds them to a
// Collector: the raw user ID is replaced by its pseudonym for the window's
// key period before anything else happens, and is dropped. It is the only
// part of privrec that needs the keyring. It is safe for concurrent use.
type Ingestor struct {
	c       *Collector
	kr      *pseudonym.Keyring
	period  pseudonym.Period
	batches sync.Pool // of *batch, for AddBatch
}

// NewIngestor ties a collector to a keyring. The collector's window must lie
// inside one key period: otherwise one person would have two pseudonyms in
// the window and count as two users, silently doubling the contribution
// bound.
func NewIngestor(c *Collector, kr *pseudonym.Keyring) (*Ingestor, error) {
	p, err := windowPeriod(c, kr)
	if err != nil {
		return nil, err
	}
	c.keyPeriod = kr.PeriodLength()
	in := &Ingestor{c: c, kr: kr, period: p}
	in.batches.New = func() any { return new(batch) }
	return in, nil
}

// windowPeriod returns the key period holding c's window, or an error if
// the window spans two.
func windowPeriod(c *Collector, kr *pseudonym.Keyring) (pseudonym.Period, error) {
	w := c.opts.Window
	p := kr.Period(w.Start)
	_, end := kr.Bounds(p)
	if w.End.After(end) {
		return 0, fmt.Errorf("collect: window %v..%v spans two key periods (period %d ends %v); align windows with the keyring's %v periods",
			w.Start, w.End, p, end, kr.PeriodLength())
	}
	return p, nil
}

// Add validates e, pseudonymizes its user ID and adds it to the collector.
// Errors never contain the user ID or its pseudonym.
func (in *Ingestor) Add(e events.Event) error {
	id, idx, err := in.admit(e)
	if err != nil {
		return err
	}
	return in.c.add(id, idx)
}

// AddBatch adds evs as Add would add each in turn, and returns how many
// it accepted. When refused is not nil, it is called for every event not
// accepted, in order, with the event's index in evs and the error Add
// would have returned. Once the users have been seen it allocates
// nothing but the errors of refused events.
//
// On a large window AddBatch costs less per event than Add: the user's
// state that an event updates is rarely in the CPU's cache, and Add waits
// for it after each hash, whereas AddBatch hashes a run of events first
// and then reads their users' state together, so that the waits overlap.
// With a state file (Options.StateDir) it also writes the records of a
// shard's share of the run with one write call rather than one per event
// (when no user occurs twice in it), still before memory changes: a
// failed write refuses the events it was for and changes nothing.
// Sources that receive events in groups (an HTTP request, a Kafka fetch,
// a file) should use it.
func (in *Ingestor) AddBatch(evs []events.Event, refused func(i int, err error)) int {
	b := in.batches.Get().(*batch)
	defer in.batches.Put(b)
	accepted := 0
	for base := 0; base < len(evs); base += batchLen {
		run := evs[base:min(len(evs), base+batchLen)]
		b.reset(len(run))
		for i := range run {
			id, idx, err := in.admit(run[i])
			if err != nil {
				b.errs[i] = err
				continue
			}
			b.add(i, id, idx)
		}
		in.c.addBatch(b)
		for i, err := range b.errs[:len(run)] {
			if err == nil {
				accepted++
			} else if refused != nil {
				refused(base+i, err)
			}
		}
	}
	clear(b.ev) // pseudonyms do not wait in the pool
	clear(b.byShard)
	clear(b.recs[:cap(b.recs)])
	return accepted
}

// Sync flushes the collector's window state to the disk (Collector.Sync):
// the events added before it then survive a power failure.
func (in *Ingestor) Sync() error { return in.c.Sync() }

// admit validates e and pseudonymizes its user ID.
func (in *Ingestor) admit(e events.Event) (pseudonym.ID, uint32, error) {
	idx, err := in.c.check(e.Item, e.Kind, e.Time)
	if err != nil {
		return pseudonym.ID{}, 0, err
	}
	id, err := in.kr.Pseudonymize(in.period, e.UserID)
	if err != nil {
		return pseudonym.ID{}, 0, err
	}
	return id, idx, nil
}

// Forget removes a person's pending window state (a deletion request) and
// reports whether there was any.
func (in *Ingestor) Forget(userID string) (bool, error) {
	id, err := in.kr.Pseudonymize(in.period, userID)
	if err != nil {
		return false, err
	}
	return in.c.Forget(id)
}
