package events

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
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
	csv     *bufio.Reader  // CSV formats, read line by line
	rec     []string       // the current CSV record's fields, reused
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
		er.csv = bufio.NewReaderSize(r, MaxLineBytes)
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
		rec, err := er.readCSV()
		if err != nil {
			return Event{}, err
		}
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
	rec, err := er.readCSV()
	if err == io.EOF {
		return errors.New("events: empty input (no header)")
	}
	if err != nil {
		return fmt.Errorf("events: header: %w", err)
	}
	er.cols, err = parseHeader(rec, er.csvf, er.opts)
	return err
}

// readCSV reads the next non-blank line and splits it into fields. A bad
// line, or one longer than MaxLineBytes, is a *ParseError for that line
// alone: one record per line, so a stray quote cannot swallow the lines
// after it. Other errors end the stream.
func (er *Reader) readCSV() ([]string, error) {
	for {
		line, err := er.csv.ReadSlice('\n')
		if len(line) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		er.line++
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
				_, err = er.csv.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				er.err = fmt.Errorf("events: %w", err)
				return nil, er.err
			}
			return nil, &ParseError{Line: er.line, Err: errors.New("line too long")}
		}
		if err != nil && err != io.EOF {
			er.err = fmt.Errorf("events: %w", err)
			return nil, er.err
		}
		text := strings.TrimRight(string(line), "\r\n")
		if text == "" {
			continue // encoding/csv skips empty lines too
		}
		rec, col, serr := splitCSVLine(text, er.rec)
		er.rec = rec
		if serr != nil {
			return nil, &ParseError{Line: er.line, Column: col, Err: serr}
		}
		return rec, nil
	}
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
