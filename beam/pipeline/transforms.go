package pipeline

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths; cmd/privrec-beam adds gs:// and s3://
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/privrec/privrec/collect"
	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/events"
	"github.com/privrec/privrec/internal/bottomk"
	"github.com/privrec/privrec/internal/engine"
	"github.com/privrec/privrec/pseudonym"
	"github.com/privrec/privrec/recommend"
	"github.com/privrec/privrec/release"
)

func init() {
	register.DoFn4x1[context.Context, string, func(string, []byte), func(string), error](&admitFn{})
	register.Emitter2[string, []byte]()
	register.Emitter1[string]()
	register.DoFn3x1[context.Context, fileio.ReadableFile, func(string), error](&wholeFileLinesFn{})
	register.Combiner3[[]byte, []byte, []byte](&bottomKFn{})
	register.Function3x0[string, []byte, func(string, int64)](explodeItems)
	register.Emitter2[string, int64]()
	register.DoFn4x0[string, []byte, []int64, func(int64, int64)](&headPairsFn{})
	register.DoFn2x0[[]int64, func(int64, int64)](&headPartitionsFn{})
	register.Emitter2[int64, int64]()
	register.Function2x1[int64, int64, int64](sumCounts)
	register.DoFn2x2[int64, int64, string, error](&pairNoiseFn{})
	register.Function2x1[int64, int64, itemCount](toItemCount)
	register.Combiner3[[]int64, itemCount, []int64](&vectorFn{})
	register.Function2x1[int64, int64, string](formatCount)
	register.Combiner3[[]string, string, []string](&sampleFn{})
	register.Function1x1[[]string, string](joinLines)
	beam.RegisterType(reflect.TypeOf((*itemCount)(nil)).Elem())
}

// workerConfig is what every worker needs to check and pseudonymize events.
// It travels inside the pipeline graph, so it holds where the secret is,
// never the secret.
type workerConfig struct {
	Format      int
	Header      string
	Catalog     string // path on a Beam filesystem
	KeyFile     string
	KeyEnv      string
	KeyPeriod   time.Duration
	KeyEpoch    time.Time
	WindowStart time.Time
	WindowEnd   time.Time
	Kinds       []int
}

// loadCatalog reads a catalog CSV from any Beam filesystem.
func loadCatalog(ctx context.Context, path string) (*recommend.Catalog, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	defer r.Close()
	cat, err := recommend.ReadCatalogCSV(r)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return cat, nil
}

// keyring opens the keyring the way the configuration says.
func (c workerConfig) keyring() (*pseudonym.Keyring, error) {
	opts := pseudonym.Options{PeriodLength: c.KeyPeriod, Epoch: c.KeyEpoch}
	if c.KeyFile != "" {
		return pseudonym.FromFile(c.KeyFile, opts)
	}
	// FromEnv unsets the variable (so that processes the worker starts do
	// not inherit the secret), and one worker process sets up many DoFns:
	// the first reads the environment, the others share its keyring.
	envKeyrings.Lock()
	defer envKeyrings.Unlock()
	key := envKeyring{c.KeyEnv, opts.PeriodLength, opts.Epoch.UnixNano()}
	if kr, ok := envKeyrings.m[key]; ok {
		return kr, nil
	}
	kr, err := pseudonym.FromEnv(c.KeyEnv, opts)
	if err != nil {
		return nil, err
	}
	envKeyrings.m[key] = kr
	return kr, nil
}

// envKeyrings are the keyrings this process read from the environment.
var envKeyrings = struct {
	sync.Mutex
	m map[envKeyring]*pseudonym.Keyring
}{m: map[envKeyring]*pseudonym.Keyring{}}

type envKeyring struct {
	name   string
	period time.Duration
	epoch  int64
}

func (c workerConfig) kinds() []events.Kind {
	ks := make([]events.Kind, len(c.Kinds))
	for i, k := range c.Kinds {
		ks[i] = events.Kind(k)
	}
	return ks
}

