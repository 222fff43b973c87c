package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privrec/privrec/benchmarks"
	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/sampledata"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// TestMain parses the flags before beam.Init, so that this test binary,
// started by a runner as a worker (--worker and Beam's worker flags),
// serves as one instead of running the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var testSecret = bytes.Repeat([]byte{0x42, 0x17}, 16)

// fixture writes the sample's catalog, a key file and the given events to a
// temporary directory and returns options for a release over them.
func fixture(t testing.TB, evs []byte) Options {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "catalog.csv"), sampledata.CatalogCSV(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key"), []byte(hex.EncodeToString(testSecret)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.csv"), evs, 0o644))
	return Options{
		Events:    filepath.Join(dir, "events.csv"),
		Format:    events.FormatCSV,
		Catalog:   filepath.Join(dir, "catalog.csv"),
		KeyFile:   filepath.Join(dir, "key"),
		KeyPeriod: sampledata.KeyPeriod,
		KeyEpoch:  sampledata.Window.Start,
		Window:    sampledata.Window,
		SampleKey: [16]byte{9, 8, 7},
		TempDir:   filepath.Join(dir, "out"),
		Release:   release.Options{Mechanisms: pairsOnBeam},
		Logger:    quiet,
	}
}

// pairsOnBeam are the mechanisms Beam runs: the core's default, Auto, is
// refused there.
const pairsOnBeam = release.Popularity | release.Pairs

// mustCatalog reads a catalog file.
func mustCatalog(t testing.TB, path string) *recommend.Catalog {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cat, err := recommend.ReadCatalogCSV(f)
	require.NoError(t, err)
	return cat
}

func sampleEvents(t testing.TB) []byte {
	t.Helper()
	b, err := sampledata.EventsCSV()
	require.NoError(t, err)
	return b
}

// coreModel builds the model with the embedded core library from the same
// events and options: non-private when plan is nil.
func coreModel(t *testing.T, opts Options, evs []byte, params release.Options) *recommend.Model {
	t.Helper()
	cat, err := sampledata.Catalog()
	require.NoError(t, err)
	kr, err := pseudonym.New(testSecret, pseudonym.Options{PeriodLength: opts.KeyPeriod, Epoch: opts.KeyEpoch})
	require.NoError(t, err)
	col, err := collect.New(cat, collect.Options{
		Window: opts.Window, Keep: params.WithDefaults().K, MaxClockSkew: -1,
		SampleKey: opts.SampleKey, Logger: quiet,
	})
	require.NoError(t, err)
	ing, err := collect.NewIngestor(col, kr)
	require.NoError(t, err)
	er := events.NewReader(bytes.NewReader(evs), events.FormatCSV, events.ReaderOptions{})
	for {
		e, err := er.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = ing.Add(e)
		}
		_ = err // bad lines are refused by both engines
	}
	m, err := release.Exact(col, params)
	require.NoError(t, err)
	return m
}

// requireSameModel compares popularity and every item's similar-items list
// (items and scores) through the public API.
func requireSameModel(t *testing.T, want, got *recommend.Model) {
	t.Helper()
	require.Equal(t, want.Catalog().Len(), got.Catalog().Len())
	require.Equal(t, want.Report().Contents.Neighbors, got.Report().Contents.Neighbors)
	var ws, gs recommend.Result
	for i := range want.Catalog().Len() {
		id := want.Catalog().Item(i).ID
		wp, _ := want.Popularity(id)
		gp, _ := got.Popularity(id)
		require.Equal(t, wp, gp, "popularity of %s", id)
		require.NoError(t, want.Recommend(&ws, recommend.Query{Context: []string{id}, N: 20}))
		require.NoError(t, got.Recommend(&gs, recommend.Query{Context: []string{id}, N: 20}))
		require.Equal(t, fmt.Sprint(ws.Items), fmt.Sprint(gs.Items), "similar to %s", id)
	}
}

