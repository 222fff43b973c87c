package recommend

import "sync/atomic"

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
