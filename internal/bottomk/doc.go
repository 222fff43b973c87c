// Package bottomk is the rule that bounds each user's contribution: a user
// counts for the k distinct items with the smallest rank under a keyed
// hash of (pseudonym, item). The rule is a bottom-k sample, so it does not
// depend on the order of the events, and the bottom k of a union is the
// bottom k of the parts' bottom k: a collector can keep it per user while
// events stream in, and a Beam pipeline can compute it with a combiner
// that merges partial results.
//
// collect and the Beam module share it, so that their bounded state is the
// same; it is internal because nothing else needs it.
package bottomk
