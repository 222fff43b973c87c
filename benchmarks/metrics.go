package benchmarks

import "math"

// Metrics are ranking metrics at a cutoff k, averaged over test users.
type Metrics struct {
	HR, Precision, Recall, NDCG, MAP, Coverage float64
}

// Scorer returns, for one user's training items, the top-n items of the
// whole catalog, excluding the training items, best first.
type Scorer interface {
	Name() string
	Recommend(train []int32, n int, out []int32) []int32
}

// Evaluate ranks the catalog for every test user and averages the metrics.
func Evaluate(s Split, m Scorer, k int) Metrics {
	var sum Metrics
	users := 0
	shown := make([]bool, s.Items)
	var buf []int32
	rel := map[int32]bool{}
	for u, test := range s.Test {
		if len(test) == 0 {
			continue
		}
		users++
		clear(rel)
		for _, it := range test {
			rel[it] = true
		}
		buf = m.Recommend(s.Train[u], k, buf[:0])
		hits, dcg, ap := 0, 0.0, 0.0
		for i, it := range buf {
			shown[it] = true
			if rel[it] {
				hits++
				dcg += 1 / math.Log2(float64(i+2))
				ap += float64(hits) / float64(i+1)
			}
		}
		idcg := 0.0
		ideal := min(k, len(test))
		for i := range ideal {
			idcg += 1 / math.Log2(float64(i+2))
		}
		if hits > 0 {
			sum.HR++
		}
		sum.Precision += float64(hits) / float64(k)
		sum.Recall += float64(hits) / float64(len(test))
		sum.NDCG += dcg / idcg
		sum.MAP += ap / float64(ideal)
	}
	if users == 0 {
		return Metrics{}
	}
	n := float64(users)
	cov := 0
	for _, s := range shown {
		if s {
			cov++
		}
	}
	return Metrics{sum.HR / n, sum.Precision / n, sum.Recall / n, sum.NDCG / n, sum.MAP / n, float64(cov) / float64(s.Items)}
}
