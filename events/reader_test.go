package events

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readAll(t *testing.T, in string, f Format, opts ReaderOptions) ([]Event, []error) {
	t.Helper()
	er := NewReader(strings.NewReader(in), f, opts)
	var evs []Event
	var errs []error
	for range 1000 {
		e, err := er.Next()
		if err == io.EOF {
			return evs, errs
		}
		if err != nil {
			errs = append(errs, err)
			var pe *ParseError
			if !errors.As(err, &pe) || (pe.Line == 1 && f != FormatJSONLines) {
				return evs, errs // stream-ending or header error
			}
			continue
		}
		evs = append(evs, e)
	}
	t.Fatal("reader did not end")
	return nil, nil
}

func TestReaderCSV(t *testing.T) {
	in := "user,item,kind,time\n" +
		"u1,i1,view,2026-11-02T10:00:00Z\n" +
		"u2,i2,,2026-11-02 11:00:00\n" +
		"u3,i3,purchase,yesterday\n" +
		",i4,view,2026-11-02T10:00:00Z\n" +
		"u5,i5,smell,2026-11-02T10:00:00Z\n" +
		"u6,i6\n" +
		"u7,i7,cart,2026-11-02T12:00:00+01:00\n"
	evs, errs := readAll(t, in, FormatCSV, ReaderOptions{})
	require.Len(t, evs, 3)
	assert.Equal(t, Event{UserID: "u1", Item: "i1", Kind: KindView, Time: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}, evs[0])
	assert.Equal(t, KindPurchase, evs[1].Kind, "default kind")
	assert.True(t, evs[2].Time.Equal(time.Date(2026, 11, 2, 11, 0, 0, 0, time.UTC)))
	require.Len(t, errs, 4)
	want := []string{
		"line 4, column 4 (time): unrecognized time",
		"line 5, column 1 (user): empty",
		"line 6, column 3 (kind): events: unknown event kind",
		"line 7: 2 fields, header has 4",
	}
	for i, w := range want {
		assert.Contains(t, errs[i].Error(), w)
	}
	for _, err := range errs {
		assert.NotContains(t, err.Error(), "u5", "errors never quote the user ID")
	}
}

