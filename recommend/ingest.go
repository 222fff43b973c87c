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
	idx, err := in.c.check(e.Item, e.Kind, e.Time)
	if err != nil {
		return err
	}
	id, err := in.kr.Pseudonymize(in.period, e.UserID)
	if err != nil {
		return err
	}
	return in.c.add(id, idx)
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
