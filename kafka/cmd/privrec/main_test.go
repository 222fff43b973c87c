package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/proctest"
	"github.com/privrec/privrec/recommend"
)

// produce sends one purchase per person (person u buys sku0(u%5)), stamped
// at, and a record that is not an event.
func produce(t *testing.T, brokers []string, at time.Time, people ...int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("events"))
	require.NoError(t, err)
	defer cl.Close()
	now := at.UTC().Format(time.RFC3339Nano)
	for _, u := range people {
		v := fmt.Sprintf(`{"user":"person-%d","item":"sku%02d","kind":"purchase","time":%q}`, u, u%5, now)
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(v)}).FirstErr())
	}
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(`not an event`)}).FirstErr())
}

// waitModel waits for a model of a window starting at start to be
// published at path.
func waitModel(t *testing.T, path string, start time.Time, logs *proctest.Logs) *recommend.Model {
	t.Helper()
	var m *recommend.Model
	require.Eventually(t, func() bool {
		loaded, err := recommend.LoadModel(path)
		if err == nil && loaded.Report().Window.Start.Equal(start) {
			m = loaded
			return true
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "no model of the window at %v: %s", start, logs)
	return m
}

// privrec run fed by Kafka (an in-process broker, kfake), over two key
// periods, killed with SIGKILL in the first and restarted (the group gives
// the dead member's partitions away after its 2 s session timeout, within
// the 3 s grace): every produced
// event is counted once in its window's release (offsets are committed
// only after the events are on disk; what was read but not committed is
// read again, and a repeated event changes nothing), each window with
// events is charged once and lies in one key period, the empty window is
// not charged, the models are published and served, and malformed records
// are skipped.
func TestRunFromKafkaSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and waits for two key periods (about 30 s)")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events"),
		kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "1000"}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()

	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	bin := p("privrec")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.WriteFile(p("catalog.csv"), []byte("id\nsku00\nsku01\nsku02\nsku03\nsku04\n"), 0o600))
	out, err = exec.Command(bin, "keygen", "--out", p("key")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// K = 1 and ε = 100 per window: count noise σ < 0.1 (checked), so an
	// integer-noised count is off by one with probability below 1e-6.
	args := []string{"--kafka-brokers", strings.Join(brokers, ","), "--kafka-topics", "events", "--kafka-group", "privrec",
		"--catalog", p("catalog.csv"), "--key-file", p("key"), "--kafka-session-timeout", "2s",
		"--key-period", "12s", "--window", "6s", "--grace", "3s",
		"--ledger", p("ledger"), "--budget-epsilon", "1000", "--budget-delta", "1e-3",
		"--epsilon", "100", "--delta", "1e-6", "--mechanisms", "popularity", "--k", "1",
		"--state-dir", p("state"), "--model", p("model.prm")}

	period, window := 12*time.Second, 6*time.Second
	time.Sleep(time.Until(time.Now().Truncate(period).Add(period + 200*time.Millisecond)))
	p0 := time.Now().Truncate(period)

	var logs proctest.Logs
	first := proctest.StartRun(t, bin, &logs, append(args, "--new-ledger")...).Cmd
	produce(t, brokers, p0.Add(time.Second/4), 0, 1, 2, 3, 4, 5, 6)
	time.Sleep(time.Second) // consumed, maybe committed
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	run := proctest.StartRun(t, bin, &logs, args...)
	second, addr := run.Cmd, run.Addr
	produce(t, brokers, p0.Add(time.Second/4), 7, 8, 9)
	require.Less(t, time.Since(p0), window, "the first events must come before the first window ends; the machine is too slow for this test")

	check := func(m *recommend.Model, want []float64) {
		t.Helper()
		for _, part := range m.Report().Privacy.Parts {
			require.Less(t, part.Sigma, 0.1, "the test's noise bound")
		}
		for i, n := range want {
			got, ok := m.Popularity(fmt.Sprintf("sku%02d", i))
			require.True(t, ok)
			assert.InDelta(t, n, got, 0.5, "sku%02d in window %v", i, m.Report().Window)
		}
	}
	check(waitModel(t, p("model.prm"), p0, &logs), []float64{2, 2, 2, 2, 2})
	resp, err := http.Get("http://" + addr + "/v1/popular?n=2")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The second key period's first window.
	time.Sleep(time.Until(p0.Add(period + 200*time.Millisecond)))
	produce(t, brokers, p0.Add(period+time.Second/4), 10, 11, 12, 13, 14)
	check(waitModel(t, p("model.prm"), p0.Add(period), &logs), []float64{1, 1, 1, 1, 1})

	_, charges, err := dp.ReadLedgerFile(p("ledger"))
	require.NoError(t, err)
	require.Len(t, charges, 2, "each window with events charged once; the empty window not at all")
	for i, start := range []time.Time{p0, p0.Add(period)} {
		assert.Contains(t, charges[i].Note, fmt.Sprintf("window %s..%s,", start.UTC().Format(time.RFC3339), start.Add(window).UTC().Format(time.RFC3339)))
	}
	states, err := filepath.Glob(p("state/window-*.state"))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(states), 1, "only the open window has state: %v", states)

	require.NoError(t, second.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.Wait(), "SIGTERM exits 0: %s", &logs)
	assert.NotContains(t, logs.String(), "person-", "no user ID in the log")
	assert.Contains(t, logs.String(), "skipping a record that is not an event")
}
