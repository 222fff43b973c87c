// Package release turns a window's bounded state into a differentially
// private model. It is the third stage of privrec's data flow:
//
//	events → collect (pseudonymize, bound) → release (noise) → recommend (serve)
//
// [Private] debits a dp.Ledger first, then ends the collector's window
// (collect.Collector.Take), runs the release mechanisms over its state,
// and wipes the state. Each mechanism is one file with one shape: it
// declares the noisy parts it releases (their sensitivity and share of the
// budget), draws every part's noise from the counter the plan calibrated
// for it, and post-processes what was released into evidence for the
// model. Today:
//
//   - popularity (popularity.go): users per catalog item, noise on every
//     item, zeros included. Always released; the model ranks by it where
//     there is no other evidence.
//   - pairs (pairs.go): users per pair of the head items (chosen from the
//     noisy item counts) or, with ThresholdPairs, per pair above the DP
//     library's threshold; the excess over what popularity predicts,
//     shrunk at the noise's universal threshold, becomes neighbour lists.
//
// [Options.Plan] is the calibration: one dp part per noisy statistic, each
// with its σ and cost, and their composition, which is what the ledger is
// charged and what the model's report states, part by part.
//
// [Exact] builds the same model without noise and without a ledger: the
// non-private reference for benchmarks, a separate, explicit call whose
// report says the model is not differentially private.
//
// [External] is the entry point for an engine that computes the noisy
// counts itself (privrec/beam).
//
// # Privacy unit
//
// One user (one pseudonym) in one release window. With contribution bound
// K, one user changes at most K item counts and K(K−1)/2 pair counts, each
// by at most one, and the noise is calibrated to exactly that.
package release