// TestNonPrivateEqualsCore is the equivalence test: with noise off in both
// engines, the Beam-built and the core-built models are the same.
func TestNonPrivateEqualsCore(t *testing.T) {
	events := sampleEvents(t)
	for _, params := range []release.Options{
		{K: 16, Keep: 16, HeadSize: 300, Mechanisms: pairsOnBeam},
		{K: 4, Keep: 4, HeadSize: 50, Mechanisms: pairsOnBeam},
	} {
		t.Run(fmt.Sprintf("K=%d", params.K), func(t *testing.T) {
			opts := fixture(t, events)
			opts.NonPrivate = true
			opts.Release = params
			res, err := Release(context.Background(), nil, opts)
			require.NoError(t, err)
			want := coreModel(t, opts, events, params)
			requireSameModel(t, want, res.Model)
			r := res.Model.Report()
			assert.False(t, r.Privacy.DifferentiallyPrivate)
			assert.Contains(t, r.BuiltWith, "prism")
			assert.Equal(t, want.Report().Contents, r.Contents)
			assert.Equal(t, want.Report().Privacy.Parts, r.Privacy.Parts)
			assert.Positive(t, res.Stats.Accepted)
		})
	}
}

func TestPrivateReleaseDebitsOnceAndLoadsInTheCore(t *testing.T) {
	opts := fixture(t, sampleEvents(t))
	opts.Release = release.Options{Epsilon: 2, Delta: 1e-6, HeadSize: 100, Mechanisms: pairsOnBeam}
	ledger, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{
		Budget: dp.Budget{Epsilon: 2.5, Delta: 1e-6}, Create: true, Logger: quiet,
	})
	require.NoError(t, err)
	defer ledger.Close()

	res, err := Release(context.Background(), ledger, opts)
	require.NoError(t, err)
	plan, err := opts.Release.Plan(mustCatalog(t, opts.Catalog))
	require.NoError(t, err)
	r := res.Model.Report()
	assert.True(t, r.Privacy.DifferentiallyPrivate)
	assert.Equal(t, plan.Epsilon, r.Privacy.Epsilon)
	require.Len(t, r.Privacy.Parts, 2)
	assert.Equal(t, plan.Parts[0].Sigma(), r.Privacy.Parts[0].Sigma)
	assert.Equal(t, plan.Parts[1].Sigma(), r.Privacy.Parts[1].Sigma)
	assert.Equal(t, 100*99/2, r.Privacy.Parts[1].Values)
	require.NotNil(t, r.Ledger)
	assert.Equal(t, 1, r.Ledger.Releases)
	sum, err := ledger.Summary(time.Now())
	require.NoError(t, err)
	require.Len(t, sum.Charges, 1)
	assert.Equal(t, res.Charge.Release, sum.Charges[0].Release)
	assert.InDelta(t, plan.Epsilon, sum.Epsilon, 1e-9)
	assert.Contains(t, sum.Charges[0].Note, "on Beam (prism)")

	// The snapshot is the core's format: write, load, serve.
	path := filepath.Join(t.TempDir(), "model.prm")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = res.Model.WriteTo(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	m, err := recommend.LoadModel(path)
	require.NoError(t, err)
	var recs recommend.Result
	require.NoError(t, m.Recommend(&recs, recommend.Query{Context: []string{m.Catalog().Item(0).ID}, N: 5}))
	assert.Len(t, recs.Items, 5)

	// A second release would overspend the cap of ε = 2.5: refused before
	// the pipeline runs, and nothing more is debited.
	_, err = Release(context.Background(), ledger, opts)
	require.ErrorIs(t, err, dp.ErrBudgetExceeded)
	sum, err = ledger.Summary(time.Now())
	require.NoError(t, err)
	assert.Len(t, sum.Charges, 1)
}

