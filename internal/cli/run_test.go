package cli

import (
	"context"
	"fmt"
	"io"
	"math"
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

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/httpapi/client"
	"github.com/privrec/privrec/internal/proctest"
	"github.com/privrec/privrec/recommend"
)

// runProcess is a privrec run process started from a built binary.
type runProcess struct {
	cmd  *exec.Cmd
	addr string
	logs *proctest.Logs
}

func startRun(t *testing.T, bin string, args ...string) *runProcess {
	t.Helper()
	var logs proctest.Logs
	r := proctest.StartRun(t, bin, &logs, args...)
	return &runProcess{cmd: r.Cmd, addr: r.Addr, logs: &logs}
}

// post sends events stamped at for the given people (one item each)
// through the API client and requires that all were acknowledged.
func (p *runProcess) post(t *testing.T, at time.Time, people []int) {
	t.Helper()
	var evs []client.Event
	for _, u := range people {
		evs = append(evs, client.Event{User: fmt.Sprintf("person-%d", u), Item: fmt.Sprintf("sku%02d", u%5), Kind: "purchase", Time: at})
	}
	n, rejected, err := p.client(t).SendEvents(context.Background(), evs)
	require.NoError(t, err)
	require.Empty(t, rejected)
	require.Equal(t, len(people), n)
}

func (p *runProcess) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New("http://"+p.addr, nil)
	require.NoError(t, err)
	return c
}

// The end-to-end test of privrec run: events acknowledged over HTTP, the
// process killed with SIGKILL mid-window and restarted; the window's
// release must count every acknowledged event, be charged once, be
// published and served, lie inside one key period, and leave no state
// file behind. SIGTERM then stops the process cleanly.
func TestRunSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and waits for a window to end (about 15 s)")
	}
	dir := t.TempDir()
	bin := privrecBinary(t)
	var catalog strings.Builder
	catalog.WriteString("id\n")
	for i := range 5 {
		fmt.Fprintf(&catalog, "sku%02d\n", i)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	require.NoError(t, os.WriteFile(p("catalog.csv"), []byte(catalog.String()), 0o600))
	code, _, stderr := privrec(t, "keygen", "--out", p("key"))
	require.Equal(t, 0, code, stderr)
	// K = 1 and ε = 100 per window make the item counts' noise σ < 0.1
	// (checked below): a count, noised with integers, is off by one only
	// when the noise exceeds 0.5 = 5σ, with probability below 1e-6.
	args := []string{"--catalog", p("catalog.csv"), "--key-file", p("key"), "--key-period", "10s", "--window", "10s", "--grace", "1s",
		"--ledger", p("ledger"), "--budget-epsilon", "1000", "--budget-delta", "1e-3",
		"--epsilon", "100", "--delta", "1e-6", "--mechanisms", "popularity", "--k", "1",
		"--state-dir", p("state"), "--model", p("model.prm")}

	// Start just after a key period (and window) begins, so that both
	// processes' events fall in one window.
	period := 10 * time.Second
	time.Sleep(time.Until(time.Now().Truncate(period).Add(period + 300*time.Millisecond)))
	window := time.Now().Truncate(period)

	first := startRun(t, bin, append(args, "--new-ledger")...)
	ready, err := first.client(t).Ready(context.Background())
	require.NoError(t, err)
	assert.False(t, ready, "no model yet")
	at := window.Add(time.Second / 4) // inside the window, whenever the post comes
	first.post(t, at, []int{0, 1, 2, 3, 4, 5, 6})
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.cmd.Wait()

	second := startRun(t, bin, args...)
	second.post(t, at, []int{7, 8, 9, 10, 11, 12, 13, 14})
	second.post(t, at, []int{3, 4}) // repeated events change nothing
	want := map[string]float64{"sku00": 3, "sku01": 3, "sku02": 3, "sku03": 3, "sku04": 3}
	require.Less(t, time.Since(window), period, "the events must come before the window ends; the machine is too slow for this test")

	var m *recommend.Model
	require.Eventually(t, func() bool {
		loaded, err := recommend.LoadModel(p("model.prm"))
		if err == nil {
			m = loaded
		}
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "no model published: %s", second.logs)
	for _, part := range m.Report().Privacy.Parts {
		require.Less(t, part.Sigma, 0.1, "the test's noise bound")
	}
	for id, n := range want {
		got, ok := m.Popularity(id)
		require.True(t, ok)
		assert.InDelta(t, n, got, 0.5, "%s: every acknowledged event counted once", id)
	}
	assert.True(t, m.Report().Window.Start.Equal(window), "window %v, want start %v", m.Report().Window, window)
	ready, err = second.client(t).Ready(context.Background())
	require.NoError(t, err)
	assert.True(t, ready)
	popular, err := second.client(t).Popular(context.Background(), client.Query{N: 3})
	require.NoError(t, err)
	assert.Len(t, popular.Items, 3)
	assert.Equal(t, m.Report().ReleaseID, popular.Release, "the published model is served")
	resp, err := http.Get("http://" + second.addr + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(metrics), `privrec_ingest_events_total{result="accepted"} 10`, "this process's events")
	assert.Contains(t, string(metrics), `privrec_releases_total{result="published"} 1`)
	assert.Contains(t, string(metrics), "go_goroutines")

	_, charges, err := dp.ReadLedgerFile(p("ledger"))
	require.NoError(t, err)
	require.Len(t, charges, 1, "charged once")
	assert.Contains(t, charges[0].Note, fmt.Sprintf("window %s..%s", window.UTC().Format(time.RFC3339), window.Add(period).UTC().Format(time.RFC3339)),
		"the window is one key period")
	assert.InDelta(t, 100, charges[0].Epsilon, 1)
	assert.NoFileExists(t, filepath.Join(p("state"), fmt.Sprintf("window-%d-%d.state", window.Unix(), window.Add(period).Unix())))

	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.cmd.Wait(), "SIGTERM exits 0: %s", second.logs.String())
	assert.NotContains(t, second.logs.String(), "person-", "no user ID in the log")
	assert.False(t, math.IsNaN(m.Report().Privacy.Epsilon))
}