func TestReaderCSVHeaders(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", "empty input"},
		{"unknown column", "user,item,time,email\n", `line 1, column 4: unknown column "email"`},
		{"duplicate", "user,user,item,time\n", "duplicate column"},
		{"no time", "user,item\nu,i\n", `missing column "time"`},
		{"no item", "user,time\n", `missing column "item"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := readAll(t, tc.in, FormatCSV, ReaderOptions{})
			require.NotEmpty(t, errs)
			assert.Contains(t, errs[0].Error(), tc.want)
		})
	}
	// With a default time, the time column is optional.
	at := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	evs, errs := readAll(t, "user,item\nu,i\n", FormatCSV, ReaderOptions{DefaultTime: at})
	require.Empty(t, errs)
	assert.Equal(t, []Event{{UserID: "u", Item: "i", Kind: KindPurchase, Time: at}}, evs)
}

func TestReaderJSONLines(t *testing.T) {
	in := `{"user":"u1","item":"i1","kind":"cart","time":"2026-11-02T10:00:00Z"}` + "\n" +
		"\n" +
		`{"user":"u2","item":"i2","time":"2026-11-02T10:00:00Z","email":"x@y"}` + "\n" +
		`{"user":"u3","item":"i3"}` + "\n" +
		`{"user":"u4","item":` + "\n" +
		`{"user":5,"item":"i5","time":"2026-11-02T10:00:00Z"}` + "\n" +
		`{"item":"i6","time":"2026-11-02T10:00:00Z"}` + "\n" +
		`{"user":"u7","item":"i7","time":"2026-11-02T10:00:00Z"} {}` + "\n"
	evs, errs := readAll(t, in, FormatJSONLines, ReaderOptions{})
	require.Len(t, evs, 1)
	assert.Equal(t, Event{UserID: "u1", Item: "i1", Kind: KindCart, Time: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}, evs[0])
	want := []string{
		`line 3: unknown field "email" (only user, item, kind, time are collected)`,
		"line 4 (time): missing",
		"line 5: invalid JSON",
		`line 6: field "user" has the wrong type`,
		"line 7 (user): missing or empty",
		"line 8: more than one JSON value",
	}
	require.Len(t, errs, len(want))
	for i, w := range want {
		assert.Contains(t, errs[i].Error(), w)
	}
}

func TestReaderOnlineRetail(t *testing.T) {
	in := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n" +
		"C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom\n" +
		"536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom\n" +
		"536366,22633,\"HAND WARMER, UNION JACK\",6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n" +
		"536367,84879,BIRD,x,2010-12-01 08:34:00,1.69,13047.0,United Kingdom\n" +
		"536368,22960,JAM,-3,2010-12-01 08:34:00,4.25,13047.0,United Kingdom\n"
	er := NewReader(strings.NewReader(in), FormatOnlineRetail, ReaderOptions{})
	var evs []Event
	var errs []error
	for {
		e, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evs = append(evs, e)
	}
	require.Len(t, evs, 2)
	assert.Equal(t, Event{UserID: "17850", Item: "85123A", Kind: KindPurchase, Time: time.Date(2010, 12, 1, 8, 26, 0, 0, time.UTC)}, evs[0])
	assert.Equal(t, "22633", evs[1].Item)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "line 6, column 4 (Quantity): not a number")
	assert.Equal(t, 3, er.Skipped(), "cancellation, missing customer, negative quantity")
}

func fuzzReader(f *testing.F, format Format, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		er := NewReader(strings.NewReader(in), format, ReaderOptions{})
		for range 10000 {
			e, err := er.Next()
			if err == io.EOF {
				return
			}
			var pe *ParseError
			if err != nil {
				if !errors.As(err, &pe) {
					return // a stream-ending error
				}
				if pe.Line == 1 && format != FormatJSONLines {
					return // header errors are sticky
				}
				continue
			}
			require.NotEmpty(t, e.UserID)
			require.NotEmpty(t, e.Item)
			require.True(t, e.Kind.Valid())
			require.False(t, e.Time.IsZero())
		}
	})
}

func FuzzReaderCSV(f *testing.F) {
	fuzzReader(f, FormatCSV,
		"user,item,kind,time\nu,i,view,2026-11-02T10:00:00Z\n",
		"time,item,user\n2026-11-02,a,b\n\"x\n",
		"user,item,time\nu,,2026-11-02\n")
}

func FuzzReaderJSONLines(f *testing.F) {
	fuzzReader(f, FormatJSONLines,
		`{"user":"u","item":"i","kind":"view","time":"2026-11-02T10:00:00Z"}`+"\n",
		`{"user":"u","item":"i"}`+"\n{\n",
		`{"user":"u","item":"i","time":"2026-11-02T10:00:00Z","x":1}`)
}

func FuzzReaderOnlineRetail(f *testing.F) {
	fuzzReader(f, FormatOnlineRetail,
		"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,X,6,2010-12-01 08:26:00,2.55,17850.0,UK\n",
		"InvoiceNo,StockCode,Quantity,InvoiceDate,CustomerID\nC1,a,1,2010-12-01,1\n")
}

// One record per line: a stray quote spoils its own line, never the lines
// after it, and an over-long line is one bad line too.
func TestStrayQuoteSpoilsOnlyItsLine(t *testing.T) {
	input := "user,item,time\n" +
		"u1,i01,2026-11-02T10:00:00Z\n" +
		"\"u2,i02,2026-11-02T10:00:00Z\n" +
		"u3,i0\"3,2026-11-02T10:00:00Z\n" +
		"u4," + strings.Repeat("x", MaxLineBytes) + ",2026-11-02T10:00:00Z\n" +
		"\n" +
		"u5,i05,2026-11-02T10:00:00Z"
	r := NewReader(strings.NewReader(input), FormatCSV, ReaderOptions{})
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		var pe *ParseError
		if errors.As(err, &pe) {
			got = append(got, fmt.Sprintf("line %d: error", pe.Line))
			continue
		}
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("line %d: %s", r.Line(), e.Item))
	}
	assert.Equal(t, []string{"line 2: i01", "line 3: error", "line 4: error", "line 5: error", "line 7: i05"}, got)
}

// BenchmarkReaderCSV reads the embedded-sample-sized CSV stream: the cost
// of reading, splitting and checking one event.
func BenchmarkReaderCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("user,item,kind,time\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "user-%d,item-%d,purchase,2026-11-02T10:00:00Z\n", i%977, i%313)
	}
	input := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(strings.NewReader(input), FormatCSV, ReaderOptions{})
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/event")
}
