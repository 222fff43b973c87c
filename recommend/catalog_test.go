package recommend

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewCatalogRejectsBadItems(t *testing.T) {
	cases := []struct {
		name  string
		items []Item
		want  string
	}{
		{"no items", nil, "no items"},
		{"empty id", []Item{{ID: ""}}, "empty"},
		{"long id", []Item{{ID: strings.Repeat("x", MaxItemIDLen+1)}}, "longer than"},
		{"invalid utf-8", []Item{{ID: "\xff"}}, "UTF-8"},
		{"control char", []Item{{ID: "a\nb"}}, "control"},
		{"duplicate", []Item{{ID: "a"}, {ID: "a"}}, "duplicate item ID"},
		{"bad category", []Item{{ID: "a", Category: "\x00"}}, "invalid category"},
		{"long name", []Item{{ID: "a", Name: strings.Repeat("n", MaxItemNameLen+1)}}, "invalid name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCatalog(tc.items)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCatalogLookups(t *testing.T) {
	c, err := NewCatalog([]Item{{ID: "i00", Category: "even"}, {ID: "i01", Category: "odd"}, {ID: "i02", Category: "even"}, {ID: "i03", Category: "odd", Name: "Item 3"}, {ID: "i04"}})
	require.NoError(t, err)
	assert.Equal(t, 5, c.Len())
	it, ok := c.Lookup("i03")
	require.True(t, ok)
	assert.Equal(t, Item{ID: "i03", Category: "odd", Name: "Item 3"}, it)
	i, ok := c.Index("i03")
	assert.True(t, ok)
	assert.Equal(t, 3, i)
	_, ok = c.Index("nope")
	assert.False(t, ok)
	assert.Equal(t, []string{"even", "odd"}, c.Categories())
	assert.Equal(t, []int{0, 1, 0, 1, -1}, []int{c.CategoryOf(0), c.CategoryOf(1), c.CategoryOf(2), c.CategoryOf(3), c.CategoryOf(4)})
}

func TestReadCatalogCSV(t *testing.T) {
	c, err := ReadCatalogCSV(strings.NewReader("\ufeffname,ID,category\n\"Mug, red\",m1,kitchen\nCard,c1,\n"))
	require.NoError(t, err)
	assert.Equal(t, 2, c.Len())
	it, _ := c.Lookup("m1")
	assert.Equal(t, Item{ID: "m1", Category: "kitchen", Name: "Mug, red"}, it)

	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"header only", "id\n", "no items"},
		{"unknown column", "id,price\na,1\n", `line 1, column 2: unknown column "price"`},
		{"duplicate column", "id,id\na,b\n", "duplicate column"},
		{"no id column", "name\nx\n", "no id column"},
		{"duplicate id", "id\na\nb\na\n", "line 4: duplicate item ID"},
		{"empty id", "id,name\na,x\n,y\n", "line 3: invalid item ID"},
		{"ragged", "id,name\na\n", "wrong number of fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCatalogCSV(strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	var ce *CatalogError
	_, err = ReadCatalogCSV(strings.NewReader("id\na\na\n"))
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, 3, ce.Line)
	assert.ErrorIs(t, err, ErrDuplicateItem)
}

func FuzzReadCatalogCSV(f *testing.F) {
	f.Add("id,category,name\na,b,c\n")
	f.Add("name,id\n\"x,y\",1\n")
	f.Add("id\n\xff\n")
	f.Add("id,category\na,\nb,c\nb,d\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ReadCatalogCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		// Every accepted item is valid and findable.
		for i := range c.Len() {
			it := c.Item(i)
			require.NoError(t, validateItem(it))
			got, ok := c.Lookup(it.ID)
			require.True(t, ok)
			require.Equal(t, it, got)
		}
	})
}
