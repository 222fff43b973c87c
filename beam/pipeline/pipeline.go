package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism" // the default, in-process runner
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/engine"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

// Options configure one release on Beam. They mirror `privrec build`.
type Options struct {
	// Events is a file pattern on any Beam filesystem (local, gs://, s3://):
	// CSV, JSON Lines or Online Retail, .gz decompressed by extension.
	// Every CSV file must start with the same header line.
	Events string
	// Format of the events.
	Format events.Format
	// Catalog is the catalog CSV (id[,category][,name]) on any Beam
	// filesystem. Every worker reads it.
	Catalog string
	// KeyFile is the master secret's path on every worker (mode 0600), or
	// KeyEnv the environment variable that holds it there. Exactly one must
	// be set. Only the path or the variable's name enters the pipeline
	// graph; the secret never does.
	KeyFile, KeyEnv string
	// KeyPeriod and KeyEpoch configure the keyring as in pseudonym.Options.
	// A zero KeyPeriod means one period that starts at Window.Start and
	// covers the window, as `privrec build` does.
	KeyPeriod time.Duration
	KeyEpoch  time.Time
	// Window is the release window; events outside it are bad lines.
	Window recommend.Window
	// Kinds are the event kinds counted; all when empty.
	Kinds []events.Kind
	// Release are the release's options, as for release.Private. Only
	// what the core's engine entry point supports runs on Beam (Mechanisms
	// Popularity|Pairs or Popularity, head pairs, unweighted items); Auto,
	// the core's default, is refused: see the package documentation.
	Release release.Options
	// SampleKey keys the choice of the K items kept per user, as
	// collect.Options.SampleKey; random when zero.
	SampleKey [16]byte
	// TempDir receives the pipeline's output (released counts and line
	// statistics only; no identifiers) on a Beam filesystem that both the
	// workers and this process can reach.
	TempDir string
	// Runner is the Beam runner ("prism", "flink", "spark", "dataflow",
	// "universal"); "prism" when empty. It is named in the report.
	Runner string
	// NonPrivate adds no noise and debits no ledger: the model is the ε = ∞
	// reference of release.Exact, for equivalence tests and benchmarks
	// only, and its report says so.
	NonPrivate bool
	// Logger receives progress; slog.Default() when nil.
	Logger *slog.Logger
}

// Stats count the input lines of a release.
type Stats struct {
	Accepted int64    // events accepted
	Skipped  int64    // Online Retail lines skipped on purpose
	Bad      int64    // lines refused
	FirstBad []string // a few of the refusals (sorted, distinct)
}

// Result is what Release returns.
type Result struct {
	Model *recommend.Model
	Stats Stats
	// Charge is the ledger charge debited; zero for a NonPrivate release.
	Charge dp.Charge
	// Counts are the released (noisy) aggregates the model was assembled
	// from: DP output, kept for audit and tests.
	Counts Counts
}

// Counts are a release's noisy aggregates.
type Counts struct {
	// Items holds, for every catalog item in catalog order, the noisy
	// number of users who kept it.
	Items []int64
	// Pairs holds, for every pair of head items, the noisy number of users
	// who kept both, keyed by the pair's catalog indexes, smaller first;
	// empty when the release has no pairs.
	Pairs map[[2]uint32]int64
}

// ErrNoEvents reports a release in which no event was accepted.
var ErrNoEvents = errors.New("privrec/beam: no event was accepted")

// validated holds what validate derived from Options.
type validated struct {
	opts    Options
	ext     engine.Release
	private bool
	params  release.Options // with defaults
	cat     *recommend.Catalog
	cfg     workerConfig
	nFiles  int
}

