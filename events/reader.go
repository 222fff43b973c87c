package events

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLineBytes bounds one input line.
const MaxLineBytes = 64 << 10

// ReaderOptions configure how events are read. The zero value reads with the
// defaults.
type ReaderOptions struct {
	// DefaultKind is used when an event has no kind; KindPurchase when zero.
	DefaultKind Kind
	// DefaultTime is used when an event has no time. Without it, CSV input
	// must have a time column and every JSON event a time field.
	DefaultTime time.Time
}

func (o ReaderOptions) withDefaults() ReaderOptions {
	if o.DefaultKind == 0 {
		o.DefaultKind = KindPurchase
	}
	return o
}

// Reader streams events from CSV, JSON Lines or Online Retail input. After
// a *ParseError for one line, Next can be called again for the next line.
type Reader struct {
	format  Format
	opts    ReaderOptions
	csvf    csvFormat      // nil for JSON Lines
	csv     *csv.Reader    // CSV formats
	lines   *bufio.Scanner // JSON Lines
	cols    *columns
	line    int
	skipped int
	err     error // sticky header or I/O error
}

// NewReader returns a reader of events in format f.
func NewReader(r io.Reader, f Format, opts ReaderOptions) *Reader {
	er := &Reader{format: f, opts: opts.withDefaults()}
	if cf, ok := csvFormatOf(f); ok {
		er.csvf = cf
		er.csv = csv.NewReader(r)
		er.csv.FieldsPerRecord = -1
		er.csv.ReuseRecord = true
		return er
	}
	if f != FormatJSONLines {
		er.err = fmt.Errorf("events: unknown format %d", int(f))
		return er
	}
	er.lines = bufio.NewScanner(r)
	er.lines.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	return er
}

// Skipped returns how many lines were skipped on purpose (Online Retail
// cancellations and lines without a customer).
func (er *Reader) Skipped() int { return er.skipped }

// Line returns the line number of the last record read.
func (er *Reader) Line() int { return er.line }

// Next returns the next event, io.EOF at the end, a *ParseError for a bad
// line (call Next again to continue; a bad CSV header is a *ParseError with
// Line 1 that ends the stream), or another error for a failure that ends
// the stream.
func (er *Reader) Next() (Event, error) {
	if er.err != nil {
		return Event{}, er.err
	}
	if er.csvf == nil {
		return er.nextJSON()
	}
	if er.cols == nil {
		if err := er.header(); err != nil {
			er.err = err
			return Event{}, err
		}
	}
	for {
		rec, err := er.csv.Read()
		if err == io.EOF {
			return Event{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				er.line = pe.Line
				return Event{}, &ParseError{Line: pe.Line, Column: pe.Column, Err: pe.Err}
			}
			er.err = fmt.Errorf("events: %w", err)
			return Event{}, er.err
		}
		er.line, _ = er.csv.FieldPos(0)
		er.cols.line = er.line
		e, skip, err := er.csvf.event(rec, er.cols, er.opts)
		if skip {
			er.skipped++
			continue
		}
		return e, err
	}
}

func (er *Reader) header() error {
	rec, err := er.csv.Read()
	if err == io.EOF {
		return errors.New("events: empty input (no header)")
	}
	if err != nil {
		return fmt.Errorf("events: header: %w", err)
	}
	er.line = 1
	er.cols, err = parseHeader(rec, er.csvf, er.opts)
	return err
}

func (er *Reader) nextJSON() (Event, error) {
	for er.lines.Scan() {
		er.line++
		b := bytes.TrimSpace(er.lines.Bytes())
		if len(b) == 0 {
			continue
		}
		e, err := DecodeJSON(b, er.opts)
		if pe, ok := err.(*ParseError); ok {
			pe.Line = er.line
		}
		return e, err
	}
	if err := er.lines.Err(); err != nil {
		er.line++
		er.err = &ParseError{Line: er.line, Err: err}
		return Event{}, er.err
	}
	return Event{}, io.EOF
}
