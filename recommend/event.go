package recommend

import (
	"errors"
	"fmt"
	"time"

	"github.com/privrec/privrec/pseudonym"
)

// Kind is what a user did with an item.
type Kind uint8

// The kinds of event. Every accepted kind counts the same: "this user
// interacted with this item in this window".
const (
	KindView     Kind = 1
	KindCart     Kind = 2
	KindPurchase Kind = 3
)

var kindNames = [...]string{KindView: "view", KindCart: "cart", KindPurchase: "purchase"}

// String returns "view", "cart" or "purchase".
func (k Kind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= KindView && k <= KindPurchase }

// kindMask returns a bit per kind; all kinds when kinds is empty.
func kindMask(kinds []Kind) (uint8, error) {
	if len(kinds) == 0 {
		return 1<<KindView | 1<<KindCart | 1<<KindPurchase, nil
	}
	var m uint8
	for _, k := range kinds {
		if !k.valid() {
			return 0, fmt.Errorf("%w %d", ErrUnknownKind, k)
		}
		m |= 1 << k
	}
	return m, nil
}

// ParseKind parses the names String returns.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name != "" && name == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want view, cart or purchase)", ErrUnknownKind, truncate(s, 32))
}

// Event is a pseudonymous event: (subject, item, kind, time) and nothing else.
type Event struct {
	Subject pseudonym.ID
	Item    string
	Kind    Kind
	Time    time.Time
}

// RawEvent is an event as it arrives, with the raw user ID. It exists only
// between the caller and an Ingestor, which pseudonymizes it at once; nothing
// in privrec stores, logs or serializes a RawEvent.
type RawEvent struct {
	UserID string
	Item   string
	Kind   Kind
	Time   time.Time
}

// Errors for refused events. Collector.Add wraps them with context that
// never includes the subject or the user ID.
var (
	ErrEmptyItem       = errors.New("recommend: empty item")
	ErrUnknownItem     = errors.New("recommend: item not in catalog")
	ErrUnknownKind     = errors.New("recommend: unknown event kind")
	ErrKindNotAccepted = errors.New("recommend: event kind not collected")
	ErrOutsideWindow   = errors.New("recommend: event outside the release window")
	ErrFutureEvent     = errors.New("recommend: event time is in the future")
	ErrWindowReleased  = errors.New("recommend: window already released")
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
