// Package human formats values for people rather than for programs: the
// one place privrec decides how a duration reads in a report, a ledger
// listing or an error message.
package human

import (
	"fmt"
	"time"
)

// Duration writes d for people: whole days as days ("375 days"), whole
// hours as hours ("36 hours"), anything else as Go writes it ("1m30s").
func Duration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}
