// Package dp is privrec's privacy accounting: calibrated noise for a given
// sensitivity, the plan that splits a release's budget over its parts, the
// accountant that composes what releases spend, and the durable budget
// ledger. It knows nothing of items, pairs or recommendations: the release
// package's mechanisms declare their parts and get counters back.
//
// # Noise
//
// A release's noisy values are sets of values in which one user (one
// pseudonym in one release window) changes at most L0 values by at most
// LInf each. A [Counter] adds noise from Google's differential-privacy
// library (github.com/google/differential-privacy/go/v2/noise) to such
// values: the library's Gaussian mechanism, calibrated to the L2
// sensitivity sqrt(L0)·LInf, or its Laplace mechanism, calibrated to the L1
// sensitivity L0·LInf. Integer counts get integer noise sampled in a way
// that is robust against floating-point attacks; weighted sums and vectors
// get the library's floating-point noise. A Counter can also report the
// threshold that makes releasing values over a private domain (partitions
// that exist only if some user contributed to them) safe.
//
// # Plans
//
// A release is a list of named parts ([PartSpec]: name, L0, LInf, a share
// of the budget, optionally a threshold δ). [NewPlan] calibrates one
// counter per part so that all parts together are (ε, δ)-differentially
// private, and reports what each part and the whole spend.
//
// # Accounting
//
// A [Cost] records what mechanisms spent in the units that compose best:
// zero-concentrated DP (ρ, which adds up) for Gaussian noise, pure ε for
// Laplace noise, and an additive δ for thresholding. [Cost.Epsilon] converts a
// composed cost to the smallest ε this package can prove at a given δ, using
// the exact privacy curve of the Gaussian mechanism when every part is
// Gaussian, and otherwise the best of basic composition and the zCDP
// conversion of Canonne, Kamath and Steinke (2020).
//
// A [Plan]'s Cost is computed from the noise standard deviation that the DP
// library itself will use, so the ε it reports is the ε the parts spend,
// never a rounded intention.
//
// # Ledger
//
// A [Ledger] is debited before anything is released and refuses a charge that
// would take the composed spend over its [Budget]. [OpenFileLedger] is the
// embedded default: an append-only file of checksummed records, fsync'd before
// Debit returns, that refuses to open when torn or corrupted rather than read
// as "nothing spent". [NewMemLedger] keeps the same rules in memory, for
// tests and experiments. Package dp/ledgertest checks any implementation
// against the contract.
package dp
