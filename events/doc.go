// Package events reads raw shop events: (user, item, kind, time) and nothing
// else. It is the first stage of privrec's data flow:
//
//	events → collect (pseudonymize, bound) → release (noise) → recommend (serve)
//
// An [Event] still carries the raw user ID; it exists only between the
// reader and a collect.Ingestor, which replaces the ID by a keyed pseudonym
// at once. Nothing in this package stores or logs an event, and its errors
// never quote a user ID.
//
// Three formats are read ([Format]): CSV with a header naming the columns
// user, item, kind and time; JSON Lines with the same fields; and the UCI
// Online Retail transactions file. Unknown columns and fields are refused,
// not stored. [Reader] streams a file; [LineParser] parses single lines for
// engines that split their input themselves; [DecodeJSON] decodes one JSON
// event, with the same rules for files and HTTP request bodies.
//
// Every format holds one event per line. CSV fields may be quoted (RFC
// 4180, "" for a quote inside quotes), but a quoted field may not span
// lines: a stray or unbalanced quote makes its own line a bad line
// (*ParseError) and the reader goes on with the next, as does a line longer
// than MaxLineBytes. [Reader] and [LineParser] split lines the same way, so
// a file reads the same in one process and on a Beam cluster.
package events
