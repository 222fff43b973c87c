package collect

import (
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

// Gate is the door of collection without the collector, for an engine that
// groups a window's events per pseudonym itself (privrec/beam): Admit
// checks and pseudonymizes raw events exactly as an Ingestor does (and
// Bound then keeps exactly the items a Collector would keep). It collects
// nothing and is safe for concurrent use.
type Gate struct {
	in *Ingestor
}

// NewGate returns a gate for the window and event kinds of opts (its Keep,
// SampleKey and StateDir play no part) and the keyring kr.
func NewGate(cat *recommend.Catalog, opts Options, kr *pseudonym.Keyring) (*Gate, error) {
	opts.StateDir = ""
	c, err := New(cat, opts)
	if err != nil {
		return nil, err
	}
	in, err := NewIngestor(c, kr)
	if err != nil {
		return nil, err
	}
	return &Gate{in: in}, nil
}

// Admit validates e (item in the catalog, kind collected, time in the
// window) and returns its subject's pseudonym and the item's catalog
// index. Errors wrap the same values as Collector.Add and never contain the
// user ID or its pseudonym.
func (g *Gate) Admit(e events.Event) (pseudonym.ID, uint32, error) { return g.in.admit(e) }
