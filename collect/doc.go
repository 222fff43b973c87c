// Package collect keeps the bounded per-window state that differential
// privacy needs, and nothing else. It is the second stage of privrec's data
// flow:
//
//	events → collect (pseudonymize, bound) → release (noise) → recommend (serve)
//
// An [Ingestor] replaces each raw user ID by its keyed pseudonym for the
// window's key period (package pseudonym) the moment an event arrives, and
// drops the ID. It is the only part of privrec that needs the keyring.
// Sources that receive events in groups hand them over with
// [Ingestor.AddBatch], which costs less per event on a large window.
//
// A [Collector] holds one release window. Per pseudonym it keeps at most
// Keep distinct catalog items: the Keep with the smallest keyed hash
// (bottom-k sampling), so repeated events change nothing, the order of
// events does not matter, and collectors of the same window can be merged.
// It keeps no times, kinds or order of events. The state can be persisted
// per window ([Options.StateDir]) so that a restart loses no accepted
// event; [PurgeStateFiles] enforces retention.
//
// The release package ends a window with [Collector.Take]: under the
// collector's locks the ledger is debited, then the state moves out of the
// collector (which refuses further events), is folded into noisy
// aggregates, and is wiped ([State.Wipe]).
//
// An engine that groups events per pseudonym itself (privrec/beam) gets
// the door without the collector from the internal package engine
// (engine.NewGate), and the bound from internal/bottomk.
//
// # Privacy unit
//
// One user (one pseudonym) in one release window. Windows must not span
// key periods (see [NewIngestor]): a person would otherwise have two
// pseudonyms and count as two users.
package collect
