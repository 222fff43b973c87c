package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/recommend"
)

func TestMain(m *testing.M) {
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
