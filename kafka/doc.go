// Package kafka feeds privrec's collection from Kafka topics: a Consumer
// reads events from a consumer group, hands each one to a sink (normally a
// collect.Ingestor, which pseudonymizes the user ID at once), makes what it
// accepted durable, and only then commits the offsets. A sink with
// AddBatch (BatchSink, as collect.Ingestor has) gets each poll's events in
// one call.
//
// Delivery is at least once: offsets are committed after the sink's Sync
// returned, so an event whose offset was committed is in the window state
// on disk, and a crash before the commit re-delivers events that may
// already be there. Re-delivery is harmless: a person's items in a window
// are a set, so a repeated event changes nothing.
//
// Each record's value is one event as JSON, in the format of privrec's
// JSON Lines files and of POST /v1/events ({"user", "item", "kind",
// "time"}; unknown fields are refused), decoded by events.DecodeJSON. A
// record that does not decode, or that the sink refuses (an unknown item,
// a time outside the window), is counted, logged by topic, partition and
// offset only (never the user ID), and skipped: it never blocks its
// partition.
//
// The package is its own Go module, so that programs that import privrec
// without Kafka do not link a Kafka client.
package kafka
