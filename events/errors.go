package events

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ParseError reports a bad input line. It never quotes the user ID.
type ParseError struct {
	Line   int    // 1-based; 0 when not known
	Column int    // 1-based; 0 when not known
	Field  string // the column or JSON field, when known
	Err    error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	sep := ""
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d", e.Line)
		sep = ", "
	}
	if e.Column > 0 {
		fmt.Fprintf(&b, "%scolumn %d", sep, e.Column)
		sep = ", "
	}
	if sep == "" {
		b.WriteString("bad event")
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " (%s)", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// timeLayouts are the time formats events may use; times without a zone are
// UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

// minTime is the earliest event time accepted: earlier ones are mistakes
// (0001-01-01 would even read as Go's zero time, "no time").
var minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			if t.Before(minTime) {
				return time.Time{}, fmt.Errorf("time %q is before 1970", truncate(s, 40))
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognized time %q (want RFC 3339 or 2006-01-02 15:04:05)", truncate(s, 40))
}
