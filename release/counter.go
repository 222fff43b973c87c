package release

import (
	"math"

	"github.com/privrec/privrec/dp"
)

// counter adds noise to a part's values: a *dp.Counter calibrated by the
// plan, or exact for a non-private reference.
type counter interface {
	Noisy(x int64) (int64, error)
	NoisyFloat(x float64) (float64, error)
	Keep(noisy int64) bool
	Sigma() float64
}

var _ counter = (*dp.Counter)(nil)

// exact adds no noise: for non-private reference models only.
type exact struct{}

func (exact) Noisy(x int64) (int64, error)          { return x, nil }
func (exact) NoisyFloat(x float64) (float64, error) { return x, nil }
func (exact) Keep(x int64) bool                     { return x > 0 }
func (exact) Sigma() float64                        { return 0 }

// noisy releases folded sums through c. Unweighted sums are integer counts
// and get the DP library's integer noise; sums that may be weighted get the
// same noise in floating point, rounded afterwards (post-processing).
// Whether they may be is decided from the options, never from the data:
// the choice between the two must not depend on anyone's items.
func noisy(sums []float64, c counter, weighted bool) ([]int64, error) {
	out := make([]int64, len(sums))
	if !weighted {
		for i, x := range sums {
			y, err := c.Noisy(int64(x))
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	}
	for i, x := range sums {
		y, err := c.NoisyFloat(x)
		if err != nil {
			return nil, err
		}
		out[i] = int64(math.Round(y))
	}
	return out, nil
}
