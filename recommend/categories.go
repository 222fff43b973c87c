package recommend

import (
	"fmt"
	"math"
)

// categories is evidence that shoppers buy within categories: a context
// raises the popularity of items in its own categories. It is a
// Dirichlet-multinomial model of a shopper's category preferences. With
// prior shares π_d (each category's share of the released popularity of
// items with a category) and concentration α, a context whose m items with
// a category hold n_d in category d predicts category d with probability
// (n_d + α·π_d)/(m + α), so an item j in category d scores
//
//	p_j · (n_d/π_d + α) / (m + α)
//
// instead of p_j: the popularity of the context's categories rises, that
// of every other category falls by the factor α/(m + α), and the average
// factor over items with a category, weighted by popularity, stays 1.
// Items without a category keep p_j. A small α means that shoppers stay in
// their categories; α → ∞ is popularity.
type categories struct {
	alpha float64
}

// NewCategoryEvidence returns category evidence with concentration alpha
// (finite and > 0; see the package documentation of release for how a
// release estimates it). The category shares come from the model's
// popularity, so the evidence is one number.
func NewCategoryEvidence(alpha float64) (Evidence, error) {
	c := &categories{alpha: alpha}
	if err := c.check(nil); err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	return c, nil
}

func (c *categories) evidence() evidence { return c }
func (c *categories) tag() sectionTag    { return tagCategories }

func (c *categories) count(ct *Contents) { ct.CategoryConcentration = c.alpha }

func (c *categories) check(*Catalog) error {
	if !(c.alpha > 0) || math.IsInf(c.alpha, 0) {
		return fmt.Errorf("category concentration %v must be finite and > 0", c.alpha)
	}
	return nil
}

func (c *categories) explain(*run) {}

func (c *categories) apply(r *run) {
	sc, itemCat := r.sc, r.m.itemCat
	m := 0
	for _, i := range r.ctx {
		d := itemCat[i]
		if d < 0 {
			continue
		}
		if sc.catCount[d] == 0 {
			sc.catTouched = append(sc.catTouched, d)
		}
		sc.catCount[d]++
		m++
	}
	if m == 0 {
		return
	}
	mα := float64(m) + c.alpha
	sc.catBase = c.alpha / mα
	for _, d := range sc.catTouched {
		// A category with no released popularity has only items that
		// score 0 whatever the factor.
		share := max(r.m.catShare[d], math.SmallestNonzeroFloat64)
		sc.catFactor[d] = (float64(sc.catCount[d])/share + c.alpha) / mα
	}
}

func (c *categories) encode(e *encoder) { e.f64(c.alpha) }

// decodeCategories reads a category section.
func decodeCategories(d *decoder, cat *Catalog) (*categories, error) {
	if !d.need(1, 8) {
		return nil, d.err
	}
	c := &categories{alpha: d.f64()}
	if d.err != nil {
		return nil, d.err
	}
	return c, c.check(cat)
}
