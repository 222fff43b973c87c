package collect

import (
	"errors"
	"fmt"
	"time"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
)

// Event is a pseudonymous event: (subject, item, kind, time) and nothing
// else. The Ingestor makes it from an events.Event by replacing the user ID
// with its pseudonym.
type Event struct {
	Subject pseudonym.ID
	Item    string
	Kind    events.Kind
	Time    time.Time
}

// Errors for refused events. Collector.Add wraps them with context that
// never includes the subject or the user ID. An unknown kind wraps
// events.ErrUnknownKind.
var (
	ErrUnknownItem     = errors.New("collect: item not in catalog")
	ErrKindNotAccepted = errors.New("collect: event kind not collected")
	ErrOutsideWindow   = errors.New("collect: event outside the release window")
	ErrFutureEvent     = errors.New("collect: event time is in the future")
	ErrWindowReleased  = errors.New("collect: window already released")
)

var allKinds = []events.Kind{events.KindView, events.KindCart, events.KindPurchase}

// kindMask returns a bit per kind; all kinds when kinds is empty.
func kindMask(kinds []events.Kind) (uint8, error) {
	if len(kinds) == 0 {
		kinds = allKinds
	}
	var m uint8
	for _, k := range kinds {
		if !k.Valid() {
			return 0, fmt.Errorf("%w %d", events.ErrUnknownKind, k)
		}
		m |= 1 << k
	}
	return m, nil
}

// kindsOf lists the kinds in a mask, in order.
func kindsOf(mask uint8) []events.Kind {
	var ks []events.Kind
	for _, k := range allKinds {
		if mask&(1<<k) != 0 {
			ks = append(ks, k)
		}
	}
	return ks
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
