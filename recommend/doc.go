// Package recommend serves recommendations from a released model and the
// caller's own context. It is the last stage of privrec's data flow:
//
//	events → collect (pseudonymize, bound) → release (noise) → recommend (serve)
//
// It holds what serving needs and nothing more: the public [Catalog], the
// release [Window], the immutable [Model] with its privacy [Report], the
// versioned snapshot format ([Model.WriteTo], [ReadModel], [SaveModel],
// [LoadModel]) and queries ([Model.Recommend]). It imports
// neither the keyring nor the DP library: a serving process holds no key,
// no per-user state and no budget, and a test fails if it links them.
//
// A [Query] carries the items of the current session or cart, supplied at
// query time, with exclusions, category filters and a result count. The
// model scores every item by its released popularity plus the evidence
// beyond popularity that the release produced (for example neighbour lists
// from noisy pair counts), filters, and explains every result: the context
// items that contributed, or "popular" where there was no evidence.
// Recommend allocates nothing when its Result is reused.
//
// Models are made by the release package (release.Private, or release.Exact
// for non-private references) or read from snapshots; NewModel is how a
// release assembles one.
package recommend
