package events

import (
	"errors"
	"strings"
)

// LineParser parses events one line at a time, for code that splits its
// input into lines itself (a message queue consumer, or privrec/beam, which
// reads files through Beam's textio). It accepts what Reader accepts, except
// CSV fields with a line break inside quotes. A LineParser must not be used
// by two goroutines at once.
type LineParser struct {
	format Format
	opts   ReaderOptions
	csvf   csvFormat
	cols   *columns
	header string
}

// NewLineParser returns a parser for format f. header is the input's CSV
// header line (every file must start with the same one); it is ignored for
// JSON Lines.
func NewLineParser(f Format, header string, opts ReaderOptions) (*LineParser, error) {
	if len(header) > MaxLineBytes {
		return nil, errors.New("events: header line too long")
	}
	p := &LineParser{format: f, opts: opts.withDefaults()}
	if f == FormatJSONLines {
		return p, nil
	}
	cf, ok := csvFormatOf(f)
	if !ok {
		return nil, errors.New("events: unknown format")
	}
	header = strings.TrimRight(header, "\r\n")
	if header == "" {
		return nil, errors.New("events: empty or unreadable header line")
	}
	rec, _, err := splitCSVLine(header, nil)
	if err != nil {
		return nil, errors.New("events: empty or unreadable header line")
	}
	if p.cols, err = parseHeader(rec, cf, p.opts); err != nil {
		return nil, err
	}
	p.csvf, p.header = cf, strings.TrimSpace(header)
	return p, nil
}

// Parse parses one line. skip is true, with no error, for the header line,
// a blank line and a line skipped on purpose (an Online Retail cancellation
// or line without a customer). A bad line gives a *ParseError with Line 0:
// the parser does not know where the line came from.
func (p *LineParser) Parse(line string) (e Event, skip bool, err error) {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" {
		return Event{}, true, nil
	}
	if len(line) > MaxLineBytes {
		return Event{}, false, &ParseError{Err: errors.New("line too long")}
	}
	if p.csvf == nil {
		e, err = DecodeJSON([]byte(trimmed), p.opts)
		return e, false, err
	}
	if trimmed == p.header {
		return Event{}, true, nil
	}
	// Spaces belong to the fields, as in a stream; only a line ending goes.
	rec, col, err := splitCSVLine(strings.TrimRight(line, "\r\n"), nil)
	if err != nil {
		return Event{}, false, &ParseError{Column: col, Err: err}
	}
	p.cols.line = 0
	return p.csvf.event(rec, p.cols, p.opts)
}
