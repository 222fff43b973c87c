// Package recommend collects pseudonymous events for one release window,
// releases them as a differentially private Model, and serves
// recommendations from that model and the caller's own context.
//
// The flow, and which capability each step needs:
//
//	RawEvent ──Ingestor (keyring)──▶ Event ──Collector.Add──▶ bounded window state
//	         ──Collector.Release (ledger)──▶ Model ──Recommender──▶ queries
//
// Step by step:
//
//   - An [Ingestor] replaces the raw user ID with its pseudonym for the
//     window's key period and drops it. Only ingestion needs the keyring.
//   - A [Collector] keeps, per pseudonym, at most K items (bottom-K by a keyed
//     hash: repeated events are idempotent and collectors can be merged). It
//     keeps no times, kinds or order: nothing but the bounded item sets that
//     contribution bounding needs.
//   - [Collector.Release] debits a dp.Ledger first, then folds the state into
//     users-per-item and users-per-pair counts, adds noise with the DP
//     library, post-processes, and wipes the state. Only release needs the
//     ledger.
//   - A [Model] holds the public catalog, noisy aggregates, top-N neighbour
//     lists and a privacy [Report]; no pseudonym or user ID. It is written
//     and read as a versioned, checksummed snapshot ([Model.WriteTo],
//     [ReadModel]). Serving needs only a Model.
//   - Queries ([Model.ForContext], [Model.Similar], [Model.Popular]) take the
//     session's or cart's items at query time, filter, and explain every
//     result. The ...Into variants allocate nothing when a Result is reused.
//
// # Privacy unit
//
// One user (one pseudonym) in one release window. Each user changes at most
// K item counts and K(K-1)/2 pair counts, each by at most one, and the noise
// is calibrated to exactly that. Windows must not span key periods (see
// [NewIngestor]).
package recommend
