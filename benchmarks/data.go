package benchmarks

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/retailcat"
)

// Interaction is one user-item event at a time (Unix seconds).
type Interaction struct {
	Item int32
	Time int64
}

// Dataset is an interaction log with dense user and item indexes.
type Dataset struct {
	Name  string
	Items []string // item IDs by index
	// Categories, when not nil, holds each item's catalog category by
	// index ("" for none): the public catalog features a shop would have.
	Categories []string
	Users      [][]Interaction // per user, sorted by time, duplicates removed
	Dropped    int             // input lines dropped on purpose (cancellations, no customer)
}

// NumInteractions counts the interactions.
func (d *Dataset) NumInteractions() int {
	n := 0
	for _, u := range d.Users {
		n += len(u)
	}
	return n
}

type builder struct {
	d     *Dataset
	users map[string]int
	items map[string]int32
}

func newBuilder(name string) *builder {
	return &builder{d: &Dataset{Name: name}, users: map[string]int{}, items: map[string]int32{}}
}

func (b *builder) add(user, item string, t int64) {
	u, ok := b.users[user]
	if !ok {
		u = len(b.d.Users)
		b.users[user] = u
		b.d.Users = append(b.d.Users, nil)
	}
	i, ok := b.items[item]
	if !ok {
		i = int32(len(b.d.Items))
		b.items[item] = i
		b.d.Items = append(b.d.Items, item)
	}
	b.d.Users[u] = append(b.d.Users[u], Interaction{i, t})
}

func (b *builder) finish(path string) (*Dataset, error) {
	if len(b.d.Users) == 0 {
		return nil, fmt.Errorf("%s: no interactions", path)
	}
	for u, evs := range b.d.Users {
		slices.SortFunc(evs, func(a, b Interaction) int {
			if a.Time != b.Time {
				return int(a.Time - b.Time)
			}
			return int(a.Item - b.Item)
		})
		b.d.Users[u] = slices.Compact(evs)
	}
	return b.d, nil
}

func open(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		f.Close()
		return nil, nil, fmt.Errorf("%s: empty file", path)
	}
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	return r, func() { f.Close() }, nil
}

// LoadEvents reads a file in one of privrec's event formats: one user is
// one customer, one item one stock code. Malformed lines are errors naming
// the file, line and column; Online Retail cancellations and lines without
// a customer are dropped and counted.
func LoadEvents(path string, format events.Format) (*Dataset, error) {
	return loadEvents(path, format, events.ReaderOptions{})
}

// LoadCSV reads a generic CSV with a header naming user, item and
// optionally time (and kind); without a time column every event is at time 0.
func LoadCSV(path string) (*Dataset, error) {
	d, err := loadEvents(path, events.FormatCSV, events.ReaderOptions{DefaultTime: time.Unix(0, 0)})
	if d != nil {
		d.Name = filepath.Base(path)
	}
	return d, err
}

func loadEvents(path string, format events.Format, opts events.ReaderOptions) (*Dataset, error) {
	r, closeFn, err := open(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	b := newBuilder(path)
	er := events.NewReader(r, format, opts)
	for {
		e, err := er.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		b.add(e.UserID, e.Item, e.Time.Unix())
	}
	b.d.Dropped = er.Skipped()
	return b.finish(path)
}

// LoadOnlineRetail reads the UCI Online Retail CSV (optionally gzipped),
// with each product's category derived from its description by the
// keyword rule of internal/retailcat (Online Retail has no categories).
func LoadOnlineRetail(path string) (*Dataset, error) {
	d, err := LoadEvents(path, events.FormatOnlineRetail)
	if err != nil {
		return nil, err
	}
	d.Name = "Online Retail"
	desc, err := retailDescriptions(path)
	if err != nil {
		return nil, err
	}
	d.Categories = make([]string, len(d.Items))
	for i, id := range d.Items {
		d.Categories[i] = retailcat.Category(desc[id])
	}
	return d, nil
}

// retailDescriptions reads each stock code's first non-empty description
// from the Online Retail CSV.
func retailDescriptions(path string) (map[string]string, error) {
	r, closeFn, err := open(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	code, description := slices.Index(head, "StockCode"), slices.Index(head, "Description")
	if code < 0 || description < 0 {
		return nil, fmt.Errorf("%s: no StockCode or Description column", path)
	}
	out := map[string]string{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(code, description) {
			continue
		}
		if d := strings.TrimSpace(rec[description]); d != "" {
			if _, ok := out[rec[code]]; !ok {
				out[strings.Clone(rec[code])] = strings.Clone(d)
			}
		}
	}
}

// LoadMovieLens reads the MovieLens u.data format: tab-separated user, item,
// rating and Unix time. Every rating counts as an interaction.
func LoadMovieLens(path string) (*Dataset, error) {
	r, closeFn, err := open(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	b := newBuilder("MovieLens")
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("%s: line %d: %d tab-separated fields, want 4 (user, item, rating, time)", path, line, len(f))
		}
		for col, name := range []string{"user", "item"} {
			if f[col] == "" {
				return nil, fmt.Errorf("%s: line %d, column %d: empty %s", path, line, col+1, name)
			}
		}
		if _, err := strconv.ParseFloat(f[2], 64); err != nil {
			return nil, fmt.Errorf("%s: line %d, column 3: rating %q is not a number", path, line, f[2])
		}
		t, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d, column 4: time %q is not a Unix timestamp", path, line, f[3])
		}
		b.add(f[0], f[1], t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b.finish(path)
}

// LoadOnlineRetailInvoices reads the UCI Online Retail CSV with each
// invoice as one "user" (a basket), over the items most popular items by
// invoice count: the small, dense catalog on which many baskets stand
// behind every pair. Cancellations and lines without a positive quantity
// are dropped; categories come from descriptions as in LoadOnlineRetail.
func LoadOnlineRetailInvoices(path string, items int) (*Dataset, error) {
	r, closeFn, err := open(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for _, name := range []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate"} {
		if col[name] = slices.Index(head, name); col[name] < 0 {
			return nil, fmt.Errorf("%s: no %s column", path, name)
		}
	}
	type line struct{ invoice, item string }
	var lines []line
	baskets := map[string]map[string]bool{} // item -> invoices
	desc := map[string]string{}
	dropped := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		inv, item := rec[col["InvoiceNo"]], rec[col["StockCode"]]
		q, _ := strconv.ParseFloat(rec[col["Quantity"]], 64)
		if strings.HasPrefix(inv, "C") || q <= 0 || inv == "" || item == "" {
			dropped++
			continue
		}
		if _, ok := desc[item]; !ok {
			desc[item] = strings.TrimSpace(rec[col["Description"]])
		}
		if baskets[item] == nil {
			baskets[item] = map[string]bool{}
		}
		baskets[item][inv] = true
		lines = append(lines, line{inv, item})
	}
	codes := make([]string, 0, len(baskets))
	for c := range baskets {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b string) int {
		if d := len(baskets[b]) - len(baskets[a]); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	keep := map[string]bool{}
	for _, c := range codes[:min(items, len(codes))] {
		keep[c] = true
	}
	b := newBuilder(fmt.Sprintf("Online Retail invoices (%d items)", min(items, len(codes))))
	for _, l := range lines {
		if keep[l.item] {
			b.add(l.invoice, l.item, 0)
		}
	}
	d, err := b.finish(path)
	if err != nil {
		return nil, err
	}
	d.Dropped = dropped
	d.Categories = make([]string, len(d.Items))
	for i, id := range d.Items {
		d.Categories[i] = retailcat.Category(desc[id])
	}
	return d, nil
}
