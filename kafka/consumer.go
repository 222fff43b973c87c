package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/privrec/privrec/events"
)

// Sink takes raw events; *collect.Ingestor is one. Add must pseudonymize
// the user ID at once and must not return it in errors.
type Sink interface {
	Add(events.Event) error
}

// BatchSink is implemented by sinks that add a group of events faster
// than one at a time (*collect.Ingestor does); the consumer then adds each
// poll's events with one AddBatch. AddBatch must behave as Add on each
// event in turn, calling refused for those not accepted.
type BatchSink interface {
	Sink
	AddBatch(evs []events.Event, refused func(i int, err error)) int
}

// Syncer is implemented by sinks that can make what they accepted durable
// (*collect.Ingestor). The consumer calls Sync before every commit.
type Syncer interface {
	Sync() error
}

// Options configure a Consumer.
type Options struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// Topics are consumed from. Required.
	Topics []string
	// Group is the consumer group. Required.
	Group string
	// Logger receives one line per skipped record (topic, partition,
	// offset and why) and per failure; slog.Default() when nil.
	Logger *slog.Logger
	// ClientOptions are passed to franz-go after the consumer's own (TLS,
	// SASL, timeouts). Options that change how offsets are committed are
	// refused by franz-go or break the delivery guarantee: do not pass any.
	ClientOptions []kgo.Opt
}

// Stats counts what a Consumer did with the records it read.
type Stats struct {
	// Accepted records were added to the sink.
	Accepted uint64
	// Malformed records did not decode as an event.
	Malformed uint64
	// Refused records decoded but the sink refused them.
	Refused uint64
	// Committed records have their offsets committed: whatever of them
	// was accepted is durable, and the group will not read them again.
	Committed uint64
}

// Consumer reads events from Kafka into a sink. Run it once.
type Consumer struct {
	sink Sink
	opts Options
	cl   *kgo.Client

	accepted, malformed, refused, committed atomic.Uint64
}

// NewConsumer checks opts and connects a consumer-group client; it does not
// read until Run.
func NewConsumer(sink Sink, opts Options) (*Consumer, error) {
	switch {
	case sink == nil:
		return nil, errors.New("kafka: a consumer needs a sink")
	case len(opts.Brokers) == 0:
		return nil, errors.New("kafka: Options.Brokers is empty")
	case len(opts.Topics) == 0:
		return nil, errors.New("kafka: Options.Topics is empty")
	case opts.Group == "":
		return nil, errors.New("kafka: Options.Group is empty")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	kopts := append([]kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ConsumerGroup(opts.Group),
		kgo.ConsumeTopics(opts.Topics...),
		kgo.DisableAutoCommit(),
		// No rebalance between a poll and its commit: a partition's records
		// are committed by the member that made them durable.
		kgo.BlockRebalanceOnPoll(),
	}, opts.ClientOptions...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &Consumer{sink: sink, opts: opts, cl: cl}, nil
}

// Run consumes until ctx is done (it then returns nil) or until the sink
// cannot make a batch durable or offsets cannot be committed (it returns
// the error; the batch's offsets are not committed, so a new consumer in
// the group reads it again). It closes the client when it returns.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.cl.Close()
	log := c.opts.Logger
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.cl.AllowRebalance()
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			log.Warn("kafka: fetch failed", "topic", topic, "partition", partition, "error", err.Error())
		})
		var records, decoded []*kgo.Record
		var evs []events.Event
		fetches.EachRecord(func(r *kgo.Record) {
			records = append(records, r)
			e, err := events.DecodeJSON(r.Value, events.ReaderOptions{})
			if err != nil {
				c.malformed.Add(1)
				log.Warn("kafka: skipping a record that is not an event", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err.Error())
				return
			}
			evs, decoded = append(evs, e), append(decoded, r)
		})
		refused := func(i int, err error) {
			r := decoded[i]
			c.refused.Add(1)
			log.Warn("kafka: skipping a refused event", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err.Error())
		}
		accepted := 0
		if bs, ok := c.sink.(BatchSink); ok {
			accepted = bs.AddBatch(evs, refused)
		} else {
			for i, e := range evs {
				if err := c.sink.Add(e); err != nil {
					refused(i, err)
					continue
				}
				accepted++
			}
		}
		if len(records) == 0 {
			c.cl.AllowRebalance()
			continue
		}
		err := c.commit(ctx, records, accepted)
		// Until here the group could not rebalance; leaving it (Close)
		// needs that too.
		c.cl.AllowRebalance()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// commit makes the batch's accepted events durable, then commits the
// batch's offsets.
func (c *Consumer) commit(ctx context.Context, records []*kgo.Record, accepted int) error {
	if s, ok := c.sink.(Syncer); ok && accepted > 0 {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("kafka: events not made durable, offsets not committed: %w", err)
		}
	}
	c.accepted.Add(uint64(accepted))
	if err := c.cl.CommitRecords(ctx, records...); err != nil {
		return fmt.Errorf("kafka: commit offsets: %w", err)
	}
	c.committed.Add(uint64(len(records)))
	return nil
}

// Stats returns the counts so far; it is safe to call while Run runs.
func (c *Consumer) Stats() Stats {
	return Stats{Accepted: c.accepted.Load(), Malformed: c.malformed.Load(), Refused: c.refused.Load(), Committed: c.committed.Load()}
}
