// Package pipeline builds a privrec model on Apache Beam with Privacy on
// Beam, for windows too large for one machine. It runs on any Beam runner:
// prism (in-process, no servers) for development and tests, and Flink,
// Spark or Dataflow through their job services.
//
// The release has the semantics of release.Private, and reuses the core
// library's code for every step that is not a Beam transform, through the
// core's entry points for engines (internal/engine: a Gate at the door, a
// Release for the calibration and assembly, HeadItems) and
// the bounding rule it shares with collect (internal/bottomk):
//
//   - read lines (textio, any Beam filesystem) and parse them with
//     events.LineParser; check each event and replace its user ID by the
//     keyed pseudonym with the core's engine.Gate, in the first transform, so that
//     raw IDs never reach a shuffle;
//   - keep, per pseudonym, the K items of smallest keyed rank (the same K
//     items a Collector with the same SampleKey keeps) with a combiner:
//     bottom-K sets merge exactly, so the first transform already keeps
//     each bundle's partial sets and a user's events are never grouped in
//     one place;
//   - count users per catalog item with pbeam.Count over the catalog as
//     public partitions (L0 = K, LInf = 1);
//   - choose the head with engine.HeadItems from the released item
//     counts, count users per head pair without pseudonyms (each user's
//     pairs are those of their K kept items, so L0 = K(K−1)/2, LInf = 1
//     hold by construction; each bundle sums its own pairs before the
//     shuffle), with a zero for every head pair, and noise each count with
//     the core's pair counter in the last step;
//   - assemble the model with the engine.Release's Assemble, which applies the
//     core's post-processing and writes the same snapshot format.
//
// Item noise is drawn by Privacy on Beam (the DP library's v3) with exactly
// the sensitivities and the ε, δ that the core's plan calibrates
// (the engine.Release's Items, dp.Counter.LibraryParams); pair noise by the
// core's pair counter (the engine.Release's Pairs, rebuilt on the worker and
// checked against the launcher's σ), since Privacy on Beam would shuffle
// every (pseudonym, pair) row again to bound what is already bounded. Each
// count's noise has the plan's σ, and the ledger is debited the plan's
// cost, once, before the pipeline runs.
//
// Only the mechanisms Popularity|Pairs (or Popularity alone), head pairs
// and unweighted items are supported (release.Options.Mechanisms must say
// so: the core's default, Auto, is refused), and any other release option
// is refused before the ledger is debited, with an error that names it:
// Auto chooses its mechanisms from statistics released in the middle of
// the release, and its categories and per-user pair weighting are not
// Beam transforms yet; Privacy on Beam's private partition selection is a
// different mechanism from the core's thresholding of noisy counts; and it
// bounds partitions and values per user, not the norm of a weighted
// contribution.
//
// The secret key never enters the pipeline graph: workers open it from
// KeyFile or KeyEnv at setup. Per-pseudonym state exists only inside the
// runner's shuffle for the duration of the job.
package pipeline
