package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/kafka"
)

// printSink stands in for a collect.Ingestor, which pseudonymizes each
// user ID as it arrives and makes the window state durable in Sync.
type printSink struct {
	mu    sync.Mutex
	items []string
}

func (s *printSink) Add(e events.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, e.Item)
	return nil
}

func (s *printSink) Sync() error { return nil }

// A consumer reads a topic of JSON events into the sink; a record that is
// not an event is counted and skipped.
func Example() {
	// An in-process Kafka for the example; a shop gives its brokers.
	cluster, _ := kfake.NewCluster(kfake.SeedTopics(1, "shop-events"))
	defer cluster.Close()
	producer, _ := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("shop-events"))
	for _, v := range []string{
		`{"user":"alice@example.com","item":"22697","kind":"cart","time":"2026-11-29T10:00:00Z"}`,
		`{"user":"bob@example.com","item":"22698","kind":"purchase","time":"2026-11-29T10:05:00Z"}`,
		`not an event`,
	} {
		producer.ProduceSync(context.Background(), &kgo.Record{Value: []byte(v)})
	}
	producer.Close()

	sink := &printSink{}
	c, err := kafka.NewConsumer(sink, kafka.Options{
		Brokers: cluster.ListenAddrs(), Topics: []string{"shop-events"}, Group: "privrec",
		Logger:        slog.New(slog.DiscardHandler),
		ClientOptions: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	for st := c.Stats(); st.Accepted+st.Malformed < 3; st = c.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	slices.Sort(sink.items)
	fmt.Println(sink.items, c.Stats().Malformed)
	// Output: [22697 22698] 1
}
