// Command privrec is the privrec command line with Kafka as an event
// source for privrec run: the same commands as github.com/privrec/privrec/
// cmd/privrec, and run's extra flags --kafka-brokers, --kafka-topics and
// --kafka-group (or PRIVREC_KAFKA_BROKERS...). Events are consumed in a
// consumer group and their offsets committed only after they are on disk
// in the window state, so a crash loses no committed event; a repeated
// event changes nothing.
//
//	go build -o privrec github.com/privrec/privrec/kafka/cmd/privrec
//	privrec run --kafka-brokers kafka:9092 --kafka-topics shop-events --kafka-group privrec \
//	    --catalog catalog.csv --key-file privrec.key --ledger budget.ledger \
//	    --epsilon 1 --state-dir state --model model.prm
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/privrec/privrec/internal/cli"
	"github.com/privrec/privrec/internal/nocore"
	"github.com/privrec/privrec/kafka"
)

func main() {
	if err := nocore.Disable(); err != nil {
		fmt.Fprintln(os.Stderr, "privrec: warning:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, &source{})
	stop()
	os.Exit(code)
}

// source consumes events from Kafka into privrec run.
type source struct {
	brokers, topics []string
	group           string
	session         time.Duration
}

func (s *source) AddFlags(fl *pflag.FlagSet) {
	fl.StringSliceVar(&s.brokers, "kafka-brokers", nil, "Kafka seed brokers, host:port, comma-separated (enables the Kafka source)")
	fl.StringSliceVar(&s.topics, "kafka-topics", nil, "Kafka topics of JSON events, comma-separated")
	fl.StringVar(&s.group, "kafka-group", "privrec", "Kafka consumer group")
	fl.DurationVar(&s.session, "kafka-session-timeout", 45*time.Second,
		"how long the group waits for a member that stopped before giving its partitions to another; keep --grace above it, or events a crashed member had not committed arrive after their window's release and are refused")
}

func (s *source) Enabled() bool { return len(s.brokers) > 0 }

func (s *source) Run(ctx context.Context, sink cli.EventSink, log *slog.Logger) error {
	c, err := kafka.NewConsumer(sink, kafka.Options{Brokers: s.brokers, Topics: s.topics, Group: s.group, Logger: log,
		ClientOptions: []kgo.Opt{kgo.SessionTimeout(s.session), kgo.HeartbeatInterval(min(3*time.Second, s.session/3))}})
	if err != nil {
		return err
	}
	log.Info("privrec run: consuming from Kafka", "topics", s.topics, "group", s.group)
	return c.Run(ctx)
}
