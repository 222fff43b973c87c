package events

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitCSVLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		col  int
		err  error
	}{
		{"a,b,c", []string{"a", "b", "c"}, 0, nil},
		{`a,"b,c",d`, []string{"a", "b,c", "d"}, 0, nil},
		{`"say ""hi""",x`, []string{`say "hi"`, "x"}, 0, nil},
		{"a,,", []string{"a", "", ""}, 0, nil},
		{` a , b`, []string{" a ", " b"}, 0, nil},
		{`""`, []string{""}, 0, nil},
		{`a,b"c`, nil, 4, csv.ErrBareQuote},
		{`a,"bc`, nil, 6, csv.ErrQuote},
		{`a,"b"c`, nil, 6, csv.ErrQuote},
	} {
		got, col, err := splitCSVLine(tc.line, nil)
		if tc.err != nil {
			require.ErrorIs(t, err, tc.err, tc.line)
			assert.Equal(t, tc.col, col, tc.line)
			continue
		}
		require.NoError(t, err, tc.line)
		assert.Equal(t, tc.want, got, tc.line)
	}
}

// FuzzSplitCSVLine checks splitCSVLine against encoding/csv on lines that
// hold one record: the same fields, or an error of the same kind. (The
// column of an unclosed quote differs: encoding/csv reports it at the end
// of its input.)
func FuzzSplitCSVLine(f *testing.F) {
	for _, s := range []string{"a,b", `a,"b,c"`, `"x""y",z`, `a"b`, `"ab`, `"a"b`, ",,", " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if line == "" || strings.ContainsAny(line, "\r\n") {
			return
		}
		got, col, err := splitCSVLine(line, nil)
		r := csv.NewReader(strings.NewReader(line))
		r.FieldsPerRecord = -1
		want, werr := r.Read()
		if werr == io.EOF {
			return // encoding/csv skips a line it reads as empty
		}
		if werr != nil {
			var pe *csv.ParseError
			require.ErrorAs(t, werr, &pe)
			require.Error(t, err, "encoding/csv refused %q (%v)", line, werr)
			require.True(t, errors.Is(err, pe.Err), "%q: %v, encoding/csv %v", line, err, pe.Err)
			if pe.Err == csv.ErrBareQuote {
				require.Equal(t, pe.Column, col, "%q", line)
			}
			return
		}
		require.NoError(t, err, "%q", line)
		require.Equal(t, want, got, "%q", line)
	})
}