// gate builds the parser and the door for the catalog cat: the same checks
// and pseudonyms as collect.Ingestor.
func (c workerConfig) gate(cat *recommend.Catalog) (*events.LineParser, engine.Gate, error) {
	kr, err := c.keyring()
	if err != nil {
		return nil, nil, err
	}
	g, err := engine.NewGate(cat, collect.Options{
		Window:       recommend.Window{Start: c.WindowStart, End: c.WindowEnd},
		Kinds:        c.kinds(),
		MaxClockSkew: -1,
	}, kr)
	if err != nil {
		return nil, nil, err
	}
	lp, err := events.NewLineParser(events.Format(c.Format), c.Header, events.ReaderOptions{})
	if err != nil {
		return nil, nil, err
	}
	return lp, g, nil
}

// readEvents reads the lines of every file matching pattern. Plain files go
// through textio, which splits large files across workers. Compressed
// files are read whole by one worker each: textio (seen in Beam Go 2.71,
// not re-checked since) bounds its read by the compressed size and
// silently stops early on .gz files.
func readEvents(s beam.Scope, pattern string) beam.PCollection {
	if !strings.HasSuffix(strings.ToLower(pattern), ".gz") {
		return textio.Read(s, pattern)
	}
	files := fileio.ReadMatches(s, fileio.MatchFiles(s, pattern, fileio.MatchEmptyDisallow()))
	return beam.ParDo(s, &wholeFileLinesFn{}, files)
}

// wholeFileLinesFn emits every line of a file, decompressed by extension.
type wholeFileLinesFn struct{}

func (f *wholeFileLinesFn) ProcessElement(ctx context.Context, file fileio.ReadableFile, emit func(string)) error {
	rc, err := file.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 64<<10), events.MaxLineBytes+1)
	for sc.Scan() {
		emit(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file.Metadata.Path, err)
	}
	return nil
}

// Names of the Beam metrics (namespace metricsNamespace) that count input
// lines.
const (
	metricsNamespace = "privrec"
	statAccepted     = "accepted"
	statSkipped      = "skipped"
	statBad          = "bad"
)

var (
	acceptedLines = beam.NewCounter(metricsNamespace, statAccepted)
	skippedLines  = beam.NewCounter(metricsNamespace, statSkipped)
	badLines      = beam.NewCounter(metricsNamespace, statBad)
)

// admitFn parses a line, checks the event and replaces the user ID by its
// pseudonym: the raw ID goes no further than this function. It emits, for
// an accepted event, the pseudonym and the item's catalog index with its
// rank for bounding (a ranked record, see bottomKFn), and the error of a
// bad line (which never contains the user ID), and counts lines in Beam
// metrics.
type admitFn struct {
	Config    workerConfig
	SampleKey []byte // keys the ranks, as collect.Options.SampleKey
	K         int    // items kept per user

	lp   *events.LineParser
	gate engine.Gate
	hash bottomk.Hash
	// partial holds this bundle's bottom-K sets, by pseudonym, until the
	// bundle ends or it holds maxUsers (maxPartialUsers when zero); bound
	// is their combiner.
	partial  map[pseudonym.ID][]byte
	bound    bottomKFn
	maxUsers int
}

// The DoFns that feed a count or a combiner aggregate within a bundle
// themselves, because the Go SDK's lifted combiner keeps only 2,000 keys
// per bundle: with users interleaved in time, or with ~10⁵ head pairs, it
// passed nearly every row to the shuffle, and on prism the shuffled rows
// were most of the pipeline's memory. The partial aggregates are flushed
// early at these sizes, so a worker's memory stays bounded.
const (
	// maxPartialUsers bounds the users whose partial bottom-K sets admitFn
	// keeps (at K = 16, about 20 MB).
	maxPartialUsers = 1 << 16
	// maxPartialCounts bounds the pairs headPairsFn counts (about 50 MB).
	maxPartialCounts = 1 << 20
)

func (f *admitFn) Setup(ctx context.Context) error {
	cat, err := loadCatalog(ctx, f.Config.Catalog)
	if err != nil {
		return err
	}
	var key [16]byte
	copy(key[:], f.SampleKey)
	f.hash = bottomk.New(key)
	f.bound = bottomKFn{K: f.K}
	f.lp, f.gate, err = f.Config.gate(cat)
	return err
}

