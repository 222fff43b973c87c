// Package benchmarks is privrec's evaluation harness: it loads real
// interaction data (UCI Online Retail, MovieLens u.data, or a generic CSV),
// splits it per user (random 75/25 or temporal), builds private and
// non-private models and baselines on the training part, ranks the whole
// catalog for every test user, and reports HR, precision, recall, NDCG and
// MAP at k and catalog coverage, as mean and standard deviation over
// repeated releases. It also simulates the differencing attack of
// Calandrino et al. (2011) against released models, switches the accuracy
// levers one at a time (Ablation), generates synthetic users from a low-rank
// fit of a real dataset (FitSynth) for scaling curves, and measures
// performance (Perf).
//
// Run it with `go run ./benchmarks/cmd/privrec-bench`; it writes
// benchmarks/RESULTS.md, CSV files and PNG plots.
package benchmarks
