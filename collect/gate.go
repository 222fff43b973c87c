package collect

import (
	"fmt"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/engine"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
)

func init() { engine.NewGate = newGate }

// gate is the door of collection without the collector, for an engine
// that groups a window's events per pseudonym itself (privrec/beam): it
// checks and pseudonymizes raw events exactly as an Ingestor does. See
// engine.Gate, the interface it implements, and engine.NewGate, its
// constructor.
type gate struct {
	in *Ingestor
}

// newGate is engine.NewGate: opts must be an Options, of which only the
// window and event kinds play a part.
func newGate(cat *recommend.Catalog, opts any, kr *pseudonym.Keyring) (engine.Gate, error) {
	o, ok := opts.(Options)
	if !ok {
		return nil, fmt.Errorf("collect: gate: options are a %T, not collect.Options", opts)
	}
	o.StateDir = ""
	c, err := New(cat, o)
	if err != nil {
		return nil, err
	}
	in, err := NewIngestor(c, kr)
	if err != nil {
		return nil, err
	}
	return &gate{in: in}, nil
}

func (g *gate) Admit(e events.Event) (pseudonym.ID, uint32, error) { return g.in.admit(e) }