func (f *admitFn) StartBundle(func(string, []byte), func(string)) {
	f.partial = make(map[pseudonym.ID][]byte)
}

// FinishBundle emits the bundle's partial bottom-K sets.
func (f *admitFn) FinishBundle(emit func(string, []byte), _ func(string)) {
	f.flush(emit)
}

func (f *admitFn) flush(emit func(string, []byte)) {
	for id, acc := range f.partial {
		emit(string(id[:]), acc)
	}
	clear(f.partial)
}

// ProcessElement admits one line. An accepted event joins its user's
// partial bottom-K set (the runner's combiner would keep such a set too,
// but for few users at a time); the sets leave at the end of the bundle.
func (f *admitFn) ProcessElement(ctx context.Context, line string, emit func(string, []byte), bad func(string)) error {
	e, skip, err := f.lp.Parse(line)
	if skip {
		if strings.TrimSpace(line) != "" && strings.TrimSpace(line) != strings.TrimSpace(f.Config.Header) {
			skippedLines.Inc(ctx, 1)
		}
		return nil
	}
	if err == nil {
		var id pseudonym.ID
		var idx uint32
		id, idx, err = f.gate.Admit(e)
		if err == nil {
			acceptedLines.Inc(ctx, 1)
			var rec [rankedLen]byte
			appendRanked(rec[:0], f.hash.Rank(id, idx), idx)
			acc, ok := f.partial[id]
			if !ok && len(f.partial) >= cmp.Or(f.maxUsers, maxPartialUsers) {
				f.flush(emit)
			}
			f.partial[id] = f.bound.insert(acc, rec[:])
			return nil
		}
	}
	badLines.Inc(ctx, 1)
	bad(err.Error())
	return nil
}

// A ranked record is an item with its rank for one user: the rank as a
// big-endian uint64 (so that records compare as bytes in rank order) and
// the catalog index as a big-endian uint32.
const rankedLen = 12

func appendRanked(b []byte, rank uint64, item uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, rank)
	return binary.BigEndian.AppendUint32(b, item)
}

// bottomKFn keeps, per pseudonym, the K items of smallest rank: exactly
// the items a collect.Collector with the same SampleKey keeps. Bottom-K
// sets merge exactly, so it is a combiner and runners combine before the
// shuffle: a user's events are never grouped in one place. The
// accumulator is the kept ranked records, sorted and distinct; the output
// is their items packed as little-endian uint32s (decodeItems).
type bottomKFn struct{ K int }

func (f *bottomKFn) CreateAccumulator() []byte { return nil }

// AddInput adds a partial set (one or more ranked records, as admitFn
// emits them).
func (f *bottomKFn) AddInput(acc, recs []byte) []byte { return f.MergeAccumulators(acc, recs) }

func (f *bottomKFn) MergeAccumulators(a, b []byte) []byte {
	for i := 0; i+rankedLen <= len(b); i += rankedLen {
		a = f.insert(a, b[i:i+rankedLen])
	}
	return a
}

// insert adds one ranked record to acc, unless acc already holds it or
// holds K records of smaller rank.
func (f *bottomKFn) insert(acc, rec []byte) []byte {
	if len(rec) != rankedLen || f.K < 1 {
		return acc
	}
	n := len(acc) / rankedLen
	i, found := sort.Find(n, func(i int) int { return bytes.Compare(rec, acc[i*rankedLen:(i+1)*rankedLen]) })
	if found || i >= f.K {
		return acc
	}
	if n < f.K {
		acc = append(acc, rec...) // grow by one record; shifted below
	} else {
		n-- // the last record falls out
	}
	copy(acc[(i+1)*rankedLen:], acc[i*rankedLen:n*rankedLen])
	copy(acc[i*rankedLen:], rec)
	return acc
}

func (f *bottomKFn) ExtractOutput(acc []byte) []byte {
	out := make([]byte, 0, 4*(len(acc)/rankedLen))
	for i := 0; i+rankedLen <= len(acc); i += rankedLen {
		out = binary.LittleEndian.AppendUint32(out, binary.BigEndian.Uint32(acc[i+8:]))
	}
	return out
}

