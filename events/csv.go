package events

import (
	"errors"
	"fmt"
	"strings"
)

// columns maps a CSV header's column names to their positions.
type columns struct {
	line int            // the record's line, for errors
	pos  map[string]int // column name → index
}

// parseHeader checks a header record against f's columns.
func parseHeader(rec []string, f csvFormat, opts ReaderOptions) (*columns, error) {
	allowed := f.allowed()
	c := &columns{pos: make(map[string]int, len(rec))}
	for i, h := range rec {
		h = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(h)), "\ufeff")
		known := false
		for _, a := range allowed {
			known = known || a == h
		}
		if !known {
			return nil, &ParseError{Line: 1, Column: i + 1, Err: fmt.Errorf("unknown column %q (allowed: %s)", truncate(h, 32), strings.Join(allowed, ", "))}
		}
		if _, dup := c.pos[h]; dup {
			return nil, &ParseError{Line: 1, Column: i + 1, Err: fmt.Errorf("duplicate column %q", h)}
		}
		c.pos[h] = i
	}
	for _, n := range f.required(opts) {
		if _, ok := c.pos[n]; !ok {
			return nil, &ParseError{Line: 1, Err: fmt.Errorf("missing column %q", n)}
		}
	}
	return c, nil
}

// field returns a column's trimmed value, its 1-based column number, and
// whether the header has the column.
func (c *columns) field(rec []string, name string) (string, int, bool) {
	i, ok := c.pos[name]
	if !ok {
		return "", 0, false
	}
	if i >= len(rec) {
		return "", i + 1, true
	}
	return strings.TrimSpace(rec[i]), i + 1, true
}

// checkWidth refuses a record whose field count differs from the header's.
func (c *columns) checkWidth(rec []string) error {
	if len(rec) != len(c.pos) {
		return &ParseError{Line: c.line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(c.pos))}
	}
	return nil
}

// genericCSV is FormatCSV.
type genericCSV struct{}

func (genericCSV) allowed() []string { return []string{"user", "item", "kind", "time"} }

func (genericCSV) required(opts ReaderOptions) []string {
	if opts.DefaultTime.IsZero() {
		return []string{"user", "item", "time"}
	}
	return []string{"user", "item"}
}

func (genericCSV) event(rec []string, c *columns, opts ReaderOptions) (Event, bool, error) {
	if err := c.checkWidth(rec); err != nil {
		return Event{}, false, err
	}
	e := Event{Kind: opts.DefaultKind, Time: opts.DefaultTime}
	var ucol, icol int
	e.UserID, ucol, _ = c.field(rec, "user")
	e.Item, icol, _ = c.field(rec, "item")
	if e.UserID == "" {
		return Event{}, false, &ParseError{Line: c.line, Column: ucol, Field: "user", Err: errors.New("empty")}
	}
	if e.Item == "" {
		return Event{}, false, &ParseError{Line: c.line, Column: icol, Field: "item", Err: errors.New("empty")}
	}
	if s, col, ok := c.field(rec, "kind"); ok && s != "" {
		k, err := ParseKind(s)
		if err != nil {
			return Event{}, false, &ParseError{Line: c.line, Column: col, Field: "kind", Err: err}
		}
		e.Kind = k
	}
	if s, col, ok := c.field(rec, "time"); ok {
		t, err := parseTime(s)
		if err != nil {
			return Event{}, false, &ParseError{Line: c.line, Column: col, Field: "time", Err: err}
		}
		e.Time = t
	}
	return e, false, nil
}
