// Package retailcat derives a category for an Online Retail product from
// its description, by the first of a fixed list of keywords it contains
// ("MUG" → kitchen, "CANDLE" → candles...). Online Retail has no
// categories of its own; this public, description-only rule gives the
// embedded sample and the benchmark harness the kind of taxonomy a shop's
// catalog has. Products matching no keyword have no category.
package retailcat

import "strings"

// keywords are tried in order; the first contained in a description wins.
var keywords = []struct{ word, cat string }{
	{"CHRISTMAS", "christmas"}, {"BAG", "bags"}, {"CANDLE", "candles"}, {"T-LIGHT", "candles"},
	{"MUG", "kitchen"}, {"CAKE", "kitchen"}, {"TEA", "kitchen"}, {"LUNCH", "kitchen"}, {"BOWL", "kitchen"},
	{"JAR", "kitchen"}, {"PLATE", "kitchen"}, {"CUP", "kitchen"}, {"CARD", "stationery"}, {"PAPER", "stationery"},
	{"WRAP", "stationery"}, {"NOTEBOOK", "stationery"}, {"PEN", "stationery"}, {"SIGN", "decor"},
	{"HEART", "decor"}, {"FRAME", "decor"}, {"CLOCK", "decor"}, {"LANTERN", "decor"}, {"HOLDER", "decor"},
	{"GARLAND", "decor"}, {"BUNTING", "decor"}, {"CUSHION", "home"}, {"BOTTLE", "home"}, {"DOORMAT", "home"},
	{"TOY", "toys"}, {"DOLLY", "toys"}, {"SPACEBOY", "toys"}, {"DOLL", "toys"}, {"GAME", "toys"},
	{"NECKLACE", "jewellery"}, {"EARRINGS", "jewellery"}, {"BRACELET", "jewellery"},
}

// Category returns the category of a product with the given description,
// or "" when no keyword matches.
func Category(description string) string {
	d := strings.ToUpper(description)
	for _, k := range keywords {
		if strings.Contains(d, k.word) {
			return k.cat
		}
	}
	return ""
}
