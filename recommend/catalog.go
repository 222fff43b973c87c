package recommend

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits on catalogs: item IDs and categories are at most MaxItemIDLen
// bytes, names at most MaxItemNameLen; a catalog holds at most ten million
// items.
const (
	MaxItemIDLen   = 256
	MaxItemNameLen = 1024
	maxCatalogSize = 10_000_000
)

// Item is one public catalog entry. Everything in a catalog is public: it is
// what the shop shows to every visitor.
type Item struct {
	// ID is the item's identifier (a SKU or stock code); required, unique.
	ID string `json:"id"`
	// Category is optional; queries can filter on it and Popular can rank
	// within it.
	Category string `json:"category,omitempty"`
	// Name is an optional human-readable name, used only for display.
	Name string `json:"name,omitempty"`
}

// Catalog is the public set of items that events may refer to. It is
// immutable and safe for concurrent use.
type Catalog struct {
	items      []Item
	ids        []string // items[i].ID, for queries
	index      map[string]uint32
	categories []string         // distinct, in order of first appearance
	catIndex   map[string]int32 // category -> position in categories
	itemCat    []int32          // per item: position in categories, -1 if none
}

// CatalogError reports a bad catalog entry.
type CatalogError struct {
	// Line is the 1-based input line for ReadCatalogCSV, or the 1-based
	// entry number for NewCatalog.
	Line int
	Err  error
}

func (e *CatalogError) Error() string { return fmt.Sprintf("catalog: line %d: %v", e.Line, e.Err) }
func (e *CatalogError) Unwrap() error { return e.Err }

// ErrDuplicateItem is wrapped in the *CatalogError of a repeated item ID.
var ErrDuplicateItem = errors.New("duplicate item ID")

// NewCatalog builds a catalog from items, which are copied. IDs must be
// non-empty, valid UTF-8, at most MaxItemIDLen bytes, without control
// characters, and unique.
func NewCatalog(items []Item) (*Catalog, error) {
	if len(items) == 0 {
		return nil, errors.New("catalog: no items")
	}
	if len(items) > maxCatalogSize {
		return nil, fmt.Errorf("catalog: %d items, more than %d", len(items), maxCatalogSize)
	}
	c := &Catalog{
		items:    make([]Item, len(items)),
		ids:      make([]string, len(items)),
		index:    make(map[string]uint32, len(items)),
		catIndex: make(map[string]int32),
		itemCat:  make([]int32, len(items)),
	}
	for i, it := range items {
		if err := validateItem(it); err != nil {
			return nil, &CatalogError{i + 1, err}
		}
		if _, dup := c.index[it.ID]; dup {
			return nil, &CatalogError{i + 1, fmt.Errorf("%w %q", ErrDuplicateItem, it.ID)}
		}
		c.items[i] = it
		c.ids[i] = it.ID
		c.index[it.ID] = uint32(i)
		c.itemCat[i] = -1
		if it.Category != "" {
			ci, ok := c.catIndex[it.Category]
			if !ok {
				ci = int32(len(c.categories))
				c.categories = append(c.categories, it.Category)
				c.catIndex[it.Category] = ci
			}
			c.itemCat[i] = ci
		}
	}
	return c, nil
}

func validateItem(it Item) error {
	if err := checkText(it.ID, MaxItemIDLen, false); err != nil {
		return fmt.Errorf("invalid item ID: %v", err)
	}
	if err := checkText(it.Category, MaxItemIDLen, true); err != nil {
		return fmt.Errorf("invalid category: %v", err)
	}
	if err := checkText(it.Name, MaxItemNameLen, true); err != nil {
		return fmt.Errorf("invalid name: %v", err)
	}
	return nil
}

func checkText(s string, maxLen int, emptyOK bool) error {
	switch {
	case s == "" && !emptyOK:
		return errors.New("empty")
	case len(s) > maxLen:
		return fmt.Errorf("longer than %d bytes", maxLen)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("contains control characters")
	}
	return nil
}

// ReadCatalogCSV reads a catalog from CSV with a header row. The header must
// contain "id" and may contain "category" and "name", in any order; other
// columns are refused, so that nothing unexpected is loaded.
func ReadCatalogCSV(r io.Reader) (*Catalog, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("catalog: empty input")
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: header: %w", err)
	}
	col := map[string]int{"id": -1, "category": -1, "name": -1}
	for i, h := range header {
		h = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(h)), "\ufeff")
		j, known := col[h]
		if !known {
			return nil, fmt.Errorf("catalog: line 1, column %d: unknown column %q (want id, category, name)", i+1, h)
		}
		if j >= 0 {
			return nil, fmt.Errorf("catalog: line 1, column %d: duplicate column %q", i+1, h)
		}
		col[h] = i
	}
	if col["id"] < 0 {
		return nil, errors.New("catalog: line 1: no id column")
	}
	var items []Item
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(items) >= maxCatalogSize {
			return nil, fmt.Errorf("catalog: line %d: more than %d items", line, maxCatalogSize)
		}
		it := Item{ID: strings.TrimSpace(rec[col["id"]])}
		if j := col["category"]; j >= 0 {
			it.Category = strings.TrimSpace(rec[j])
		}
		if j := col["name"]; j >= 0 {
			it.Name = strings.TrimSpace(rec[j])
		}
		items = append(items, it)
		lines = append(lines, line)
	}
	if len(items) == 0 {
		return nil, errors.New("catalog: no items after the header")
	}
	c, err := NewCatalog(items)
	var ce *CatalogError
	if errors.As(err, &ce) {
		return nil, &CatalogError{Line: lines[ce.Line-1], Err: ce.Err}
	}
	return c, err
}

// Len returns the number of items.
func (c *Catalog) Len() int { return len(c.items) }

// Item returns the i-th item, in the order given to NewCatalog.
func (c *Catalog) Item(i int) Item { return c.items[i] }

// Lookup returns the item with the given ID.
func (c *Catalog) Lookup(id string) (Item, bool) {
	i, ok := c.index[id]
	if !ok {
		return Item{}, false
	}
	return c.items[i], true
}

// Index returns the position of the item with the given ID, in the order
// given to NewCatalog.
func (c *Catalog) Index(id string) (int, bool) {
	i, ok := c.index[id]
	return int(i), ok
}

// Categories returns the distinct categories, in order of first appearance.
func (c *Catalog) Categories() []string { return append([]string(nil), c.categories...) }

// CategoryOf returns the position in Categories of item i's category, or -1
// for an item without one.
func (c *Catalog) CategoryOf(i int) int { return int(c.itemCat[i]) }
