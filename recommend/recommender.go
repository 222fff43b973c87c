package recommend

import (
	"errors"
	"sync/atomic"
)

// ErrNoModel is returned by a Recommender that has no model yet.
var ErrNoModel = errors.New("recommend: no model loaded")

// Recommender serves queries from the current Model and lets a new one be
// swapped in atomically: queries running during a swap finish on the model
// they started with, later ones use the new one. It needs no key and no
// per-user state. It is safe for concurrent use.
type Recommender struct {
	cur atomic.Pointer[Model]
}

// NewRecommender returns a Recommender serving m (which may be nil).
func NewRecommender(m *Model) *Recommender {
	r := &Recommender{}
	if m != nil {
		r.cur.Store(m)
	}
	return r
}

// Swap installs m and returns the previous model. A nil m is ignored.
func (r *Recommender) Swap(m *Model) *Model {
	if m == nil {
		return r.cur.Load()
	}
	return r.cur.Swap(m)
}

// Model returns the current model, or nil.
func (r *Recommender) Model() *Model { return r.cur.Load() }

func (r *Recommender) model() (*Model, error) {
	m := r.cur.Load()
	if m == nil {
		return nil, ErrNoModel
	}
	return m, nil
}

// ForContextInto answers from the current model; see Model.ForContextInto.
func (r *Recommender) ForContextInto(res *Result, context []string, n int, opts QueryOptions) error {
	m, err := r.model()
	if err != nil {
		return err
	}
	return m.ForContextInto(res, context, n, opts)
}

// SimilarInto answers from the current model; see Model.SimilarInto.
func (r *Recommender) SimilarInto(res *Result, item string, n int, opts QueryOptions) error {
	m, err := r.model()
	if err != nil {
		return err
	}
	return m.SimilarInto(res, item, n, opts)
}

// PopularInto answers from the current model; see Model.PopularInto.
func (r *Recommender) PopularInto(res *Result, n int, opts QueryOptions) error {
	m, err := r.model()
	if err != nil {
		return err
	}
	return m.PopularInto(res, n, opts)
}
