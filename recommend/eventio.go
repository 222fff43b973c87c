package recommend

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// EventFormat is an input format for EventReader.
type EventFormat int

const (
	// FormatCSV: a header row naming the columns user, item, and optionally
	// kind (view, cart, purchase) and time (RFC 3339, or
	// "2006-01-02 15:04:05" in UTC). Other columns are refused.
	FormatCSV EventFormat = iota
	// FormatJSONLines: one JSON object per line with the fields user, item,
	// and optionally kind and time (RFC 3339). Unknown fields are refused.
	FormatJSONLines
	// FormatOnlineRetail: the UCI Online Retail transactions CSV (InvoiceNo,
	// StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
	// Country). CustomerID is the user, StockCode the item, every line a
	// purchase. Cancellations (InvoiceNo starting with "C" or Quantity <= 0)
	// and lines without a CustomerID are skipped and counted (Skipped); the
	// other columns are read past and never kept.
	FormatOnlineRetail
)

// String returns "csv", "jsonl" or "online-retail".
func (f EventFormat) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSONLines:
		return "jsonl"
	case FormatOnlineRetail:
		return "online-retail"
	}
	return fmt.Sprintf("EventFormat(%d)", int(f))
}

// ParseEventFormat parses the names String returns.
func ParseEventFormat(s string) (EventFormat, error) {
	for _, f := range []EventFormat{FormatCSV, FormatJSONLines, FormatOnlineRetail} {
		if f.String() == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("recommend: unknown event format %q (want csv, jsonl or online-retail)", s)
}

// SniffFormat guesses an input's format from its first line: JSON Lines if
// it starts with "{", Online Retail if it names the InvoiceNo column, CSV
// otherwise.
func SniffFormat(firstLine string) EventFormat {
	switch {
	case strings.HasPrefix(strings.TrimSpace(firstLine), "{"):
		return FormatJSONLines
	case strings.Contains(strings.ToLower(firstLine), "invoiceno"):
		return FormatOnlineRetail
	}
	return FormatCSV
}

// MaxEventLine bounds one input line.
const MaxEventLine = 64 << 10

// EventReaderOptions configure an EventReader.
type EventReaderOptions struct {
	// DefaultKind is used when the input has no kind; KindPurchase when zero.
	DefaultKind Kind
	// DefaultTime is used when the input has no time column. Without it,
	// CSV input must have a time column.
	DefaultTime time.Time
}

// ParseError reports a bad input line. It never quotes the user ID.
type ParseError struct {
	Line   int
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
		b.WriteString("bad line")
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " (%s)", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// EventReader streams raw events from CSV, JSON Lines or Online Retail input.
// After a *ParseError, Next can be called again for the following line.
type EventReader struct {
	format  EventFormat
	opts    EventReaderOptions
	csv     *csv.Reader
	lines   *bufio.Scanner
	line    int
	col     map[string]int
	skipped int
	err     error // sticky header or I/O error
	started bool
}

// NewEventReader returns a reader of events in the given format.
func NewEventReader(r io.Reader, f EventFormat, opts EventReaderOptions) *EventReader {
	if opts.DefaultKind == 0 {
		opts.DefaultKind = KindPurchase
	}
	er := &EventReader{format: f, opts: opts}
	switch f {
	case FormatCSV, FormatOnlineRetail:
		er.csv = csv.NewReader(r)
		er.csv.FieldsPerRecord = -1
		er.csv.ReuseRecord = true
	case FormatJSONLines:
		er.lines = bufio.NewScanner(r)
		er.lines.Buffer(make([]byte, 0, 4096), MaxEventLine)
	default:
		er.err = fmt.Errorf("recommend: unknown event format %d", int(f))
	}
	return er
}

// Skipped returns how many Online Retail lines were skipped on purpose
// (cancellations and lines without a customer).
func (er *EventReader) Skipped() int { return er.skipped }

// Line returns the line number of the last record read.
func (er *EventReader) Line() int { return er.line }

var (
	csvColumns          = []string{"user", "item", "kind", "time"}
	onlineRetailColumns = []string{"invoiceno", "stockcode", "description", "quantity", "invoicedate", "unitprice", "customerid", "country"}
)

func (er *EventReader) header() error {
	rec, err := er.csv.Read()
	if err == io.EOF {
		return errors.New("recommend: events: empty input (no header)")
	}
	if err != nil {
		return fmt.Errorf("recommend: events: header: %w", err)
	}
	allowed := csvColumns
	if er.format == FormatOnlineRetail {
		allowed = onlineRetailColumns
	}
	er.col = make(map[string]int, len(rec))
	for i, h := range rec {
		h = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(h)), "\ufeff")
		known := false
		for _, a := range allowed {
			known = known || a == h
		}
		if !known {
			return &ParseError{Line: 1, Column: i + 1, Err: fmt.Errorf("unknown column %q (allowed: %s)", truncate(h, 32), strings.Join(allowed, ", "))}
		}
		if _, dup := er.col[h]; dup {
			return &ParseError{Line: 1, Column: i + 1, Err: fmt.Errorf("duplicate column %q", h)}
		}
		er.col[h] = i
	}
	need := []string{"user", "item"}
	if er.format == FormatOnlineRetail {
		need = []string{"invoiceno", "stockcode", "quantity", "invoicedate", "customerid"}
	} else if er.opts.DefaultTime.IsZero() {
		need = append(need, "time")
	}
	for _, n := range need {
		if _, ok := er.col[n]; !ok {
			return &ParseError{Line: 1, Err: fmt.Errorf("missing column %q", n)}
		}
	}
	return nil
}