// TestContributionBoundingHolds adds one user with 10,000 events over the
// whole catalog: with noise off, at most K item counts and K(K-1)/2 pair
// counts move, each by at most 1.
func TestContributionBoundingHolds(t *testing.T) {
	events := sampleEvents(t)
	cat, err := sampledata.Catalog()
	require.NoError(t, err)
	var heavy bytes.Buffer
	heavy.Write(events)
	for i := range 10000 {
		fmt.Fprintf(&heavy, "heavy-buyer,%s,purchase,2011-06-01 10:00:00\n", cat.Item(i%cat.Len()).ID)
	}
	const k = 8
	params := release.Options{K: k, HeadSize: 120, Mechanisms: pairsOnBeam}
	run := func(ev []byte) Counts {
		opts := fixture(t, ev)
		opts.NonPrivate, opts.Release = true, params
		res, err := Release(context.Background(), nil, opts)
		require.NoError(t, err)
		return res.Counts
	}
	without, with := run(events), run(heavy.Bytes())
	moved := 0
	for i := range cat.Len() {
		d := with.Items[i] - without.Items[i]
		require.Contains(t, []int64{0, 1}, d, "item %d", i)
		moved += int(d)
	}
	assert.Equal(t, k, moved, "the heavy user counts for exactly K items")
	movedPairs, common := 0, 0
	for key, c := range with.Pairs {
		if c0, ok := without.Pairs[key]; ok {
			common++
			require.Contains(t, []int64{0, 1}, c-c0, "pair %x", key)
			movedPairs += int(c - c0)
		}
	}
	assert.Greater(t, common, 100*99/2, "most head pairs are in both releases")
	assert.LessOrEqual(t, movedPairs, k*(k-1)/2)
}

func TestReleaseRefusesBadOptionsBeforeDebiting(t *testing.T) {
	base := fixture(t, sampleEvents(t))
	base.Release = release.Options{Epsilon: 1, Delta: 1e-6, Mechanisms: pairsOnBeam}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no events", func(o *Options) { o.Events = "" }, "required"},
		{"missing events", func(o *Options) { o.Events += ".missing" }, "events"},
		{"both keys", func(o *Options) { o.KeyEnv = "X" }, "exactly one"},
		{"insecure key", func(o *Options) { require.NoError(t, os.Chmod(o.KeyFile, 0o644)) }, "0600"},
		{"bad epsilon", func(o *Options) { o.Release.Epsilon = -1 }, "Epsilon"},
		{"threshold", func(o *Options) { o.Release.Pairs = release.ThresholdPairs }, "not supported on Beam"},
		{"auto", func(o *Options) { o.Release.Mechanisms = release.Auto }, "mechanisms auto are not supported on Beam"},
		{"categories", func(o *Options) { o.Release.Mechanisms |= release.Categories }, "are not supported on Beam"},
		{"weighted", func(o *Options) { o.Release.Keep = 64 }, "not supported on Beam"},
		{"window over two periods", func(o *Options) { o.KeyPeriod = 24 * time.Hour }, "spans two key periods"},
		{"bad header", func(o *Options) {
			require.NoError(t, os.WriteFile(o.Events, []byte("user,item,email\n"), 0o644))
		}, "unknown column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := base
			opts.KeyFile = filepath.Join(t.TempDir(), "key")
			require.NoError(t, os.WriteFile(opts.KeyFile, []byte(hex.EncodeToString(testSecret)), 0o600))
			opts.Events = filepath.Join(t.TempDir(), "events.csv")
			require.NoError(t, os.WriteFile(opts.Events, []byte("user,item,time\nu,i,2011-01-01\n"), 0o644))
			tc.edit(&opts)
			ledger, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{Budget: dp.Budget{Epsilon: 10, Delta: 1e-5}, Create: true, Logger: quiet})
			require.NoError(t, err)
			defer ledger.Close()
			_, err = Release(context.Background(), ledger, opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			sum, err := ledger.Summary(time.Now())
			require.NoError(t, err)
			assert.Empty(t, sum.Charges, "nothing debited")
		})
	}
}

func TestBadLinesAreCountedNotDropped(t *testing.T) {
	events := "user,item,kind,time\n" +
		"u1,85123A,purchase,2011-01-01\n" +
		"u2,no-such-item,purchase,2011-01-01\n" +
		"u3,85123A,refund,2011-01-01\n" +
		"u4,85123A,purchase,1999-01-01\n" +
		"u5,22423,purchase,2011-02-01\n"
	opts := fixture(t, []byte(events))
	opts.NonPrivate = true
	opts.Release.HeadSize = 10
	res, err := Release(context.Background(), nil, opts)
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Stats.Accepted)
	assert.Equal(t, int64(3), res.Stats.Bad)
	require.Len(t, res.Stats.FirstBad, 3)
	all := strings.Join(res.Stats.FirstBad, "\n")
	assert.Contains(t, all, "not in catalog")
	assert.Contains(t, all, "outside the release window")
	assert.NotContains(t, all, "u2")
}

