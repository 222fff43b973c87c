package release

import (
	"fmt"
	"strings"
)

// Mechanisms is a set of release mechanisms. The zero value, Auto, lets
// the release choose (see Auto); any other set runs exactly its members,
// with Popularity always among them.
type Mechanisms uint8

const (
	// Popularity releases the number of users per catalog item, noise on
	// every item. Every release runs it: the model ranks by it wherever
	// there is no other evidence. Alone, it is a popularity-only release
	// with the whole budget on item counts and no pair noise drawn.
	Popularity Mechanisms = 1 << iota
	// Pairs releases the number of users per pair of items and turns what
	// the counts say beyond popularity into neighbour lists ("bought
	// together"). It needs K ≥ 2.
	Pairs
	// Categories releases one statistic: how much more often a user's
	// items share a catalog category than popularity predicts. The model
	// then raises the popularity of a context's categories ("popular in
	// kitchen"). The categories are public, so one number carries it; it
	// needs a catalog with at least two categories.
	Categories

	allMechanisms = Popularity | Pairs | Categories
)

// Auto is the default: the release spends a small slice of the budget on
// the number of active users, releases popularity, uses the catalog's
// categories when it has at least two, and gives the rest of the budget
// either to pair counts or to a second popularity release, whichever the
// released counts predict will carry more signal (see the package
// documentation). Its cost is the same whatever it chooses; the model's
// report says what it chose and why.
const Auto Mechanisms = 0

var mechanismNames = []struct {
	m    Mechanisms
	name string
}{{Popularity, "popularity"}, {Pairs, "pairs"}, {Categories, "categories"}}

// String returns "auto" or the members joined by "+", e.g.
// "popularity+categories".
func (m Mechanisms) String() string {
	if m == Auto {
		return "auto"
	}
	var parts []string
	for _, n := range mechanismNames {
		if m&n.m != 0 {
			parts = append(parts, n.name)
		}
	}
	if rest := m &^ allMechanisms; rest != 0 {
		parts = append(parts, fmt.Sprintf("Mechanisms(%#x)", uint8(rest)))
	}
	return strings.Join(parts, "+")
}

// ParseMechanisms parses "auto" or a list of mechanism names separated by
// "+" or ",": "popularity", "pairs", "categories". Popularity is added when
// missing: every release runs it.
func ParseMechanisms(s string) (Mechanisms, error) {
	if strings.TrimSpace(s) == "auto" || strings.TrimSpace(s) == "" {
		return Auto, nil
	}
	m := Popularity
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '+' || r == ',' }) {
		f = strings.TrimSpace(f)
		found := false
		for _, n := range mechanismNames {
			if f == n.name {
				m |= n.m
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("release: unknown mechanism %q (want auto, or popularity, pairs and categories joined by +)", f)
		}
	}
	return m, nil
}
