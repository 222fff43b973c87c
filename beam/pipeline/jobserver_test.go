package pipeline

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal" // --runner=universal, as on Flink and Spark
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/extworker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/release"
)

// TestThroughAJobServer submits the release as a portable job, as on a
// Flink or Spark cluster, to a standalone prism job server (built from the
// SDK the module uses) with LOOPBACK workers and with EXTERNAL workers
// from a worker pool, and checks that, with noise off, the model equals
// the core's.
func TestThroughAJobServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a prism job server")
	}
	dir := t.TempDir()
	prism := filepath.Join(dir, "prism")
	build := exec.Command("go", "build", "-o", prism, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building prism: %s", out)

	port := freePort(t)
	server := exec.Command(prism, "--job_port="+strconv.Itoa(port), "--serve_http=false", "--log_level=warn")
	require.NoError(t, server.Start())
	t.Cleanup(func() {
		_ = server.Process.Kill()
		_ = server.Wait()
	})
	endpoint := "localhost:" + strconv.Itoa(port)
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", endpoint)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "the job server does not listen")

	for _, p := range []*string{jobopts.Endpoint, jobopts.EnvironmentType, jobopts.EnvironmentConfig} {
		old := *p
		t.Cleanup(func() { *p = old })
	}
	*jobopts.Endpoint = endpoint

	// EXTERNAL workers come from a worker pool, as on a cluster whose
	// workers run next to the job server; here the pool serves them from
	// this process.
	poolPort := freePort(t)
	pool, err := extworker.StartLoopback(context.Background(), poolPort)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Stop(context.Background()) })

	events := sampleEvents(t)
	params := release.Options{K: 8, Keep: 8, HeadSize: 80, Mechanisms: pairsOnBeam}
	for _, env := range []struct{ typ, config string }{
		{"LOOPBACK", ""},
		{"EXTERNAL", "localhost:" + strconv.Itoa(poolPort)},
	} {
		t.Run(env.typ, func(t *testing.T) {
			*jobopts.EnvironmentType, *jobopts.EnvironmentConfig = env.typ, env.config
			opts := fixture(t, events)
			opts.Runner, opts.NonPrivate, opts.Release = "universal", true, params
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			res, err := Release(ctx, nil, opts)
			require.NoError(t, err)
			requireSameModel(t, coreModel(t, opts, events, params), res.Model)
			assert.Contains(t, res.Model.Report().BuiltWith, "universal")
			assert.Positive(t, res.Stats.Accepted)
		})
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "localhost:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
