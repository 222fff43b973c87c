// Package service is privrec as one long-running process (privrec run):
// events come in from any source (the HTTP ingestion handler, a Kafka
// consumer) through Add and Sync; each is pseudonymized at the door and
// kept in the window state of the release window holding its time, in one
// state file per window (collect.Options.StateDir), so that an event that
// Sync made durable survives a crash.
//
// Windows tile each key period of the keyring from its start (the window
// length divides the period), so no window spans two key periods and a
// person has one pseudonym per window. When a window's grace (late events
// stamped inside it) has passed, Rotate releases it with release.Private,
// which debits the ledger first and refuses to overspend; publishes the
// model atomically at ModelPath, where serving processes (privrec serve)
// pick it up; deletes window state older than the retention, released or
// not; and drops the subkeys of key periods no open window needs.
//
// After a crash, New replays the current window's state and Rotate
// releases the windows an earlier run left. A window whose charge is in the
// ledger already (a crash between the debit and the deletion of its state)
// is not charged again: its state is deleted and its budget stays spent.
// A window without events is not released and costs nothing. A window
// whose release the ledger refused keeps its state and is tried again at
// every rotation (a rolling horizon may free budget) until the retention
// deletes it.
//
// The package is internal: the privrec command and the Kafka module's
// command use it; library users compose collect, release and recommend
// themselves.
package service
