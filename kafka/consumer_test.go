package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/events"
)

const topic = "shop-events"

// cluster starts an in-process Kafka (kfake) with the topic on 3
// partitions.
func cluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func produce(t *testing.T, brokers []string, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, v := range values {
		// Keyed so that events spread over the partitions.
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(v)}).FirstErr())
	}
}

// sink records events; it refuses the item "nope" as a collector refuses
// an item outside its catalog, and its Sync fails while failSync is set.
type sink struct {
	mu       sync.Mutex
	events   []events.Event
	synced   int // events durable at the last Sync
	failSync bool
}

func (s *sink) Add(e events.Event) error {
	if e.Item == "nope" {
		return collect.ErrUnknownItem
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	return nil
}

func (s *sink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSync {
		return errors.New("disk full")
	}
	s.synced = len(s.events)
	return nil
}

func (s *sink) items() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, e.Item)
	}
	return out
}

// batchSink is a sink with AddBatch, which the consumer uses for each
// poll's events.
type batchSink struct {
	*sink
	batches int
}

func (s *batchSink) AddBatch(evs []events.Event, refused func(int, error)) int {
	s.mu.Lock()
	s.batches++
	s.mu.Unlock()
	n := 0
	for i, e := range evs {
		if err := s.Add(e); err != nil {
			refused(i, err)
			continue
		}
		n++
	}
	return n
}

func event(user, item string) string {
	return fmt.Sprintf(`{"user":%q,"item":%q,"kind":"purchase","time":"2026-11-29T10:00:00Z"}`, user, item)
}

// start runs a consumer of the group until the test ends or stop is called.
func start(t *testing.T, brokers []string, group string, s Sink, log *slog.Logger) (*Consumer, func() error) {
	t.Helper()
	c, err := NewConsumer(s, Options{Brokers: brokers, Topics: []string{topic}, Group: group, Logger: log,
		ClientOptions: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() { cancel(); result = <-done })
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return c, stop
}

// Valid events reach the sink; a record that is not an event and an event
// the sink refuses are counted and skipped without blocking their
// partition; logs name neither user. Offsets are committed after Sync: a
// new member of the group reads only what came after.
func TestConsumerDeliversAndCommitsAfterSync(t *testing.T) {
	for _, batching := range []bool{false, true} {
		t.Run(fmt.Sprint("AddBatch=", batching), func(t *testing.T) { testConsumerDelivers(t, batching) })
	}
}

func testConsumerDelivers(t *testing.T, batching bool) {
	brokers := cluster(t)
	produce(t, brokers,
		event("alice@example.com", "22697"),
		`{"user":"mallory@example.com","item":"22697","time":"2026-11-29T10:00:00Z","email":"x"}`, // unknown field
		event("bob@example.com", "nope"),
		`not json`,
		event("carol@example.com", "22698"),
		event("dave@example.com", "22423"),
	)
	var logs bytes.Buffer
	s := &sink{}
	var into Sink = s
	bs := &batchSink{sink: s}
	if batching {
		into = bs
	}
	c, stop := start(t, brokers, "g1", into, slog.New(slog.NewTextHandler(&logs, nil)))
	require.Eventually(t, func() bool { return c.Stats().Committed == 6 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())
	if batching {
		assert.Positive(t, bs.batches)
	}
	assert.Contains(t, logs.String(), "skipping a refused event")
	assert.ElementsMatch(t, []string{"22697", "22698", "22423"}, s.items())
	assert.Equal(t, Stats{Accepted: 3, Malformed: 2, Refused: 1, Committed: 6}, c.Stats())
	assert.Equal(t, 3, s.synced, "durable before the commit")
	for _, user := range []string{"alice", "mallory", "bob", "carol", "dave"} {
		assert.NotContains(t, logs.String(), user)
	}

	// A new member of the group starts after the committed offsets.
	produce(t, brokers, event("erin@example.com", "22699"))
	s2 := &sink{}
	c2, stop2 := start(t, brokers, "g1", s2, slog.New(slog.DiscardHandler))
	require.Eventually(t, func() bool { return c2.Stats().Committed == 1 }, 30*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // nothing older arrives late
	require.NoError(t, stop2())
	assert.Equal(t, []string{"22699"}, s2.items())
}

// When the sink cannot make a batch durable, Run fails without committing,
// and the next member of the group reads the batch again.
func TestConsumerDoesNotCommitWhatIsNotDurable(t *testing.T) {
	brokers := cluster(t)
	produce(t, brokers, event("alice", "22697"), event("bob", "22698"))
	s := &sink{failSync: true}
	c, err := NewConsumer(s, Options{Brokers: brokers, Topics: []string{topic}, Group: "g2", Logger: slog.New(slog.DiscardHandler),
		ClientOptions: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.Run(ctx)
	require.ErrorContains(t, err, "not made durable")
	assert.Zero(t, c.Stats().Committed)

	s2 := &sink{}
	c2, stop2 := start(t, brokers, "g2", s2, slog.New(slog.DiscardHandler))
	require.Eventually(t, func() bool { return c2.Stats().Accepted >= 1 }, 30*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return len(s2.items()) == 2 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, stop2())
	assert.ElementsMatch(t, []string{"22697", "22698"}, s2.items(), "re-delivered")
}

func TestNewConsumerRefusesIncompleteOptions(t *testing.T) {
	ok := Options{Brokers: []string{"localhost:9092"}, Topics: []string{topic}, Group: "g"}
	cases := []struct {
		name string
		sink Sink
		edit func(*Options)
		want string
	}{
		{"no sink", nil, func(*Options) {}, "needs a sink"},
		{"no brokers", &sink{}, func(o *Options) { o.Brokers = nil }, "Brokers"},
		{"no topics", &sink{}, func(o *Options) { o.Topics = nil }, "Topics"},
		{"no group", &sink{}, func(o *Options) { o.Group = "" }, "Group"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			_, err := NewConsumer(tc.sink, o)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
