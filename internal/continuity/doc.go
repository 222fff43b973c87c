// Package continuity checks, before a release is charged, that the budget
// ledger is the one the previous model was charged to, and not an older
// copy of it: a ledger restored from a backup, or swapped for another,
// would otherwise let releases spend budget that was already spent.
package continuity
