package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/privrec/privrec/events"
)

// EventSink takes raw events for privrec run: Add pseudonymizes each at
// once; Sync makes what was added durable. A source calls Sync before it
// acknowledges events upstream. privrec run's sink also has
// AddBatch(evs []events.Event, refused func(i int, err error)) int, as
// collect.Ingestor does: a source that receives events in groups should
// use it (the Kafka consumer does, through its BatchSink).
type EventSink interface {
	Add(events.Event) error
	Sync() error
}

// An EventSource feeds privrec run from outside its HTTP endpoint, for
// example a message queue (the Kafka module's).
type EventSource interface {
	// AddFlags adds the source's flags to privrec run.
	AddFlags(*pflag.FlagSet)
	// Enabled reports whether the flags given ask for the source.
	Enabled() bool
	// Run feeds sink until ctx is done (it then returns nil) or a failure
	// it cannot recover from. It must never log a user ID.
	Run(ctx context.Context, sink EventSink, log *slog.Logger) error
}
