package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/beam/pipeline"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/recommend"
)

// TestMain parses the flags before beam.Init, so that this test binary,
// started by a runner as a worker (--worker and Beam's worker flags),
// serves as one instead of running the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

// parse returns the flags of one invocation.
func parse(t *testing.T, args ...string) *cliFlags {
	t.Helper()
	fs := flag.NewFlagSet("privrec-beam", flag.ContinueOnError)
	f := flags(fs)
	require.NoError(t, fs.Parse(args))
	return f
}

// TestBuildOnPrismServesInTheCore runs the command on the embedded Online
// Retail sample (gzipped) with the prism runner: the snapshot
// loads and serves in the core library; a release that would overspend the
// ledger exits 3; bad usage exits 2.
func TestBuildOnPrismServesInTheCore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "catalog.csv"), sampledata.CatalogCSV(), 0o644))
	events, err := sampledata.EventsCSV()
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(events)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.csv.gz"), gz.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key"), []byte(hex.EncodeToString(bytes.Repeat([]byte{3}, 32))), 0o600))
	model := filepath.Join(dir, "model.prm")
	args := []string{
		"--events", filepath.Join(dir, "events.csv.gz"), "--catalog", filepath.Join(dir, "catalog.csv"),
		"--key-file", filepath.Join(dir, "key"), "--ledger", filepath.Join(dir, "ledger"),
		"--budget-epsilon", "5", "--budget-delta", "1e-6",
		"--window-start", "2010-12-01", "--window-end", "2011-12-10",
		"--epsilon", "4", "--head-size", "60", "--out", model,
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), parse(t, append(args, "--new-ledger")...), &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "207065 events accepted, 0 bad lines")
	assert.Contains(t, stdout.String(), "privrec/beam on Apache Beam (prism runner)")

	m, err := recommend.LoadModel(model)
	require.NoError(t, err)
	r := m.Report()
	assert.True(t, r.Privacy.DifferentiallyPrivate)
	assert.InDelta(t, 4, r.Privacy.Epsilon, 0.05)
	var res recommend.Result
	require.NoError(t, m.Recommend(&res, recommend.Query{Context: []string{m.Catalog().Item(0).ID}, N: 5}))
	assert.NotEmpty(t, res.Items)

	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), parse(t, args...), &stdout, &stderr)
	assert.Equal(t, exitBudget, code, "a second ε = 4 release overspends a cap of 5")
	assert.Contains(t, stderr.String(), "budget")

	with := func(extra ...string) []string { return append(append([]string{}, args...), extra...) }
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--events", "x"}, ""},
		{with("--mechanism", "uniform"), ""},
		{with("--key-env", "PRIVREC_KEY"), ""},
		{with("--window-start", "yesterday"), ""},
		{with("--new-ledger"), "already exists"},                          // never recreated
		{with("--ledger", filepath.Join(dir, "ledgr")), "does not exist"}, // mistyped: never created
		{with("--ledger", filepath.Join(dir, "new"), "--new-ledger", "--budget-epsilon", "0", "--budget-delta", "0"), "needs the ledger's cap"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), parse(t, bad.args...), io.Discard, &stderr)
		assert.Equal(t, exitUsage, code, "%v", bad.args)
		assert.Contains(t, stderr.String(), bad.want, "%v", bad.args)
	}
	assert.NoFileExists(t, filepath.Join(dir, "ledgr"), "a mistyped ledger path is not created")
}

// Issue 14: what would fail on a cluster after the debit is refused before
// it: a relative path, a missing --temp-dir, an unreachable job service, a
// key the submitting process cannot read. Nothing is charged.
func TestPreflightRefusesBeforeCharging(t *testing.T) {
	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "ledger")
	l, err := dp.OpenFileLedger(ledgerPath, dp.LedgerOptions{Budget: dp.Budget{Epsilon: 5, Delta: 1e-6}, Create: true})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	key := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(key, []byte(hex.EncodeToString(bytes.Repeat([]byte{3}, 32))), 0o600))
	events := filepath.Join(dir, "events.csv")
	require.NoError(t, os.WriteFile(events, []byte("user,item,time\nu1,i1,2011-01-05T00:00:00Z\n"), 0o600))
	catalog := filepath.Join(dir, "catalog.csv")
	require.NoError(t, os.WriteFile(catalog, []byte("id\ni1\n"), 0o600))

	// A port nothing listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadEndpoint := ln.Addr().String()
	require.NoError(t, ln.Close())

	setGlobal := func(p *string, v string) {
		old := *p
		*p = v
		t.Cleanup(func() { *p = old })
	}
	base := func(extra ...string) []string {
		return append([]string{"--events", events, "--catalog", catalog, "--key-file", key, "--ledger", ledgerPath,
			"--window-start", "2011-01-01", "--window-end", "2011-02-01", "--epsilon", "1", "--out", filepath.Join(dir, "model.prm")}, extra...)
	}
	for _, tc := range []struct {
		name, runner, endpoint string
		args                   []string
		want                   string
	}{
		{"relative path on a cluster", "flink", deadEndpoint, base("--events", "events.csv", "--temp-dir", "gs://b/tmp"), "cannot read a relative path"},
		{"no temp dir on a cluster", "flink", deadEndpoint, base(), "--temp-dir is required"},
		{"unreachable job service", "spark", deadEndpoint, base("--temp-dir", "gs://b/tmp"), "cannot reach the job service"},
		{"no job service", "universal", "", base("--temp-dir", "gs://b/tmp"), "--endpoint is required"},
		{"key not set where the job is submitted", "prism", "", append(base("--key-file", ""), "--key-env", "PRIVREC_TEST_UNSET_KEY"), "not set here"},
		{"insecure key file", "prism", "", base("--key-file", events), "readable by group or others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setGlobal(runners.Runner, tc.runner)
			setGlobal(jobopts.Endpoint, tc.endpoint)
			if tc.name == "insecure key file" {
				require.NoError(t, os.Chmod(events, 0o644))
			}
			var stderr bytes.Buffer
			code := run(context.Background(), parse(t, tc.args...), io.Discard, &stderr)
			assert.Equal(t, exitUsage, code, stderr.String())
			assert.Contains(t, stderr.String(), tc.want)
			_, charges, err := dp.ReadLedgerFile(ledgerPath)
			require.NoError(t, err)
			assert.Empty(t, charges, "charged before the job could run")
		})
	}
}

// On prism, relative paths become absolute before the job starts, so
// workers in other directories read the same files.
func TestPreflightMakesLocalPathsAbsolute(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(key, []byte(hex.EncodeToString(bytes.Repeat([]byte{3}, 32))), 0o600))
	opts := pipeline.Options{Runner: "prism", Events: "events/*.csv", Catalog: "catalog.csv", KeyFile: key, TempDir: "tmp"}
	require.NoError(t, preflight(&cliFlags{}, &opts, ""))
	for _, p := range []string{opts.Events, opts.Catalog, opts.TempDir} {
		assert.True(t, filepath.IsAbs(p), p)
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(wd, "events/*.csv"), opts.Events)
}