// TestAccuracyAgreesWithCore releases the benchmark's random 75/25 split of
// the sample with noise on, R times with each engine, and compares NDCG@10.
// The engines draw the same noise distributions, so their means differ by
// chance only: the standard error of the difference is s·sqrt(2/R). The
// test fails when the difference exceeds 4 standard errors (Welch t with
// about 2R−2 = 22 degrees of freedom: false failure rate about 6e-4); it
// also logs the difference next to the run-to-run standard deviation.
func TestAccuracyAgreesWithCore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline 12 times")
	}
	const runs = 12
	dir := t.TempDir()
	path := filepath.Join(dir, "sample.csv")
	require.NoError(t, os.WriteFile(path, sampleEvents(t), 0o644))
	ds, err := benchmarks.LoadEvents(path, events.FormatCSV)
	require.NoError(t, err)
	split := benchmarks.RandomSplit(ds, 1)
	var train bytes.Buffer
	train.WriteString("user,item,time\n")
	for u, items := range split.Train {
		for _, it := range items {
			fmt.Fprintf(&train, "user-%d,%s,2011-06-01\n", u, ds.Items[it])
		}
	}
	params := release.Options{Epsilon: 2, Delta: 1e-6, K: 16, Keep: 16, HeadSize: 100, Mechanisms: pairsOnBeam, Logger: quiet}
	opts := fixture(t, train.Bytes())
	opts.Release = params
	ledger, err := dp.OpenFileLedger(filepath.Join(dir, "ledger"), dp.LedgerOptions{Budget: dp.Budget{Epsilon: 1e4, Delta: 1e-3}, Create: true, Logger: quiet})
	require.NoError(t, err)
	defer ledger.Close()

	var core, onBeam []float64
	for r := range runs {
		m, err := benchmarks.Release(split, ds, params, true, uint64(r))
		require.NoError(t, err)
		core = append(core, benchmarks.Evaluate(split, benchmarks.NewModelScorer("core", m, ds.Items, false), 10).NDCG)
		opts.SampleKey = [16]byte{byte(r + 1)}
		res, err := Release(context.Background(), ledger, opts)
		require.NoError(t, err)
		onBeam = append(onBeam, benchmarks.Evaluate(split, benchmarks.NewModelScorer("beam", res.Model, ds.Items, false), 10).NDCG)
	}
	mc, sc := meanSD(core)
	mb, sb := meanSD(onBeam)
	se := math.Sqrt((sc*sc + sb*sb) / runs)
	t.Logf("NDCG@10 at ε = 2 over %d releases: core %.4f ± %.4f, Beam %.4f ± %.4f; difference %.4f (%.2f run-to-run SDs, %.2f standard errors)",
		runs, mc, sc, mb, sb, mb-mc, math.Abs(mb-mc)/math.Max(sc, sb), math.Abs(mb-mc)/se)
	assert.LessOrEqual(t, math.Abs(mb-mc), 4*se)
	assert.Positive(t, sc)
	assert.Positive(t, sb)
}

func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)-1))
}

// TestReadsEveryLineOfCompressedFiles guards against textio's early stop on
// .gz files: a gzipped copy of the sample gives the same events as the
// plain file, across two files of one pattern.
func TestReadsEveryLineOfCompressedFiles(t *testing.T) {
	events := sampleEvents(t)
	opts := fixture(t, events)
	opts.NonPrivate, opts.Release.HeadSize = true, 10
	plain, err := Release(context.Background(), nil, opts)
	require.NoError(t, err)
	assert.Equal(t, int64(207065), plain.Stats.Accepted)

	dir := t.TempDir()
	nl := bytes.IndexByte(events, '\n') + 1
	half := nl + bytes.IndexByte(events[len(events)/2:], '\n') + len(events)/2 - nl + 1
	for i, part := range [][]byte{events[:half], append(events[:nl:nl], events[half:]...)} {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, err := zw.Write(part)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.csv.gz", i)), gz.Bytes(), 0o644))
	}
	opts.Events = filepath.Join(dir, "part-*.csv.gz")
	zipped, err := Release(context.Background(), nil, opts)
	require.NoError(t, err)
	assert.Equal(t, plain.Stats, zipped.Stats)
	assert.Equal(t, plain.Counts, zipped.Counts)
}

