package events

import (
	"encoding/csv"
	"strings"
)

// splitCSVLine splits one CSV line (without its line ending) into fields,
// appending them to rec[:0], the way encoding/csv reads a record that is
// alone on its line (comma-separated, RFC 4180 quoting, "" for a quote
// inside quotes; no lazy quotes). privrec's event files have one record per
// line: a quoted field may not span lines, so an unbalanced quote spoils
// its own line only, never the rest of the file. On error it returns the
// 1-based byte column of the problem and csv.ErrBareQuote or
// csv.ErrQuote, as encoding/csv would.
func splitCSVLine(line string, rec []string) ([]string, int, error) {
	rec = rec[:0]
	pos := 0 // byte offset of the current field in line
	for {
		if pos < len(line) && line[pos] == '"' {
			// Quoted field: up to a quote followed by a comma or the end.
			var b strings.Builder
			i := pos + 1
			for {
				j := strings.IndexByte(line[i:], '"')
				if j < 0 {
					// No closing quote on this line.
					return rec, len(line) + 1, csv.ErrQuote
				}
				b.WriteString(line[i : i+j])
				i += j + 1
				switch {
				case i < len(line) && line[i] == '"': // "" is a quote
					b.WriteByte('"')
					i++
					continue
				case i == len(line):
					return append(rec, b.String()), 0, nil
				case line[i] == ',':
					rec = append(rec, b.String())
					pos = i + 1
				default:
					return rec, i + 1, csv.ErrQuote
				}
				break
			}
			continue
		}
		// Unquoted field: up to the next comma; a quote in it is an error.
		end := strings.IndexByte(line[pos:], ',')
		field := line[pos:]
		if end >= 0 {
			field = line[pos : pos+end]
		}
		if q := strings.IndexByte(field, '"'); q >= 0 {
			return rec, pos + q + 1, csv.ErrBareQuote
		}
		rec = append(rec, field)
		if end < 0 {
			return rec, 0, nil
		}
		pos += end + 1
	}
}