func validate(ctx context.Context, opts Options) (*validated, error) {
	v := &validated{opts: opts}
	if opts.Events == "" || opts.Catalog == "" || opts.TempDir == "" {
		return nil, errors.New("privrec/beam: Events, Catalog and TempDir are required")
	}
	if (opts.KeyFile == "") == (opts.KeyEnv == "") {
		return nil, errors.New("privrec/beam: set exactly one of KeyFile and KeyEnv")
	}
	if err := opts.Window.Validate(); err != nil {
		return nil, fmt.Errorf("privrec/beam: %w", err)
	}
	if opts.Runner == "" {
		v.opts.Runner = "prism"
	}
	if opts.Logger == nil {
		v.opts.Logger = slog.Default()
	}
	if opts.SampleKey == ([16]byte{}) {
		if _, err := rand.Read(v.opts.SampleKey[:]); err != nil {
			return nil, fmt.Errorf("privrec/beam: sample key: %w", err)
		}
	}
	cfg := workerConfig{
		Format: int(opts.Format), Catalog: opts.Catalog, KeyFile: opts.KeyFile, KeyEnv: opts.KeyEnv,
		KeyPeriod: opts.KeyPeriod, KeyEpoch: opts.KeyEpoch,
		WindowStart: opts.Window.Start, WindowEnd: opts.Window.End,
	}
	if cfg.KeyPeriod == 0 {
		cfg.KeyEpoch = opts.Window.Start
		cfg.KeyPeriod = opts.Window.End.Sub(opts.Window.Start).Truncate(24*time.Hour) + 24*time.Hour
	}
	for _, k := range opts.Kinds {
		cfg.Kinds = append(cfg.Kinds, int(k))
	}
	header, n, err := firstLine(ctx, opts.Events)
	if err != nil {
		return nil, fmt.Errorf("privrec/beam: events: %w", err)
	}
	v.nFiles = n
	if opts.Format != events.FormatJSONLines {
		cfg.Header = header
	}
	v.cfg = cfg
	// Open everything a worker opens, here, so that a bad catalog, key or
	// window fails before the ledger is debited.
	if v.cat, err = loadCatalog(ctx, opts.Catalog); err != nil {
		return nil, fmt.Errorf("privrec/beam: %w", err)
	}
	// Options are checked, and what Beam cannot do refused, before the
	// ledger is debited.
	if opts.NonPrivate {
		v.ext, err = engine.NewRelease(v.cat, opts.Release, true)
	} else {
		v.ext, err = engine.NewRelease(v.cat, opts.Release, false)
		v.private = true
	}
	if err != nil {
		return nil, fmt.Errorf("privrec/beam: %w", err)
	}
	v.params = opts.Release.WithDefaults()
	v.params.Keep = v.params.K
	if _, _, err := cfg.gate(v.cat); err != nil {
		return nil, fmt.Errorf("privrec/beam: %w", err)
	}
	return v, nil
}

// Release runs one window's release on Beam: it validates opts, debits
// ledger (unless NonPrivate) before any noisy count exists, runs the
// pipeline on opts.Runner, and assembles the model from the released
// counts with the core library's post-processing. Like
// release.Private, a failure after the debit loses budget and never
// overspends.
func Release(ctx context.Context, ledger dp.Ledger, opts Options) (*Result, error) {
	v, err := validate(ctx, opts)
	if err != nil {
		return nil, err
	}
	log := v.opts.Logger
	res := &Result{}
	var summary *dp.Summary
	if v.private {
		if ledger == nil {
			return nil, errors.New("privrec/beam: Release needs a ledger")
		}
		charge, err := v.ext.Charge(opts.Window)
		if err != nil {
			return nil, err
		}
		charge.Note += ", on Beam (" + v.opts.Runner + ")"
		if res.Charge, err = ledger.Debit(ctx, charge); err != nil {
			return nil, fmt.Errorf("privrec/beam: release refused: %w", err)
		}
		log.Info("privrec beam release: budget debited", "release", res.Charge.Release, "epsilon", res.Charge.Epsilon, "delta", res.Charge.Delta)
		if s, err := ledger.Summary(res.Charge.At); err == nil {
			summary = &s
		}
	}
	out := strings.TrimRight(opts.TempDir, "/") + "/" + releaseDir(res.Charge)
	p, err := construct(v, out)
	if err != nil {
		return nil, err
	}
	log.Info("privrec beam release: running pipeline", "runner", v.opts.Runner, "files", v.nFiles)
	start := time.Now()
	placeholders := loopbackPlaceholders()
	pr, err := beam.Run(ctx, v.opts.Runner, p)
	removeNewPlaceholders(placeholders, log)
	if err != nil {
		return nil, fmt.Errorf("privrec/beam: pipeline on %s: %w", v.opts.Runner, err)
	}
	log.Info("privrec beam release: pipeline done", "seconds", time.Since(start).Seconds())

	stats, known := lineStats(pr)
	if !known {
		log.Warn("privrec beam release: the runner reported no line counts", "runner", v.opts.Runner)
	}
	counts, err := readOutput(ctx, out, v.cat.Len(), v.ext.ReleasesPairs(), &stats)
	if err != nil {
		return nil, fmt.Errorf("privrec/beam: read released counts: %w", err)
	}
	res.Stats, res.Counts = stats, counts
	if known && stats.Accepted == 0 {
		return res, fmt.Errorf("%w (%d bad lines)", ErrNoEvents, stats.Bad)
	}
	at := res.Charge.At
	releaseID := res.Charge.Release
	if !v.private {
		at, releaseID = time.Now(), "non-private"
	}
	res.Model, err = v.ext.Assemble(engine.Counts(counts), engine.Info{
		ReleaseID: releaseID, CreatedAt: at, Window: opts.Window,
		KeyPeriod: v.cfg.KeyPeriod, Kinds: opts.Kinds,
		BuiltWith: "privrec/beam on Apache Beam (" + v.opts.Runner + " runner), Privacy on Beam v3",
		Ledger:    summary,
	})
	if err != nil {
		return nil, fmt.Errorf("privrec/beam: %w", err)
	}
	return res, nil
}

