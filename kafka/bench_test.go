package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/service"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// benchService is what privrec run feeds: a service with its window state
// on disk (fsync per consumed batch).
func benchService(b *testing.B, items int) (*service.Service, *recommend.Catalog) {
	b.Helper()
	var list []recommend.Item
	for i := range items {
		list = append(list, recommend.Item{ID: fmt.Sprintf("sku%05d", i)})
	}
	cat, err := recommend.NewCatalog(list)
	if err != nil {
		b.Fatal(err)
	}
	kr, err := pseudonym.New([]byte("a benchmark secret of thirty-two bytes!"), pseudonym.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ledger, err := dp.NewMemLedger(dp.Budget{Epsilon: 10, Delta: 1e-5}, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	svc, err := service.New(service.Options{Catalog: cat, Keyring: kr, Ledger: ledger,
		Release:  release.Options{Epsilon: 1, Delta: 1e-6},
		StateDir: filepath.Join(dir, "state"), ModelPath: filepath.Join(dir, "model.prm"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	return svc, cat
}

// The sustained rate of privrec run's Kafka path: records already in an
// in-process broker (kfake, 3 partitions) are consumed, decoded,
// pseudonymized, bounded and fsynced per batch before their offsets are
// committed. BenchmarkServiceAdd is the same events through Service.Add
// alone; the ratio is the cost of the queue (the in-process broker's share
// included, which a real broker on another machine would not take).
// ns/op is per event; events/s is reported too.
func BenchmarkConsumeFromKafka(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	svc, _ := benchService(b, 10_000)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for i := range b.N {
		v := fmt.Sprintf(`{"user":"person-%d","item":"sku%05d","kind":"view","time":%q}`, i/8, (i*7919)%10_000, now)
		prod.Produce(context.Background(), &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(v)}, nil)
	}
	if err := prod.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	prod.Close()

	cons, err := NewConsumer(svc, Options{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: "bench",
		Logger: slog.New(slog.DiscardHandler), ClientOptions: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	for cons.Stats().Committed < uint64(b.N) {
		select {
		case err := <-done:
			b.Fatalf("consumer stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	if s := cons.Stats(); s.Accepted != uint64(b.N) {
		b.Fatalf("accepted %d of %d events (%+v)", s.Accepted, b.N, s)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkServiceAdd is the reference for BenchmarkConsumeFromKafka: the
// same events decoded and added to the service directly, fsynced every
// 1,000 events.
func BenchmarkServiceAdd(b *testing.B) {
	svc, _ := benchService(b, 10_000)
	now := time.Now().UTC().Format(time.RFC3339)
	vals := make([][]byte, b.N)
	for i := range b.N {
		vals[i] = fmt.Appendf(nil, `{"user":"person-%d","item":"sku%05d","kind":"view","time":%q}`, i/8, (i*7919)%10_000, now)
	}
	b.ResetTimer()
	start := time.Now()
	for i, v := range vals {
		e, err := events.DecodeJSON(v, events.ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := svc.Add(e); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if err := svc.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := svc.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
