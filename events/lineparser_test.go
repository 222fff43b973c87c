package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLineParserAgreesWithReader parses the same inputs line by line and
// as a stream, including bad and skipped lines.
func TestLineParserAgreesWithReader(t *testing.T) {
	for _, tc := range []struct {
		format Format
		input  string
	}{
		{FormatCSV, "user,item,kind,time\nu1,i01,view,2026-11-02T10:00:00Z\n\nu2,i02,,2026-11-02 10:00:00\nu3,,cart,2026-11-02\nu4,i04,refund,2026-11-02\nu6,i06\nu7,\"i\"\"7\",view,2026-11-02\n"},
		{FormatCSV, "\ufeffItem,User,Time\ni01,u1,2026-11-02\n"},
		{FormatJSONLines, "{\"user\":\"u1\",\"item\":\"i01\",\"time\":\"2026-11-02T10:00:00Z\"}\n{\"user\":\"u2\",\"item\":\"i02\",\"email\":\"x\"}\nnot json\n{\"user\":\"u3\",\"item\":\"i03\",\"kind\":\"cart\",\"time\":\"2026-11-02T10:00:00Z\"} {}\n"},
		{FormatOnlineRetail, "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,\"WHITE HANGING, HEART\",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\nC536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom\n536366,22633,HAND WARMER,x,2010-12-01 08:28:00,1.85,17850,United Kingdom\n536367,22634,HAND WARMER,1,2010-12-01 08:28:00,1.85,,United Kingdom\n"},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			lines := strings.Split(tc.input, "\n")
			header := ""
			if tc.format != FormatJSONLines {
				header = lines[0]
			}
			lp, err := NewLineParser(tc.format, header, ReaderOptions{})
			require.NoError(t, err)
			er := NewReader(strings.NewReader(tc.input), tc.format, ReaderOptions{})
			var stream, byLine []string
			for {
				e, err := er.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				stream = append(stream, describe(e, err))
			}
			for _, l := range lines {
				e, skip, err := lp.Parse(l)
				if !skip {
					byLine = append(byLine, describe(e, err))
				}
			}
			assert.Equal(t, stream, byLine)
		})
	}
	// A quoted field may not span lines: an open quote is an error on its
	// own line, for the line parser as for the stream reader.
	lp, err := NewLineParser(FormatCSV, "user,item,time", ReaderOptions{})
	require.NoError(t, err)
	_, _, err = lp.Parse(`"u5,i05,2026-11-02`)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, `column 19: extraneous or missing " in quoted-field`, err.Error())

	_, err = NewLineParser(FormatCSV, "user,item,email", ReaderOptions{})
	assert.ErrorContains(t, err, `unknown column "email"`)
	_, err = NewLineParser(FormatCSV, "", ReaderOptions{})
	assert.Error(t, err)
}

// describe renders an event or its error without the line number, which
// only the stream reader knows.
func describe(e Event, err error) string {
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return fmt.Sprintf("error col %d field %q: %v", pe.Column, pe.Field, pe.Err)
		}
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%s %s %v %s", e.UserID, e.Item, e.Kind, e.Time.Format(time.RFC3339))
}

// FuzzLineParser checks that a line parsed alone gives what the stream reader
// gives for the same line after the same header, and never panics.
func FuzzLineParser(f *testing.F) {
	f.Add(0, "user,item,kind,time", "u1,i01,view,2026-11-02T10:00:00Z")
	f.Add(1, "", `{"user":"u","item":"i","time":"2026-11-02"}`)
	f.Add(2, "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country", `536365,85123A,"A, B",6,2010-12-01 08:26:00,2.55,17850.0,UK`)
	f.Fuzz(func(t *testing.T, format int, header, line string) {
		f := Format(uint(format) % 3)
		if strings.ContainsAny(header+line, "\r\n") || strings.TrimSpace(line) == "" || strings.TrimSpace(line) == strings.TrimSpace(header) {
			return
		}
		lp, err := NewLineParser(f, header, ReaderOptions{})
		if err != nil {
			return
		}
		e, skip, perr := lp.Parse(line)
		input := header + "\n" + line + "\n"
		if f == FormatJSONLines {
			input = line + "\n"
		}
		er := NewReader(bytes.NewReader([]byte(input)), f, ReaderOptions{})
		se, serr := er.Next()
		if skip {
			require.ErrorIs(t, serr, io.EOF, "line skipped alone but not in a stream")
			return
		}
		if errors.Is(serr, io.EOF) {
			// csv.Reader drops lines that hold only a comment or space.
			return
		}
		require.Equal(t, describe(se, serr), describe(e, perr))
	})
}

func TestSniff(t *testing.T) {
	for line, want := range map[string]Format{
		`  {"user":"u"}`:                       FormatJSONLines,
		"InvoiceNo,StockCode,Description":      FormatOnlineRetail,
		"\ufeffinvoiceno,stockcode,customerid": FormatOnlineRetail,
		"user,item,time":                       FormatCSV,
		"":                                     FormatCSV,
	} {
		assert.Equal(t, want, Sniff(line), line)
	}
}
