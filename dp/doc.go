// Package dp holds privrec's privacy parameters, the noise mechanisms that
// release counts under user-level differential privacy, the accountant that
// composes what releases spend, and the durable budget ledger.
//
// # Mechanisms
//
// All released numbers are int64 counts in which one user (one pseudonym in
// one release window) changes at most L0 counts by at most LInf each. A
// [Counter] adds noise from Google's differential-privacy library
// (github.com/google/differential-privacy/go/v2/noise) to such counts: the
// library's Gaussian mechanism, calibrated to the L2 sensitivity
// sqrt(L0)·LInf, or its Laplace mechanism, calibrated to the L1 sensitivity
// L0·LInf. Both sample integer noise in a way that is robust against
// floating-point attacks. A Counter can also report the threshold that makes
// releasing counts over a private domain (partitions that exist only if some
// user contributed to them) safe.
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
// [NewPlan] turns a user's [Params] (a total ε and δ for one release) into the
// per-mechanism calibration. The Plan's Cost is computed from the noise
// standard deviation that the DP library itself will use, so the ε it reports
// is the ε the mechanisms spend, never a rounded intention.
//
// # Ledger
//
// A [Ledger] is debited before anything is released and refuses a charge that
// would take the composed spend over its [Budget]. [OpenFileLedger] is the
// embedded default: an append-only file of checksummed records, fsync'd before
// Debit returns, that refuses to open when torn or corrupted rather than read
// as "nothing spent".
package dp