// decodeItems unpacks bottomKFn's item list.
func decodeItems(b []byte) []uint32 {
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// explodeItems emits (pseudonym, item) for each kept item.
func explodeItems(id string, kept []byte, emit func(string, int64)) {
	for _, it := range decodeItems(kept) {
		emit(id, int64(it))
	}
}

// headPairsFn counts, per bundle, the users of each pair of kept items
// that are both in the head chosen from the released item counts (a side
// input), and emits (pair key, users) when the bundle ends or it has
// counted maxPartialCounts pairs. The pseudonym goes no further.
type headPairsFn struct {
	HeadSize int

	inHead  []bool
	counts  map[int64]int64
	maxKeys int // maxPartialCounts when zero
}

func (f *headPairsFn) ProcessElement(_ string, kept []byte, itemCounts []int64, emit func(int64, int64)) {
	if f.inHead == nil {
		f.counts = make(map[int64]int64)
		f.inHead = make([]bool, len(itemCounts))
		for _, it := range engine.HeadItems(itemCounts, f.HeadSize) {
			f.inHead[it] = true
		}
	}
	items := decodeItems(kept)
	items = slices.DeleteFunc(items, func(it uint32) bool { return int(it) >= len(f.inHead) || !f.inHead[it] })
	if len(f.counts)+len(items)*len(items)/2 > cmp.Or(f.maxKeys, maxPartialCounts) {
		f.flush(emit)
	}
	for x := range items {
		for y := x + 1; y < len(items); y++ {
			f.counts[pairKey(items[x], items[y])]++
		}
	}
}

// FinishBundle emits the bundle's counts. (Beam asks for the side input
// here too.)
func (f *headPairsFn) FinishBundle(_ []int64, emit func(int64, int64)) { f.flush(emit) }

func (f *headPairsFn) flush(emit func(int64, int64)) {
	for k, c := range f.counts {
		emit(k, c)
	}
	clear(f.counts)
}

// headPartitionsFn emits (pair key, 0) for every head pair, so that every
// pair of the head gets a count and noise, zeros included. The head is
// post-processing of released counts.
type headPartitionsFn struct{ HeadSize int }

func (f *headPartitionsFn) ProcessElement(itemCounts []int64, emit func(int64, int64)) {
	head := engine.HeadItems(itemCounts, f.HeadSize)
	for x := range head {
		for y := x + 1; y < len(head); y++ {
			emit(pairKey(head[x], head[y]), 0)
		}
	}
}

func sumCounts(a, b int64) int64 { return a + b }

// noiseConfig is what a worker needs to rebuild the release's pair
// counter: the options that calibrate it, the catalog they are checked
// against, and the σ the launcher calibrated, which the worker's counter
// must match.
type noiseConfig struct {
	Private    bool
	Catalog    string
	Mechanisms int
	Epsilon    float64
	Delta      float64
	Noise      int
	K          int
	ItemShare  float64
	HeadSize   int
	Sigma      float64
}

func pairNoiseConfig(v *validated) noiseConfig {
	c := noiseConfig{Private: v.private, Catalog: v.opts.Catalog}
	if !v.private {
		return c
	}
	p := v.params
	c.Mechanisms, c.Epsilon, c.Delta, c.Noise = int(p.Mechanisms), p.Epsilon, p.Delta, int(p.Noise)
	c.K, c.ItemShare, c.HeadSize, c.Sigma = p.K, p.ItemShare, p.HeadSize, v.ext.Pairs().Sigma()
	return c
}

// pairNoiseFn adds the release's pair noise to each head pair's count and
// formats it: the last step, so an exact count never leaves the runner.
// Without Private it passes the exact counts (a non-private reference).
type pairNoiseFn struct {
	Config noiseConfig

	counter *dp.Counter
}

func (f *pairNoiseFn) Setup(ctx context.Context) error {
	if !f.Config.Private {
		return nil
	}
	cat, err := loadCatalog(ctx, f.Config.Catalog)
	if err != nil {
		return err
	}
	c := f.Config
	x, err := engine.NewRelease(cat, release.Options{
		Mechanisms: release.Mechanisms(c.Mechanisms), Epsilon: c.Epsilon, Delta: c.Delta,
		Noise: dp.Noise(c.Noise), K: c.K, ItemShare: c.ItemShare, HeadSize: c.HeadSize,
	}, false)
	if err != nil {
		return fmt.Errorf("pair noise: %w", err)
	}
	f.counter = x.Pairs()
	if f.counter == nil || f.counter.Sigma() != c.Sigma {
		return fmt.Errorf("pair noise: the worker's counter does not match the launcher's (want σ %v)", c.Sigma)
	}
	return nil
}

func (f *pairNoiseFn) ProcessElement(key, count int64) (string, error) {
	if f.counter != nil {
		var err error
		if count, err = f.counter.Noisy(count); err != nil {
			return "", err
		}
	}
	return formatCount(key, count), nil
}

// pairKey encodes the unordered pair of catalog indexes a and b as one
// partition key: the smaller index in the high 32 bits.
func pairKey(a, b uint32) int64 {
	if a > b {
		a, b = b, a
	}
	return int64(uint64(a)<<32 | uint64(b))
}

// splitPairKey decodes a pairKey.
func splitPairKey(k uint64) [2]uint32 { return [2]uint32{uint32(k >> 32), uint32(k)} }

// itemCount is one released item count.
type itemCount struct{ Item, Count int64 }

func toItemCount(item, count int64) itemCount { return itemCount{item, count} }

// vectorFn gathers the released item counts into one vector in catalog
// order.
type vectorFn struct{ N int }

func (f *vectorFn) CreateAccumulator() []int64 { return make([]int64, f.N) }

func (f *vectorFn) AddInput(acc []int64, c itemCount) []int64 {
	if c.Item >= 0 && c.Item < int64(len(acc)) {
		acc[c.Item] += c.Count
	}
	return acc
}

func (f *vectorFn) MergeAccumulators(a, b []int64) []int64 {
	for i := range min(len(a), len(b)) {
		a[i] += b[i]
	}
	return a
}

func (f *vectorFn) ExtractOutput(acc []int64) []int64 { return acc }

func formatCount(key, count int64) string { return fmt.Sprintf("%d\t%d", key, count) }

// sampleFn keeps the Max smallest distinct strings: examples of bad lines.
type sampleFn struct{ Max int }

func (f *sampleFn) CreateAccumulator() []string { return nil }

func (f *sampleFn) AddInput(acc []string, s string) []string {
	return f.MergeAccumulators(acc, []string{s})
}

func (f *sampleFn) MergeAccumulators(a, b []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(append(a, b...))))
	return out[:min(len(out), f.Max)]
}

