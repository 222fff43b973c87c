package events

import (
	"fmt"
	"strings"
)

// Format is an input format.
type Format int

const (
	// FormatCSV: a header row naming the columns user, item, and optionally
	// kind (view, cart, purchase) and time (RFC 3339, or
	// "2006-01-02 15:04:05" in UTC). Other columns are refused.
	FormatCSV Format = iota
	// FormatJSONLines: one JSON object per line with the fields user, item,
	// and optionally kind and time (see DecodeJSON). Unknown fields are
	// refused.
	FormatJSONLines
	// FormatOnlineRetail: the UCI Online Retail transactions CSV (InvoiceNo,
	// StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
	// Country). CustomerID is the user, StockCode the item, every line a
	// purchase. Cancellations (InvoiceNo starting with "C" or Quantity <= 0)
	// and lines without a CustomerID are skipped and counted; the other
	// columns are read past and never kept.
	FormatOnlineRetail
)

// csvFormat is what a CSV-based format knows: its columns and how to turn
// one record into an event.
type csvFormat interface {
	// allowed lists the columns the header may name (lower case).
	allowed() []string
	// required lists the columns the header must name, given the options.
	required(opts ReaderOptions) []string
	// event converts a record; skip is true for a line skipped on purpose.
	event(rec []string, c *columns, opts ReaderOptions) (e Event, skip bool, err error)
}

func csvFormatOf(f Format) (csvFormat, bool) {
	switch f {
	case FormatCSV:
		return genericCSV{}, true
	case FormatOnlineRetail:
		return onlineRetail{}, true
	}
	return nil, false
}

// String returns "csv", "jsonl" or "online-retail".
func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSONLines:
		return "jsonl"
	case FormatOnlineRetail:
		return "online-retail"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat parses the names String returns.
func ParseFormat(s string) (Format, error) {
	for _, f := range []Format{FormatCSV, FormatJSONLines, FormatOnlineRetail} {
		if f.String() == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("events: unknown format %q (want csv, jsonl or online-retail)", truncate(s, 32))
}

// Sniff guesses an input's format from its first line: JSON Lines if it
// starts with "{", Online Retail if it names the InvoiceNo column, CSV
// otherwise.
func Sniff(firstLine string) Format {
	switch {
	case strings.HasPrefix(strings.TrimSpace(firstLine), "{"):
		return FormatJSONLines
	case strings.Contains(strings.ToLower(firstLine), "invoiceno"):
		return FormatOnlineRetail
	}
	return FormatCSV
}