// Next returns the next event, io.EOF at the end, a *ParseError for a bad
// line (call Next again to continue), or another error for a failure that
// ends the stream.
func (er *EventReader) Next() (RawEvent, error) {
	if er.err != nil {
		return RawEvent{}, er.err
	}
	if er.format == FormatJSONLines {
		return er.nextJSON()
	}
	if !er.started {
		er.started = true
		if err := er.header(); err != nil {
			er.err = err
			return RawEvent{}, err
		}
	}
	for {
		rec, err := er.csv.Read()
		if err == io.EOF {
			return RawEvent{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				er.line = pe.Line
				return RawEvent{}, &ParseError{Line: pe.Line, Column: pe.Column, Err: pe.Err}
			}
			er.err = fmt.Errorf("recommend: events: %w", err)
			return RawEvent{}, er.err
		}
		er.line, _ = er.csv.FieldPos(0)
		if er.format == FormatOnlineRetail {
			e, skip, err := er.onlineRetail(rec)
			if skip {
				er.skipped++
				continue
			}
			return e, err
		}
		return er.generic(rec)
	}
}

func (er *EventReader) field(rec []string, name string) (string, int, bool) {
	i, ok := er.col[name]
	if !ok {
		return "", 0, false
	}
	if i >= len(rec) {
		return "", i + 1, true
	}
	return strings.TrimSpace(rec[i]), i + 1, true
}

func (er *EventReader) generic(rec []string) (RawEvent, error) {
	if len(rec) != len(er.col) {
		return RawEvent{}, &ParseError{Line: er.line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(er.col))}
	}
	e := RawEvent{Kind: er.opts.DefaultKind, Time: er.opts.DefaultTime}
	var col int
	e.UserID, _, _ = er.field(rec, "user")
	e.Item, col, _ = er.field(rec, "item")
	if e.UserID == "" {
		return RawEvent{}, &ParseError{Line: er.line, Column: er.col["user"] + 1, Field: "user", Err: errors.New("empty")}
	}
	if e.Item == "" {
		return RawEvent{}, &ParseError{Line: er.line, Column: col, Field: "item", Err: errors.New("empty")}
	}
	if s, c, ok := er.field(rec, "kind"); ok && s != "" {
		k, err := ParseKind(s)
		if err != nil {
			return RawEvent{}, &ParseError{Line: er.line, Column: c, Field: "kind", Err: err}
		}
		e.Kind = k
	}
	if s, c, ok := er.field(rec, "time"); ok {
		t, err := parseTime(s)
		if err != nil {
			return RawEvent{}, &ParseError{Line: er.line, Column: c, Field: "time", Err: err}
		}
		e.Time = t
	}
	return e, nil
}

func (er *EventReader) onlineRetail(rec []string) (RawEvent, bool, error) {
	if len(rec) != len(er.col) {
		return RawEvent{}, false, &ParseError{Line: er.line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(er.col))}
	}
	inv, _, _ := er.field(rec, "invoiceno")
	qty, qcol, _ := er.field(rec, "quantity")
	cust, _, _ := er.field(rec, "customerid")
	if strings.HasPrefix(inv, "C") || cust == "" {
		return RawEvent{}, true, nil
	}
	q, err := strconv.ParseFloat(qty, 64)
	if err != nil || math.IsNaN(q) {
		return RawEvent{}, false, &ParseError{Line: er.line, Column: qcol, Field: "Quantity", Err: errors.New("not a number")}
	}
	if q <= 0 {
		return RawEvent{}, true, nil
	}
	item, icol, _ := er.field(rec, "stockcode")
	if item == "" {
		return RawEvent{}, false, &ParseError{Line: er.line, Column: icol, Field: "StockCode", Err: errors.New("empty")}
	}
	ds, dcol, _ := er.field(rec, "invoicedate")
	t, err := parseTime(ds)
	if err != nil {
		return RawEvent{}, false, &ParseError{Line: er.line, Column: dcol, Field: "InvoiceDate", Err: err}
	}
	user := strings.TrimSuffix(cust, ".0")
	if user == "" {
		return RawEvent{}, false, &ParseError{Line: er.line, Column: er.col["customerid"] + 1, Field: "CustomerID", Err: errors.New("not a customer ID")}
	}
	return RawEvent{UserID: user, Item: item, Kind: KindPurchase, Time: t}, false, nil
}