func (f *sampleFn) ExtractOutput(acc []string) []string { return acc }

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

// maybeGunzip decompresses files whose name ends in .gz.
func maybeGunzip(name string, r io.Reader) (io.Reader, error) {
	if !strings.HasSuffix(strings.ToLower(name), ".gz") {
		return r, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return zr, nil
}

// readLines reads a text file from any Beam filesystem.
func readLines(ctx context.Context, path string) ([]string, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// firstLine returns the first line of the first file matching glob, and
// how many files match.
func firstLine(ctx context.Context, glob string) (string, int, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return "", 0, err
	}
	defer fs.Close()
	files, err := fs.List(ctx, glob)
	if err != nil {
		return "", 0, err
	}
	if len(files) == 0 {
		return "", 0, fmt.Errorf("%s: %w", glob, os.ErrNotExist)
	}
	slices.Sort(files)
	r, err := fs.OpenRead(ctx, files[0])
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	rd, err := maybeGunzip(files[0], r)
	if err != nil {
		return "", 0, err
	}
	line, err := bufio.NewReader(io.LimitReader(rd, events.MaxLineBytes)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", 0, fmt.Errorf("%s: %w", files[0], err)
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return "", 0, fmt.Errorf("%s: empty file", files[0])
	}
	return line, len(files), nil
}
