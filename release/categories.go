package release

import (
	"fmt"
	"math"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/recommend"
)

// categories releases how strongly users stay within the catalog's public
// categories, as one statistic, and turns it into the concentration α of
// the model's category evidence (recommend.NewCategoryEvidence).
//
// For each user whose kept items include m ≥ 2 with a category, c_d of
// them in category d, the share of ordered pairs of those items that
// share a category, s_u = Σ_d c_d(c_d−1) / (m(m−1)), lies in [0, 1]. The
// part releases two sums over those users: Σ s_u and their number; one
// user changes each by at most 1. Their ratio r estimates the chance that
// two items of one user share a category.
//
// If users chose items by popularity alone, r would be S = Σ_d π_d², with
// π_d the category's share of the released popularity. A user whose
// category preferences are Dirichlet with mean π and concentration α has
// r = (α·S + 1)/(α + 1), so α = (1 − r)/(r − S). The release keeps the
// evidence only when r exceeds S by more than twice its standard error
// (noise and sampling), and takes α at one standard error below r, so that
// noise errs towards popularity.
type categories struct {
	share float64
}

// partCategories is the categories mechanism's part.
const partCategories = "category statistic"

func (categories) name() string { return "categories" }

func (c categories) parts(Options) []part {
	return []part{{
		spec:   dp.PartSpec{Name: partCategories, L0: 2, LInf: 1, Share: c.share},
		domain: "two sums over users with two or more items in categories: the share of their item pairs within one category, and their number",
	}}
}

func (c categories) release(b *builder) error {
	itemCat := make([]int32, b.cat.Len())
	for i := range itemCat {
		itemCat[i] = int32(b.cat.CategoryOf(i))
	}
	count := make([]int, len(b.cat.Categories()))
	var sum float64
	var users int64
	b.st.ForEachUser(func(items []uint32) {
		m := 0
		for _, it := range items {
			if d := itemCat[it]; d >= 0 {
				count[d]++
				m++
			}
		}
		if m >= 2 {
			within := 0
			for _, it := range items {
				if d := itemCat[it]; d >= 0 && count[d] > 0 {
					within += count[d] * (count[d] - 1)
					count[d] = 0
				}
			}
			sum += float64(within) / float64(m*(m-1))
			users++
		} else {
			for _, it := range items {
				if d := itemCat[it]; d >= 0 {
					count[d] = 0
				}
			}
		}
	})
	ctr, err := b.useOnly(c)
	if err != nil {
		return err
	}
	noisySum, err := ctr.NoisyFloat(sum)
	if err != nil {
		return err
	}
	noisyUsers, err := ctr.Noisy(users)
	if err != nil {
		return err
	}
	b.values[partCategories] = 2
	b.observed(partCategories, ctr, nil, []float64{noisySum, float64(noisyUsers)})
	alpha, note := categoryConcentration(noisySum, float64(noisyUsers), ctr.Sigma(), categoryNull(b.pop, itemCat, len(count)))
	b.note(note)
	if alpha == 0 {
		return nil
	}
	ev, err := recommend.NewCategoryEvidence(alpha)
	if err != nil {
		return err
	}
	b.evidence = append(b.evidence, ev)
	return nil
}

// categoryNull returns S = Σ_d π_d², where π_d is category d's share of
// the popularity of the items that have a category.
func categoryNull(pop []float64, itemCat []int32, nCats int) float64 {
	share := make([]float64, nCats)
	total := 0.0
	for i, p := range pop {
		if d := itemCat[i]; d >= 0 {
			share[d] += p
			total += p
		}
	}
	if total == 0 {
		return 1
	}
	s := 0.0
	for _, x := range share {
		s += (x / total) * (x / total)
	}
	return s
}

// categoryConcentration estimates α from the released sum of per-user
// within-category shares and the released number of users (each with
// noise σ), against the popularity-only value S. It returns 0 when the
// statistic does not show, beyond noise and sampling, that users stay in
// categories, and a note for the report either way.
func categoryConcentration(sum, n, sigma, s float64) (alpha float64, note string) {
	if n < 1 || s >= 1 {
		return 0, "categories: too few users with two items in categories; no category evidence"
	}
	r := math.Min(math.Max(sum/n, 0), 1)
	// Standard error of the ratio: the noise on both sums (delta method)
	// and the sampling of users (terms in [0, 1]).
	se := math.Sqrt(sigma*sigma*(1+r*r)/(n*n) + r*(1-r)/n)
	if r-s <= 2*se {
		return 0, fmt.Sprintf("categories: %.3f of a user's item pairs share a category, %.3f under popularity alone (standard error %.3f): no clear preference for categories; no category evidence", r, s, se)
	}
	lo := r - se
	alpha = math.Max((1-lo)/(lo-s), 1e-3) // α → 0 is "only the context's categories"
	return alpha, fmt.Sprintf("categories: %.3f of a user's item pairs share a category, %.3f under popularity alone (standard error %.3f): category evidence with concentration α = %.3g", r, s, se, alpha)
}
