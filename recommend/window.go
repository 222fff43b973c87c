package recommend

import (
	"errors"
	"fmt"
	"time"
)

// Window is a release window [Start, End): the time span whose events one
// release counts. The privacy unit is one user in one window.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t is in [Start, End).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Validate reports whether the window is usable.
func (w Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return errors.New("recommend: window needs both Start and End")
	}
	if !w.Start.Before(w.End) {
		return fmt.Errorf("recommend: window start %v is not before end %v", w.Start, w.End)
	}
	return nil
}