// TestEveryCountCarriesThePlansNoise compares a private release with the
// non-private one of the same events and sample key: the differences are
// the noise, on every item and every head pair (zeros included), and their
// standard deviation is the plan's σ of each part. With the sample's 500
// item differences and over 500 pair differences (the pairs both heads
// hold, about 1,000; the heads come from noisy and exact counts) the sample
// SD is within 3.2% of σ at one standard error; the test accepts ±20%,
// more than 6 standard errors (a false failure less than once in 10⁸ runs
// per part), and fails if a part is left without noise or given half or
// twice it.
func TestEveryCountCarriesThePlansNoise(t *testing.T) {
	opts := fixture(t, sampleEvents(t))
	params := release.Options{Epsilon: 1, Delta: 1e-6, HeadSize: 60, Mechanisms: pairsOnBeam}
	opts.Release, opts.NonPrivate = params, true
	exact, err := Release(context.Background(), nil, opts)
	require.NoError(t, err)
	opts.NonPrivate = false
	ledger, err := dp.OpenFileLedger(filepath.Join(t.TempDir(), "ledger"), dp.LedgerOptions{
		Budget: dp.Budget{Epsilon: 2, Delta: 1e-5}, Create: true, Logger: quiet,
	})
	require.NoError(t, err)
	defer ledger.Close()
	noisy, err := Release(context.Background(), ledger, opts)
	require.NoError(t, err)
	plan, err := params.Plan(mustCatalog(t, opts.Catalog))
	require.NoError(t, err)

	sd := func(d []float64) float64 {
		_, s := meanSD(d)
		return s
	}
	var items []float64
	for i, n := range noisy.Counts.Items {
		items = append(items, float64(n-exact.Counts.Items[i]))
	}
	var pairs []float64
	require.Len(t, noisy.Counts.Pairs, 60*59/2, "every head pair, zeros included")
	for key, n := range noisy.Counts.Pairs {
		// The head comes from the noisy item counts, so it may differ from
		// the exact release's: compare the pairs both heads hold.
		if c, ok := exact.Counts.Pairs[key]; ok {
			pairs = append(pairs, float64(n-c))
		}
	}
	require.Greater(t, len(pairs), 500)
	sigmaItems, sigmaPairs := plan.Parts[0].Sigma(), plan.Parts[1].Sigma()
	t.Logf("item noise SD %.3f (σ %.3f, %d counts), pair noise SD %.3f (σ %.3f, %d counts)", sd(items), sigmaItems, len(items), sd(pairs), sigmaPairs, len(pairs))
	assert.InEpsilon(t, sigmaItems, sd(items), 0.2, "item noise")
	assert.InEpsilon(t, sigmaPairs, sd(pairs), 0.2, "pair noise")
}

// A release on prism leaves nothing in the temp directory: Beam's portable
// runner creates an empty placeholder file per LOOPBACK job and never
// removes it (apache/beam#27569); Release does, and only the new ones.
func TestReleaseLeavesNoLoopbackPlaceholder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	other := filepath.Join(tmp, "beamloopbackworker-notours")
	require.NoError(t, os.WriteFile(other, nil, 0o600))
	opts := fixture(t, []byte("user,item,kind,time\nu1,85123A,purchase,2011-01-01\n"))
	opts.NonPrivate = true
	opts.Release.HeadSize = 10
	_, err := Release(context.Background(), nil, opts)
	require.NoError(t, err)
	left, err := filepath.Glob(filepath.Join(tmp, loopbackPattern))
	require.NoError(t, err)
	assert.Equal(t, []string{other}, left, "only the placeholder that was there before")
}
