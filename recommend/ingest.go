package recommend

import (
	"fmt"

	"github.com/privrec/privrec/pseudonym"
)

// Ingestor pseudonymizes raw events at the door and feeds them to a
// Collector: the raw user ID is replaced by its pseudonym for the window's
// key period before anything else happens, and is dropped. It is the only
// part of privrec that needs the keyring. It is safe for concurrent use.
type Ingestor struct {
	c      *Collector
	kr     *pseudonym.Keyring
	period pseudonym.Period
}

// NewIngestor ties a collector to a keyring. The collector's window must lie
// inside one key period: otherwise one person would have two pseudonyms in
// the window and count as two users, silently doubling the contribution
// bound.
func NewIngestor(c *Collector, kr *pseudonym.Keyring) (*Ingestor, error) {
	w := c.Window()
	p := kr.Period(w.Start)
	_, end := kr.Bounds(p)
	if w.End.After(end) {
		return nil, fmt.Errorf("recommend: window %v..%v spans two key periods (period %d ends %v); align windows with the keyring's %v periods",
			w.Start, w.End, p, end, kr.PeriodLength())
	}
	c.keyPeriod = kr.PeriodLength()
	return &Ingestor{c: c, kr: kr, period: p}, nil
}

// Collector returns the collector events go to.
func (in *Ingestor) Collector() *Collector { return in.c }

// Add validates e, pseudonymizes its user ID and adds it to the collector.
// Errors never contain the user ID or its pseudonym.
func (in *Ingestor) Add(e RawEvent) error {
	id, idx, err := in.admit(e)
	if err != nil {
		return err
	}
	return in.c.add(id, idx)
}

// admit validates e and pseudonymizes its user ID.
func (in *Ingestor) admit(e RawEvent) (pseudonym.ID, uint32, error) {
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

// Gate checks and pseudonymizes raw events exactly as an Ingestor does, but
// collects nothing: it is the door for an engine that bounds contributions
// itself (privrec/beam groups events per pseudonym and calls BoundItems).
// It is safe for concurrent use.
type Gate struct{ in *Ingestor }

// NewGate returns a gate for the window and event kinds of opts (its
// StateDir, SampleKey and Neighbors play no part) and the keyring kr.
func NewGate(cat *Catalog, opts CollectorOptions, kr *pseudonym.Keyring) (*Gate, error) {
	opts.StateDir = ""
	c, err := NewCollector(cat, opts)
	if err != nil {
		return nil, err
	}
	in, err := NewIngestor(c, kr)
	if err != nil {
		return nil, err
	}
	return &Gate{in}, nil
}

// Admit validates e (item in the catalog, kind collected, time in the
// window) and returns its subject's pseudonym and the item's catalog
// index. Errors wrap the same Err* values as Collector.Add and never
// contain the user ID or its pseudonym.
func (g *Gate) Admit(e RawEvent) (pseudonym.ID, uint32, error) { return g.in.admit(e) }

// Forget removes a person's pending window state (a deletion request) and
// reports whether there was any.
func (in *Ingestor) Forget(userID string) (bool, error) {
	id, err := in.kr.Pseudonymize(in.period, userID)
	if err != nil {
		return false, err
	}
	return in.c.Forget(id)
}
