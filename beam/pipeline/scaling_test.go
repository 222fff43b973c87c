package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/benchmarks"
	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/release"
)

// TestScalingAgainstCore times a release of synthetic events (calibrated to
// the embedded sample by benchmarks.FitSynth) on prism and with the core
// library in one process, from the same CSV file. It runs only when
// PRIVREC_BEAM_SCALING lists event counts, e.g. 100000,1000000,5000000.
func TestScalingAgainstCore(t *testing.T) {
	spec := os.Getenv("PRIVREC_BEAM_SCALING")
	if spec == "" {
		t.Skip("set PRIVREC_BEAM_SCALING=100000,1000000 to measure")
	}
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.csv")
	require.NoError(t, os.WriteFile(sample, sampleEvents(t), 0o644))
	ds, err := benchmarks.LoadEvents(sample, events.FormatCSV)
	require.NoError(t, err)
	synth, err := benchmarks.FitSynth(ds, len(ds.Items), 16)
	require.NoError(t, err)
	params := release.Options{Epsilon: 1, Delta: 1e-6, Mechanisms: pairsOnBeam}
	t.Logf("| events | users | core (1 process) | Beam on prism |")
	t.Logf("|---:|---:|---:|---:|")
	for _, f := range strings.Split(spec, ",") {
		target, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(t, err)
		// Average basket: generate a few users to learn it, then enough.
		probe := synth.Generate(1000, 1)
		perUser := float64(probe.NumInteractions()) / 1000
		gen := synth.Generate(int(float64(target)/perUser)+1, 2)
		opts := fixture(t, nil)
		w, err := os.Create(opts.Events)
		require.NoError(t, err)
		bw := bufio.NewWriterSize(w, 1<<20)
		fmt.Fprintln(bw, "user,item,time")
		// The first target events, in a random order: a shop's log
		// interleaves its users, which is what stresses bounding.
		var rows [][2]int
		for u, evs := range gen.Users {
			for _, e := range evs {
				if len(rows) == target {
					break
				}
				rows = append(rows, [2]int{u, int(e.Item)})
			}
		}
		rng := rand.New(rand.NewPCG(uint64(target), 1))
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, r := range rows {
			fmt.Fprintf(bw, "u%d,%s,2011-06-01\n", r[0], gen.Items[r[1]])
		}
		n := len(rows)
		require.NoError(t, bw.Flush())
		require.NoError(t, w.Close())
		opts.Release = params

		start := time.Now()
		coreRelease(t, opts, params)
		core := time.Since(start)

		ledger, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{Budget: dp.Budget{Epsilon: 10, Delta: 1e-5}, Create: true, Logger: quiet})
		require.NoError(t, err)
		start = time.Now()
		res, err := Release(context.Background(), ledger, opts)
		require.NoError(t, err)
		onBeam := time.Since(start)
		ledger.Close()
		require.Equal(t, int64(n), res.Stats.Accepted)
		t.Logf("| %d | %d | %.1f s | %.1f s |", n, len(gen.Users), core.Seconds(), onBeam.Seconds())
	}
}

// coreRelease reads, pseudonymizes, collects and releases opts.Events with
// the core library, as `privrec build` does.
func coreRelease(t *testing.T, opts Options, params release.Options) {
	cat, err := loadCatalog(context.Background(), opts.Catalog)
	require.NoError(t, err)
	kr, err := pseudonym.New(testSecret, pseudonym.Options{PeriodLength: opts.KeyPeriod, Epoch: opts.KeyEpoch})
	require.NoError(t, err)
	col, err := collect.New(cat, collect.Options{Window: opts.Window, MaxClockSkew: -1, Logger: quiet})
	require.NoError(t, err)
	ing, err := collect.NewIngestor(col, kr)
	require.NoError(t, err)
	f, err := os.Open(opts.Events)
	require.NoError(t, err)
	defer f.Close()
	er := events.NewReader(bufio.NewReaderSize(f, 1<<20), events.FormatCSV, events.ReaderOptions{})
	for {
		e, err := er.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, ing.Add(e))
	}
	ledger, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{Budget: dp.Budget{Epsilon: 10, Delta: 1e-5}, Create: true, Logger: quiet})
	require.NoError(t, err)
	defer ledger.Close()
	_, err = release.Private(context.Background(), col, ledger, params)
	require.NoError(t, err)
}