type jsonEvent struct {
	User *string `json:"user"`
	Item *string `json:"item"`
	Kind *string `json:"kind"`
	Time *string `json:"time"`
}

func (er *EventReader) nextJSON() (RawEvent, error) {
	for er.lines.Scan() {
		er.line++
		b := bytes.TrimSpace(er.lines.Bytes())
		if len(b) == 0 {
			continue
		}
		return er.parseJSON(b)
	}
	if err := er.lines.Err(); err != nil {
		er.line++
		er.err = &ParseError{Line: er.line, Err: err}
		return RawEvent{}, er.err
	}
	return RawEvent{}, io.EOF
}

// parseJSON parses one non-blank JSON Lines record.
func (er *EventReader) parseJSON(b []byte) (RawEvent, error) {
	var je jsonEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&je); err != nil {
		return RawEvent{}, &ParseError{Line: er.line, Err: sanitizeJSONError(err)}
	}
	if dec.More() {
		return RawEvent{}, &ParseError{Line: er.line, Err: errors.New("more than one JSON value on the line")}
	}
	e := RawEvent{Kind: er.opts.DefaultKind, Time: er.opts.DefaultTime}
	if je.User == nil || *je.User == "" {
		return RawEvent{}, &ParseError{Line: er.line, Field: "user", Err: errors.New("missing or empty")}
	}
	if je.Item == nil || *je.Item == "" {
		return RawEvent{}, &ParseError{Line: er.line, Field: "item", Err: errors.New("missing or empty")}
	}
	e.UserID, e.Item = *je.User, *je.Item
	if je.Kind != nil {
		k, err := ParseKind(*je.Kind)
		if err != nil {
			return RawEvent{}, &ParseError{Line: er.line, Field: "kind", Err: err}
		}
		e.Kind = k
	}
	if je.Time != nil {
		t, err := parseTime(*je.Time)
		if err != nil {
			return RawEvent{}, &ParseError{Line: er.line, Field: "time", Err: err}
		}
		e.Time = t
	} else if e.Time.IsZero() {
		return RawEvent{}, &ParseError{Line: er.line, Field: "time", Err: errors.New("missing")}
	}
	return e, nil
}

// LineParser parses events one line at a time, for engines that split their
// input into lines themselves (privrec/beam reads files through Beam's
// textio). It accepts what EventReader accepts, except CSV fields with a
// line break inside quotes. A LineParser must not be used by two
// goroutines at once.
type LineParser struct {
	er     *EventReader
	header string
}

// NewLineParser returns a parser for format f. header is the input's CSV
// header line (every file must start with the same one); it is ignored for
// JSON Lines.
func NewLineParser(f EventFormat, header string, opts EventReaderOptions) (*LineParser, error) {
	if len(header) > MaxEventLine {
		return nil, errors.New("recommend: events: header line too long")
	}
	er := NewEventReader(strings.NewReader(header), f, opts)
	if er.err != nil {
		return nil, er.err
	}
	if f != FormatJSONLines {
		er.started = true
		if err := er.header(); err != nil {
			return nil, err
		}
	}
	return &LineParser{er: er, header: strings.TrimSpace(header)}, nil
}

// Parse parses one line. skip is true, with no error, for the header line,
// a blank line and an Online Retail line skipped on purpose (cancellation
// or no customer). A bad line gives a *ParseError with Line 0: the parser
// does not know where the line came from.
func (p *LineParser) Parse(line string) (e RawEvent, skip bool, err error) {
	er := p.er
	er.line = 0
	trimmed := strings.TrimSpace(line)
	if trimmed == "" {
		return RawEvent{}, true, nil
	}
	if len(line) > MaxEventLine {
		return RawEvent{}, false, &ParseError{Err: errors.New("line too long")}
	}
	if er.format == FormatJSONLines {
		e, err = er.parseJSON([]byte(trimmed))
		return e, false, err
	}
	if trimmed == p.header {
		return RawEvent{}, true, nil
	}
	// Spaces belong to the fields, as in a stream; only a line ending goes.
	r := csv.NewReader(strings.NewReader(strings.TrimRight(line, "\r\n")))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return RawEvent{}, false, &ParseError{Column: pe.Column, Err: pe.Err}
		}
		return RawEvent{}, false, &ParseError{Err: err}
	}
	if er.format == FormatOnlineRetail {
		return er.onlineRetail(rec)
	}
	e, err = er.generic(rec)
	return e, false, err
}

// sanitizeJSONError keeps the structural part of a JSON error; unknown field
// names are kept (they are the caller's schema, not data).
func sanitizeJSONError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q has the wrong type", te.Field)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field") {
		return errors.New(truncate(strings.TrimPrefix(msg, "json: "), 80) + " (only user, item, kind, time are collected)")
	}
	return errors.New("invalid JSON")
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognized time %q (want RFC 3339 or 2006-01-02 15:04:05)", truncate(s, 40))
}
