package events

import (
	"errors"
	"fmt"
	"time"
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
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= KindView && k <= KindPurchase }

// ErrUnknownKind is wrapped by errors about a kind that is not view, cart or
// purchase.
var ErrUnknownKind = errors.New("events: unknown event kind")

// ParseKind parses the names String returns.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name != "" && name == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want view, cart or purchase)", ErrUnknownKind, truncate(s, 32))
}

// Event is an event as it arrives, with the raw user ID. It exists only
// between the caller and a collect.Ingestor, which pseudonymizes it at once;
// nothing in privrec stores, logs or serializes an Event.
type Event struct {
	UserID string
	Item   string
	Kind   Kind
	Time   time.Time
}

// truncate shortens s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
