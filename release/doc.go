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
// model:
//
//   - popularity (popularity.go): users per catalog item, noise on every
//     item, zeros included. Always released; the model ranks by it where
//     there is no other evidence. Alone (Options.Mechanisms = Popularity)
//     it is the popularity-only release.
//   - categories (categories.go): one statistic, how much more often a
//     user's items share a catalog category than popularity predicts; it
//     becomes the concentration of a Dirichlet model of shoppers' category
//     preferences, and a context raises the popularity of its categories
//     ("popular in kitchen"). The categories are public; the statistic
//     costs 8% of the budget.
//   - pairs (pairs.go): users per pair of the head items (chosen from the
//     noisy item counts) or, with ThresholdPairs, per pair above the DP
//     library's threshold; the excess over what popularity predicts
//     becomes neighbour lists ("bought together"): the single pairs that
//     clear a garrote at a threshold set by a target-decoy estimate of the
//     false discovery rate (and, with ScoringOptions.LowRank, broad
//     patterns that stand out of the noise as eigencomponents of the head
//     pair matrix).
//   - baskets (baskets.go) and auto (auto.go), for Auto: the number of
//     active users and the pair weight users bring to candidate heads,
//     from which Auto predicts whether, and over which head, pair counts
//     will stand out of their noise, and gives their budget to pairs
//     (each user's head pairs weighted to the norm of one pair) or to a
//     second popularity release. Every choice is post-processing of
//     released values and spends the part's budget, no more
//     (dp.Counter.WithSensitivity); the report says what was chosen and
//     why.
//
// Auto, the default, is never worse than the popularity-only release by
// construction up to its small slices for the statistics: where neither
// categories nor pairs carry signal it releases popularity with almost the
// whole budget. benchmarks/RESULTS.md measures it on Online Retail, its
// bootstrap resamples, synthetic shops and a small dense catalog.
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
// K, one user changes the item counts by at most the norm of K items (K of
// them by one, or more, weighted, when Keep > K), the pair counts by at
// most the norm of K(K−1)/2 pairs (of one pair with Auto's weighting), the
// category statistic's two sums by at most one each, and the basket
// statistics by at most one and two; the noise is calibrated to exactly
// that.
package release