// loopbackPattern names the empty placeholder file that Beam's portable
// runner creates in the temp directory for each LOOPBACK job (prism's
// default) and never removes (apache/beam#27569).
const loopbackPattern = "beamloopbackworker-*"

// loopbackPlaceholders returns the placeholder files that exist now.
func loopbackPlaceholders() map[string]bool {
	names, _ := filepath.Glob(filepath.Join(os.TempDir(), loopbackPattern))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
	}
	return seen
}

// removeNewPlaceholders removes the empty placeholder files that appeared
// since before, once the job is over: the runner never reads them again.
func removeNewPlaceholders(before map[string]bool, log *slog.Logger) {
	names, _ := filepath.Glob(filepath.Join(os.TempDir(), loopbackPattern))
	for _, n := range names {
		if before[n] {
			continue
		}
		if fi, err := os.Stat(n); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			if err := os.Remove(n); err != nil {
				log.Warn("privrec beam release: could not remove Beam's loopback placeholder", "file", n, "err", err)
			}
		}
	}
}

// FirstLine returns the first line of the first file (in name order) that
// matches the pattern events, on any Beam filesystem.
func FirstLine(ctx context.Context, events string) (string, error) {
	line, _, err := firstLine(ctx, events)
	return line, err
}

func releaseDir(c dp.Charge) string {
	if c.Release == "" {
		return "privrec-nonprivate-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return "privrec-release-" + c.Release
}

// construct builds the pipeline graph; out is the directory it writes to.
func construct(v *validated, out string) (*beam.Pipeline, error) {
	p, s := beam.NewPipelineWithRoot()
	k := v.params.K

	// 1. Read, parse, check and pseudonymize at the door.
	lines := readEvents(s.Scope("read"), v.opts.Events)
	admitted, badLines := beam.ParDo2(s.Scope("admit"), &admitFn{Config: v.cfg, SampleKey: v.opts.SampleKey[:], K: k}, lines)

	// 2. Bound each pseudonym to K items, exactly as collect.Collector,
	//    with a combiner: partial bottom-K sets merge before the shuffle.
	kept := beam.CombinePerKey(s.Scope("bound"), &bottomKFn{K: k}, admitted)

	// 3. Users per item over the public catalog, with Privacy on Beam.
	spec, err := privacySpec(v)
	if err != nil {
		return nil, err
	}
	catalog := make([]int64, v.cat.Len())
	for i := range catalog {
		catalog[i] = int64(i)
	}
	is := s.Scope("items")
	items := pbeam.MakePrivate(is, beam.ParDo(is, explodeItems, kept), spec)
	itemCounts := pbeam.Count(is, items, countParams(v, catalogCounter(v), catalog))
	vector := beam.Combine(is, &vectorFn{N: v.cat.Len()}, beam.ParDo(is, toItemCount, itemCounts))
	textio.Write(is, out+"/items.txt", beam.ParDo(is, formatCount, itemCounts))

	// 4. Users per pair of head items; the head comes from the released
	//    item counts, so its pairs are public partitions. Each user's pairs
	//    are those of their K kept items, so one user changes at most
	//    K(K−1)/2 pair counts by 1: the pairs are counted without
	//    pseudonyms (a combiner, like any count), every head pair gets a
	//    count (zeros included), and the core's pair counter noises each
	//    one in the last step. Privacy on Beam would group the pair rows by
	//    pseudonym again to bound what is already bounded, and that
	//    shuffle was most of the pipeline's memory.
	if v.ext.ReleasesPairs() {
		ps := s.Scope("pairs")
		heads := beam.ParDo(ps, &headPartitionsFn{HeadSize: v.params.HeadSize}, vector)
		users := beam.ParDo(ps, &headPairsFn{HeadSize: v.params.HeadSize}, kept, beam.SideInput{Input: vector})
		counts := beam.CombinePerKey(ps, sumCounts, beam.Flatten(ps, heads, users))
		noisy := beam.ParDo(ps, &pairNoiseFn{Config: pairNoiseConfig(v)}, counts)
		textio.Write(ps, out+"/pairs.txt", noisy)
	}

	// 5. A few bad lines, for the caller (the counts are Beam metrics).
	ss := s.Scope("bad")
	textio.Write(ss, out+"/bad.txt", beam.ParDo(ss, joinLines, beam.Combine(ss, &sampleFn{Max: 5}, badLines)))
	return p, nil
}

// counterSpec says how one count is noised: the counter's sensitivities and
// the ε, δ the DP library is called with.
type counterSpec struct {
	l0         int64
	eps, delta float64
}

func catalogCounter(v *validated) counterSpec { return counterOf(v.ext.Items(), int64(v.params.K)) }

// counterOf describes counter c, or, for an exact release (c == nil), a
// count whose users each change at most l0 values.
func counterOf(c *dp.Counter, l0 int64) counterSpec {
	if c == nil {
		// Non-private: Privacy on Beam's test mode adds no noise; any valid
		// budget will do.
		return counterSpec{l0: l0, eps: 1, delta: 1e-6}
	}
	cl0, _ := c.Sensitivity()
	eps, delta := c.LibraryParams()
	return counterSpec{l0: cl0, eps: eps, delta: delta}
}

// privacySpec gives Privacy on Beam what the item count is called with;
// the release's real spend is the plan's (zCDP accounting of the same
// Gaussian noise, with the pair counts'), which is what the ledger is
// debited.
func privacySpec(v *validated) (*pbeam.PrivacySpec, error) {
	var eps, delta float64
	// Only the item counts go through Privacy on Beam (the pair counts get
	// the core's counter: see construct).
	if c := catalogCounter(v); c.l0 != 0 {
		eps, delta = c.eps, c.delta
	}
	if v.params.Noise == dp.Laplace {
		delta = 0
	}
	params := pbeam.PrivacySpecParams{
		// One ulp of headroom, so that the count's exact request is never
		// "slightly too large" after rounding.
		AggregationEpsilon: math.Nextafter(eps*(1+1e-12), math.Inf(1)),
		AggregationDelta:   delta,
	}
	if delta > 0 {
		params.AggregationDelta = math.Min(math.Nextafter(delta*(1+1e-12), 1), 0.999999)
	}
	if !v.private {
		params.TestMode = pbeam.TestModeWithContributionBounding
	}
	spec, err := pbeam.NewPrivacySpec(params)
	if err != nil {
		return nil, fmt.Errorf("privrec/beam: privacy spec: %w", err)
	}
	return spec, nil
}

func countParams(v *validated, c counterSpec, partitions any) pbeam.CountParams {
	cp := pbeam.CountParams{
		AggregationEpsilon:       c.eps,
		MaxPartitionsContributed: c.l0,
		MaxValue:                 1,
		PublicPartitions:         partitions,
		// The core's post-processing clamps item counts and fits the
		// independence model to the raw (possibly negative) pair counts.
		AllowNegativeOutputs: true,
		NoiseKind:            pbeam.LaplaceNoise{},
	}
	if v.params.Noise == dp.Gaussian {
		cp.NoiseKind = pbeam.GaussianNoise{}
		cp.AggregationDelta = c.delta
	}
	return cp
}

// lineStats reads the line counts from the pipeline's metrics; known is
// false when the runner reported none.
func lineStats(pr beam.PipelineResult) (st Stats, known bool) {
	if pr == nil {
		return st, false
	}
	for _, c := range pr.Metrics().AllMetrics().Counters() {
		if c.Namespace() != metricsNamespace {
			continue
		}
		known = true
		switch c.Name() {
		case statAccepted:
			st.Accepted += c.Result()
		case statSkipped:
			st.Skipped += c.Result()
		case statBad:
			st.Bad += c.Result()
		}
	}
	return st, known
}

// readOutput reads what the pipeline wrote: the released counts, and a few
// bad lines into st.
func readOutput(ctx context.Context, dir string, nItems int, pairs bool, st *Stats) (Counts, error) {
	var rc Counts
	if st.Bad > 0 {
		bad, err := readLines(ctx, dir+"/bad.txt")
		if err != nil {
			return rc, err
		}
		st.FirstBad = bad
	}
	rc.Items = make([]int64, nItems)
	seen := make([]bool, nItems)
	lines, err := readLines(ctx, dir+"/items.txt")
	if err != nil {
		return rc, err
	}
	for _, l := range lines {
		key, n, err := splitCount(l)
		if err != nil {
			return rc, err
		}
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= nItems || seen[i] {
			return rc, fmt.Errorf("items.txt: bad or repeated item %q", key)
		}
		rc.Items[i], seen[i] = n, true
	}
	rc.Pairs = map[[2]uint32]int64{}
	if !pairs {
		return rc, nil
	}
	if lines, err = readLines(ctx, dir+"/pairs.txt"); err != nil {
		return rc, err
	}
	for _, l := range lines {
		key, n, err := splitCount(l)
		if err != nil {
			return rc, err
		}
		pk, err := strconv.ParseUint(key, 10, 64)
		if err != nil {
			return rc, fmt.Errorf("pairs.txt: bad pair %q", key)
		}
		rc.Pairs[splitPairKey(pk)] = n
	}
	return rc, nil
}

func splitCount(line string) (string, int64, error) {
	key, num, ok := strings.Cut(line, "\t")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil {
		return "", 0, fmt.Errorf("bad output line %q", line)
	}
	return key, n, nil
}
