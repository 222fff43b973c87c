// Package pseudonym replaces raw user identifiers with keyed pseudonyms at the
// moment they enter privrec.
//
// A [Keyring] holds a master secret of at least 32 bytes and one purpose (for
// example "events"). For every key period (a fixed-length slice of time, see
// [Options.PeriodLength]) it derives a subkey with HKDF-SHA-256
// (RFC 5869) and maps a user ID to an [ID]: the first 16 bytes of
// HMAC-SHA-256 (RFC 2104) of the user ID under that subkey.
//
// Properties that the rest of privrec relies on:
//
//   - Within one purpose and one period the same user ID always maps to the same
//     ID, so per-user contribution bounds hold inside a release window.
//   - Across periods or purposes the IDs are unrelated: without the master
//     secret nobody can link a person's pseudonyms from two periods.
//   - Without the secret, a pseudonym cannot be reversed or recomputed, even by
//     someone who can enumerate every plausible user ID.
//   - The secret never appears in String, any fmt verb (%#v too), JSON, slog
//     output or an error message.
//
// Release windows must lie inside a single key period; otherwise one person
// would count as two users and the contribution bound would silently double.
// [Keyring.Bounds] gives the exact interval of a period so that callers can
// align windows with it.
package pseudonym
